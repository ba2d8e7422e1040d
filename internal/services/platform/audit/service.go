// Package audit is the audit target: the tamper-evident trail of every
// access to and change of health data. It consumes every event on the bus —
// audit.recorded events that services queue for each read of health data
// (package kit/audit), and every domain event as the change it records —
// and appends each exactly once to a SHA-256 hash chain (package store).
// Admins list and verify the trail; a patient reads who reached their data.
//
// A patient's rights reach the trail too. Their export (GDPR Art. 20)
// includes their access log, served to patient-identity over the internal
// PatientDataService. Their erasure (Art. 17, patient.erased) keeps the
// entries, which the trail owes, but replaces the patient in them by a
// pseudonym — the digest of their id, and of the address and user agent
// they acted from — in a way that keeps the chain verifying.
//
// Read it top-down: module.go (what the binary knows of it), events.go
// (what it consumes and how each event becomes an entry), http.go (the
// public API), rpc.go (the export), store/ (the chain, its verification
// and erasure).
package audit

import (
	"context"

	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/platform/audit/store"
)

// Config is the audit service's configuration; it has no settings yet.
type Config struct{}

// Service is a running audit target.
type Service struct {
	*service.Base
	store *store.Store
}

// Migrate creates or upgrades the service's tables, its outbox and inbox.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the service over its migrated store and the bus, serving
// the public API and the internal PatientDataService.
func New(_ Config, deps service.Deps) (*Service, error) {
	s := &Service{store: store.New(deps.DB)}
	var err error
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(s)); err != nil {
		return nil, err
	}
	s.routes(s.API)
	path, h := patientv1connect.NewPatientDataServiceHandler(&dataServer{s: s}, rpc.Guard(rpcCallers))
	s.ServeRPC(patientv1connect.PatientDataServiceName, path, h)
	return s, nil
}

// Verify recomputes the audit chain in db (the audit service's store) and
// names the first broken entry; `secondopinion audit verify` calls it.
func Verify(ctx context.Context, db *sqldb.DB) (AuditVerification, error) {
	r, err := store.Verify(ctx, db)
	return AuditVerification(r), err
}
