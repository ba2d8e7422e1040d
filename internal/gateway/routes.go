package gateway

// Route sends one method and ServeMux path pattern to a target. Patterns
// use the OpenAPI path syntax ({id}), which the standard mux shares, so
// the table compares directly with the services' specs.
type Route struct {
	Method  string
	Pattern string
	Target  string
}

const (
	patientIdentity = "patient-identity"
	caseManagement  = "case-management"
	auditTrail      = "audit"
)

// Routes is the public routing table: every route the platform serves
// through the gateway, grouped by the target that owns it. A request that
// matches none of them goes to the legacy monolith (strangler fig) when
// one is configured. Keep it explicit: a route is added here on purpose,
// reviewed, when a service takes it over.
var Routes = []Route{
	{"POST", "/api/v1/patients", patientIdentity},
	{"GET", "/api/v1/patients/{id}", patientIdentity},
	{"PATCH", "/api/v1/patients/{id}", patientIdentity},

	{"POST", "/api/v1/cases", caseManagement},
	{"GET", "/api/v1/cases", caseManagement},
	{"GET", "/api/v1/cases/{id}", caseManagement},
	{"GET", "/api/v1/cases/{caseNumber}/status", caseManagement},
	{"POST", "/api/v1/cases/{id}/submit", caseManagement},
	{"POST", "/api/v1/cases/{id}/cancel", caseManagement},

	{"GET", "/api/v1/audit", auditTrail},
	{"GET", "/api/v1/audit/verify", auditTrail},
	{"GET", "/api/v1/patients/{id}/access-log", auditTrail},
}
