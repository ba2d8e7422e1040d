// Package audit is the audit target: the tamper-evident trail of every
// access to and change of health data. It consumes every event on the bus —
// audit.recorded events that services queue for each read of health data
// (package kit/audit), and every domain event as the change it records —
// and appends each exactly once to a SHA-256 hash chain (package store).
// Admins list and verify the trail; a patient reads who reached their data.
package audit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/platform/audit/store"
)

// Name is the target's name, and its consumer group on the bus.
const Name = "audit"

// Config is the audit service's configuration; it has no settings yet.
type Config struct{}

// Report is the outcome of Verify.
type Report = store.Report

// Migrate creates or upgrades the outbox, inbox and audit tables of db.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := outbox.Migrate(ctx, db); err != nil {
		return err
	}
	return store.Migrate(ctx, db)
}

// Verify recomputes the audit chain in db (the audit service's store) and
// names the first broken entry; `secondopinion audit verify` calls it.
func Verify(ctx context.Context, db *sqldb.DB) (Report, error) {
	return store.Verify(ctx, db)
}

// Service is a running audit target.
type Service struct {
	db       *sqldb.DB
	store    *store.Store
	bus      bus.Transport
	log      *slog.Logger
	relay    *outbox.Relay
	consumer *outbox.Consumer
	mux      *http.ServeMux
	api      huma.API
}

var _ service.Service = (*Service)(nil)

// New builds the service over its migrated store and the bus.
func New(_ Config, deps service.Deps) (*Service, error) {
	if deps.DB == nil || deps.Bus == nil {
		return nil, errors.New("audit: a store and a bus are required")
	}
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	s := &Service{
		db:    deps.DB,
		store: store.New(deps.DB),
		bus:   deps.Bus,
		log:   log,
		relay: outbox.NewRelay(deps.DB, deps.Bus, outbox.RelayOptions{Logger: log}),
		mux:   http.NewServeMux(),
	}
	s.consumer = outbox.NewConsumer(deps.DB, Name, s.handlers(), outbox.ConsumerOptions{Logger: log, Fallback: s.recordChange})
	s.api = httpapi.NewAPI(s.mux, Name, "1.0.0")
	s.routes()
	return s, nil
}

// Handler serves the audit REST API.
func (s *Service) Handler() http.Handler { return s.mux }

// OpenAPI describes the REST API.
func (s *Service) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// Checks is empty: the service needs no peer beyond its store and the bus.
func (s *Service) Checks() map[string]httpapi.Check { return map[string]httpapi.Check{} }

// Run consumes the bus as group "audit", retries failed events and relays
// the service's own outbox until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	return outbox.Serve(ctx, s.bus, Name, s.relay, s.consumer)
}
