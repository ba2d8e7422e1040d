package app

import (
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/kit/service"
	cases "github.com/secondopinion/platform/internal/services/patient/case-management"
	identity "github.com/secondopinion/platform/internal/services/patient/patient-identity"
	"github.com/secondopinion/platform/internal/services/platform/audit"
	"github.com/secondopinion/platform/internal/services/platform/auth"
	assignment "github.com/secondopinion/platform/internal/services/professional/case-assignment"
	"github.com/secondopinion/platform/internal/services/professional/credentialing"
	proidentity "github.com/secondopinion/platform/internal/services/professional/professional-identity"
	opinion "github.com/secondopinion/platform/internal/services/professional/medical-opinion"
)

// The builders of the implemented services: what each is configured with.

func newIdentity(_ *App, deps service.Deps) (service.Service, error) {
	s, err := identity.New(identity.Config{}, deps)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newCases runs cases without payment or AI steps: neither service exists
// yet, so a submitted case goes straight to the pool.
func newCases(_ *App, deps service.Deps) (service.Service, error) {
	s, err := cases.New(cases.Config{}, deps)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newAudit runs the audit trail: it consumes every event on the bus.
func newAudit(_ *App, deps service.Deps) (service.Service, error) {
	s, err := audit.New(audit.Config{}, deps)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newAuth runs logins and tokens. Its keyring is JWT_SIGNING_KEYS or a key
// file under DATA_DIR; sessions and throttling live in Redis when
// REDIS_URL is set. The app keeps it: its verifier checks every token.
func newAuth(a *App, deps service.Deps) (service.Service, error) {
	cfg := auth.Config{BcryptCost: a.opts.BcryptCost, SigningKeys: a.cfg.JWTSigningKeys, ServiceSecrets: a.cfg.ServiceSecrets, SecretKey: a.cfg.AuthSecretKey}
	if a.redis != nil {
		cfg.Redis = a.redis
	}
	s, err := auth.New(cfg, deps)
	if err != nil {
		return nil, err
	}
	a.auth = s
	return s, nil
}

// newProfessionals runs professional-identity: onboarding creates the
// login at auth, as patient registration does.
func newProfessionals(_ *App, deps service.Deps) (service.Service, error) {
	s, err := proidentity.New(proidentity.Config{}, deps)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newCredentialing runs licence review and the licence expiry check,
// every CREDENTIAL_CHECK_INTERVAL (default daily).
func newCredentialing(a *App, deps service.Deps) (service.Service, error) {
	s, err := credentialing.New(credentialing.Config{Interval: a.cfg.Durations["CREDENTIAL_CHECK_INTERVAL"]}, deps)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newAssignment runs the pool, the claims and the deadlines, with the
// rules of the ASSIGNMENT_* settings.
func newAssignment(a *App, deps service.Deps) (service.Service, error) {
	levels, err := assignment.ParseRequiredLevels(a.cfg.RequiredLevels)
	if err != nil {
		return nil, fmt.Errorf("ASSIGNMENT_REQUIRED_LEVELS: %w", err)
	}
	d := a.cfg.Durations
	deadlines := map[string]time.Duration{}
	for urgency, name := range map[string]string{"STANDARD": "ASSIGNMENT_DEADLINE_STANDARD", "URGENT": "ASSIGNMENT_DEADLINE_URGENT"} {
		if v, ok := d[name]; ok {
			deadlines[urgency] = v
		}
	}
	s, err := assignment.New(assignment.Config{
		Rules: assignment.Rules{RequiredLevels: levels, Deadlines: deadlines,
			EarlyAccess: d["ASSIGNMENT_EARLY_ACCESS"], EscalateAfter: d["ASSIGNMENT_ESCALATE_AFTER"]},
		Interval: d["ASSIGNMENT_SWEEP_INTERVAL"],
	}, deps)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newOpinion runs opinions, their review, reports and follow-ups.
func newOpinion(_ *App, deps service.Deps) (service.Service, error) {
	s, err := opinion.New(opinion.Config{}, deps)
	if err != nil {
		return nil, err
	}
	return s, nil
}
