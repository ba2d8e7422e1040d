// Package audit is the audit target: the tamper-evident trail of every
// access to and change of health data. It consumes every event on the bus —
// audit.recorded events that services queue for each read of health data
// (package kit/audit), and every domain event as the change it records —
// and appends each exactly once to a SHA-256 hash chain (package store).
// Admins list and verify the trail; a patient reads who reached their data.
//
// Read it top-down: module.go (what the binary knows of it), events.go
// (what it consumes and how each event becomes an entry), http.go (the
// public API), store/ (the chain and its verification).
package audit

import (
	"context"

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

// New builds the service over its migrated store and the bus.
func New(_ Config, deps service.Deps) (*Service, error) {
	s := &Service{store: store.New(deps.DB)}
	var err error
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(s)); err != nil {
		return nil, err
	}
	s.routes(s.API)
	return s, nil
}

// Verify recomputes the audit chain in db (the audit service's store) and
// names the first broken entry; `secondopinion audit verify` calls it.
func Verify(ctx context.Context, db *sqldb.DB) (AuditVerification, error) {
	r, err := store.Verify(ctx, db)
	return AuditVerification(r), err
}
