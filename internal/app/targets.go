package app

import (
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/patient/cases"
	"github.com/secondopinion/platform/internal/services/patient/identity"
	"github.com/secondopinion/platform/internal/services/platform/audit"
	"github.com/secondopinion/platform/internal/services/platform/auth"
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
	cfg := auth.Config{BcryptCost: a.opts.BcryptCost, SigningKeys: a.cfg.JWTSigningKeys, ServiceSecrets: a.cfg.ServiceSecrets}
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
