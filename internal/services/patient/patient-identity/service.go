// Package patientidentity is the patient-identity service: it registers
// patients (the plan's Customer) together with their login in the auth
// service, keeps their profiles, serves them over public REST and the
// internal PatientService gRPC API, and publishes patient.registered and
// patient.updated. Passwords never rest here: auth owns them. It serves
// the patient's rights over their data: the export, gathered from every
// service that holds part of it, and the erasure, which it starts by
// deleting the profile and publishing patient.erased.
//
// Read it top-down: module.go (what the binary knows of it), http.go (the
// public API), app.go (the application rules over patient.go and store/),
// rights.go (the export and the erasure), patient.go (the rules of a
// profile), events.go (what it publishes), rpc.go (PatientService).
package patientidentity

import (
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/clients/auth"
	casemanagement "github.com/secondopinion/platform/internal/clients/case-management"
	"github.com/secondopinion/platform/internal/clients/patientdata"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/patient/patient-identity/store"
)

// Config is what the service is configured with: nothing yet, so that
// every target is built alike.
type Config struct{}

// Service is a running patient-identity target.
type Service struct {
	*service.Base
	store  *store.Store
	logins *auth.Client
	// cases names a patient's cases for the export; holders are the
	// services whose parts it gathers, in the bundle's order.
	cases   *casemanagement.Client
	holders []*patientdata.Client
}

// Migrate creates or upgrades the service's tables, its outbox and inbox.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the service over a migrated store.
func New(_ Config, deps service.Deps) (*Service, error) {
	s := &Service{store: store.New(deps.DB)}
	var err error
	if s.Base, err = service.NewBase(Name, deps, outbox.Handlers{}); err != nil {
		return nil, err
	}
	peer, err := s.Peer(auth.Target)
	if err != nil {
		return nil, err
	}
	s.logins = auth.New(peer, s.Log)
	if peer, err = s.Peer(casemanagement.Target); err != nil {
		return nil, err
	}
	s.cases = casemanagement.New(peer)
	for _, target := range holders {
		peer, err := s.Peer(target)
		if err != nil {
			return nil, err
		}
		s.holders = append(s.holders, patientdata.New(target, peer))
	}
	// Nobody can register without auth.
	s.Check(auth.Target, s.logins.Ready)
	s.routes(s.API)
	path, h := patientv1connect.NewPatientServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers))
	s.ServeRPC(patientv1connect.PatientServiceName, path, h)
	return s, nil
}
