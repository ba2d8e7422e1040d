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
	professionals   = "professional-identity"
	credentials     = "credentialing"
	assignments     = "case-assignment"
	opinions        = "medical-opinion"
)

// Routes is the public routing table: every route the platform serves
// through the gateway, grouped by the target that owns it. A request that
// matches none of them goes to the legacy monolith (strangler fig) when
// one is configured and the path is under /api/; other paths are served
// only when listed here (the JWKS document at its well-known place). Keep it explicit: a route is added here on purpose,
// reviewed, when a service takes it over.
var Routes = []Route{
	{"POST", "/api/v1/patients", patientIdentity},
	{"GET", "/api/v1/patients/me", patientIdentity},
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
	{"POST", "/api/v1/auth/2fa/method", authService},
	{"POST", "/api/v1/auth/2fa/recovery-codes", authService},
	{"POST", "/api/v1/professionals/auth", authService},
	{"GET", "/.well-known/jwks.json", authService},

	{"POST", "/api/v1/professionals", professionals},
	{"GET", "/api/v1/professionals/{id}", professionals},
	{"PATCH", "/api/v1/professionals/{id}", professionals},

	{"POST", "/api/v1/professionals/{id}/credentials", credentials},
	{"GET", "/api/v1/professionals/{id}/credentials", credentials},
	{"POST", "/api/v1/credentials/{id}/verify", credentials},
	{"POST", "/api/v1/credentials/{id}/reject", credentials},
	{"POST", "/api/v1/professionals/{id}/level", credentials},
	{"GET", "/api/v1/professionals/{id}/standing", credentials},

	{"GET", "/api/v1/assignments", assignments},
	{"GET", "/api/v1/assignments/available/{professionalId}", assignments},
	{"POST", "/api/v1/assignments/claim/{caseId}", assignments},
	{"POST", "/api/v1/assignments/release/{assignmentId}", assignments},

	{"PUT", "/api/v1/cases/{id}/opinion", opinions},
	{"GET", "/api/v1/cases/{id}/opinion", opinions},
	{"POST", "/api/v1/cases/{id}/opinion/submit", opinions},
	{"POST", "/api/v1/cases/{id}/opinion/questions", opinions},
	{"GET", "/api/v1/opinions/awaiting-review", opinions},
	{"GET", "/api/v1/opinions/{id}", opinions},
	{"POST", "/api/v1/opinions/{id}/review", opinions},
	{"GET", "/api/v1/opinions/{id}/report", opinions},
	{"POST", "/api/v1/opinions/{id}/questions/{questionId}/answer", opinions},
}
