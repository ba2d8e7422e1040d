package app

import (
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/patient/cases"
	"github.com/secondopinion/platform/internal/services/patient/identity"
	"github.com/secondopinion/platform/internal/services/platform/audit"
)

// The builders of the implemented services: what each is configured with.

func newIdentity(o Options, deps service.Deps) (service.Service, error) {
	s, err := identity.New(identity.Config{BcryptCost: o.BcryptCost}, deps)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newCases runs cases without payment or AI steps: neither service exists
// yet, so a submitted case goes straight to the pool.
func newCases(_ Options, deps service.Deps) (service.Service, error) {
	s, err := cases.New(cases.Config{}, deps)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newAudit runs the audit trail: it consumes every event on the bus.
func newAudit(_ Options, deps service.Deps) (service.Service, error) {
	s, err := audit.New(audit.Config{}, deps)
	if err != nil {
		return nil, err
	}
	return s, nil
}
