// Package assignment is the case-assignment service: the pool of cases
// waiting for a professional, matching (standing, specialty, level,
// language, an early-access window), the race-free claim ("you snooze,
// you lose": the database picks exactly one winner), deadlines with their
// expiry back into the pool, voluntary release and the escalation of cases
// nobody claims. It keeps its own projections of professionals and pool
// entries from the events of professional-identity, credentialing,
// case-management and medical-opinion, so a claim needs no peer. It
// tells medical-opinion who holds a case over the internal
// AssignmentService gRPC API.
package caseassignment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/grpchealth"
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/domain"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/store"
)

// Name is the service's target name.
const Name = "case-assignment"

// Rules are the pool's configurable rules (required levels, deadlines,
// early access, escalation age).
type Rules = domain.Rules

// ParseRequiredLevels reads ASSIGNMENT_REQUIRED_LEVELS (see domain.ParseRequiredLevels).
var ParseRequiredLevels = domain.ParseRequiredLevels

// Config is what the service is configured with. Zero values take the
// defaults.
type Config struct {
	// Rules' zero value: STANDARD needs JUNIOR and has 72 h, URGENT needs
	// SENIOR and has 24 h, no early access, escalation after 24 h.
	Rules Rules
	// Interval is how often the scheduler expires overdue assignments and
	// escalates waiting cases; default 30 s.
	Interval time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// defaultInterval is the scheduler's default period: deadlines are hours,
// so half a minute late is nothing, and the sweep is two indexed queries.
const defaultInterval = 30 * time.Second

// Service is a running case-assignment target.
type Service struct {
	cfg      Config
	log      *slog.Logger
	db       *sqldb.DB
	store    *store.Store
	bus      bus.Transport
	relay    *outbox.Relay
	consumer *outbox.Consumer
	mux      *http.ServeMux
	api      huma.API
}

// Migrate creates or upgrades the service's tables and its outbox.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := outbox.Migrate(ctx, db); err != nil {
		return err
	}
	return store.Migrate(ctx, db)
}

// New builds the service over a migrated store.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if deps.DB == nil || deps.Bus == nil {
		return nil, errors.New(Name + ": needs a store and a bus")
	}
	rules, err := cfg.Rules.WithDefaults()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	cfg.Rules = rules
	if cfg.Interval <= 0 {
		cfg.Interval = defaultInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	s := &Service{
		cfg:   cfg,
		log:   log.With("service", Name),
		db:    deps.DB,
		store: store.New(deps.DB),
		bus:   deps.Bus,
		relay: outbox.NewRelay(deps.DB, deps.Bus, outbox.RelayOptions{Logger: log}),
		mux:   http.NewServeMux(),
	}
	s.consumer = outbox.NewConsumer(deps.DB, Name, s.handlers(), outbox.ConsumerOptions{Logger: log})
	s.api = httpapi.NewAPI(s.mux, Name, "1.0.0")
	s.routes()
	s.mux.Handle(professionalv1connect.NewAssignmentServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers)))
	s.mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(professionalv1connect.AssignmentServiceName)))
	return s, nil
}

// Handler serves the public REST API and the AssignmentService gRPC API.
func (s *Service) Handler() http.Handler { return s.mux }

// OpenAPI describes the public REST API.
func (s *Service) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// Checks is empty: the service answers from its own store and
// projections, so no peer is required.
func (s *Service) Checks() map[string]httpapi.Check { return nil }

// Run relays the outbox, consumes events and runs the scheduler until ctx
// ends; the relay flushes the outbox on its way out.
func (s *Service) Run(ctx context.Context) error {
	return outbox.Serve(ctx, s.bus, Name, s.relay, s.consumer, s.schedule)
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }
