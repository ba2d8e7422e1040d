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
	authService     = "auth"
)

// Routes is the public routing table: every route the platform serves
// through the gateway, grouped by the target that owns it. A request that
// matches none of them goes to the legacy monolith (strangler fig) when
// one is configured and the path is under /api/; other paths are served
// only when listed here (the JWKS document at its well-known place). Keep it explicit: a route is added here on purpose,
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

	{"POST", "/api/v1/auth/login", authService},
	{"POST", "/api/v1/auth/2fa/verify", authService},
	{"POST", "/api/v1/auth/refresh", authService},
	{"POST", "/api/v1/auth/logout", authService},
	{"POST", "/api/v1/auth/password-reset", authService},
	{"POST", "/api/v1/auth/password-reset/confirm", authService},
	{"POST", "/api/v1/auth/2fa/totp", authService},
	{"POST", "/api/v1/auth/2fa/totp/confirm", authService},
	{"POST", "/api/v1/professionals/auth", authService},
	{"GET", "/.well-known/jwks.json", authService},
}
