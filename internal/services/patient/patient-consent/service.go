// Package patientconsent is the patient-consent service: patients grant
// and withdraw their consent per purpose (AI_PROCESSING,
// SHARE_WITH_PROFESSIONALS, RESEARCH), each grant naming the version of
// the consent text in force; every change is kept, append-only, with its
// time and the client's address. It publishes consent.granted and
// consent.withdrawn and answers the internal ConsentService, through which
// other services learn whether a consent is in force.
//
// A patient's consents leave with their export (GDPR Art. 20): over the
// internal PatientDataService, patient-identity receives consents.json,
// their consents and the whole history. On patient.erased (Art. 17) the
// history is deleted, and the patient is remembered as erased (their id
// only) so that a change still under way is refused, not kept.
//
// Read it top-down: module.go (what the binary knows of it), http.go (the
// public API), app.go (the application rules over domain/ and store/),
// events.go (what it publishes and consumes), erasure.go (a patient's
// erasure), export.go (their export), rpc.go (ConsentService and
// PatientDataService).
package patientconsent

import (
	"fmt"
	"time"

	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/store"
)

// Config is what the service is configured with: no settings, the
// consent texts are part of the release (domain/texts.go).
type Config struct {
	// Now is the clock of changes; nil is time.Now.
	Now func() time.Time
}

// Service is a running patient-consent target. It needs no peer.
type Service struct {
	*service.Base
	now   func() time.Time
	store *store.Store
}

// Migrate creates or upgrades the service's tables, its outbox, its inbox
// and the table of its Idempotency-Key records.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the service over a migrated store.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{now: cfg.Now, store: store.New(deps.DB)}
	var err error
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(s)); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	s.routes(s.API)
	path, h := patientv1connect.NewConsentServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers))
	s.ServeRPC(patientv1connect.ConsentServiceName, path, h)
	path, h = patientv1connect.NewPatientDataServiceHandler(&dataServer{s: s}, rpc.Guard(rpcCallers))
	s.ServeRPC(patientv1connect.PatientDataServiceName, path, h)
	return s, nil
}
