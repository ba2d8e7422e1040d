// Package reporting is the reporting target: the platform's KPIs for
// admins — cases by status, the time from submission to claim, to opinion
// and to completion (p50, p90), deadline breaches and escalations, AI
// requests, tokens and cost per case, revenue and refunds per currency, and
// opinions per professional — for a window of up to a year, per specialty
// and per day or month, as JSON, as CSV, and as Prometheus gauges.
//
// It keeps facts, not totals: one row per case, assignment, escalation,
// AI request, opinion, payment and refund, written idempotently from the
// events it consumes (store), and it computes the KPIs from the facts of
// the window when asked (domain). Every event it handles is kept in its
// journal, so Rebuild can empty the facts and replay the history into
// them with the same handlers and get the same answers. It holds no
// patient id; an erased case's facts stay, so the figures do not change,
// filed under a pseudonym in the facts and in the journal.
//
// Read it top-down: module.go (what the binary knows of it), http.go (the
// admins' API and the CSV reports), events.go (how events become facts,
// and erasure), metrics.go (the gauges), domain/ (windows, periods,
// percentiles, the KPIs), store/ (the facts).
package reporting

import (
	"context"
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/platform/reporting/domain"
	"github.com/secondopinion/platform/internal/services/platform/reporting/store"
)

// Config is what the service is configured with.
type Config struct {
	MetricsWindow time.Duration `env:"REPORTING_METRICS_WINDOW" default:"720h" doc:"the trailing window the reporting_* gauges of /metrics cover (at most 366 days)"`
	// Now is the clock of the default windows and the gauges; nil is
	// time.Now.
	Now func() time.Time
}

// Validate bounds the gauges' window as a report's is bounded.
func (c *Config) Validate() error {
	if c.MetricsWindow <= 0 || c.MetricsWindow > domain.MaxSpan {
		return config.Errorf("REPORTING_METRICS_WINDOW", "must be more than 0 and at most %s", domain.MaxSpan)
	}
	return nil
}

// Service is a running reporting target.
type Service struct {
	*service.Base
	cfg   Config
	store *store.Store
}

// Migrate creates or upgrades the facts, the outbox, the inbox and the
// journal.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the service over a migrated store: it consumes events into
// the facts, journaling each, serves the admins' API and, given metrics,
// exports the gauges.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, store: store.New(deps.DB)}
	var err error
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(&projection{store: s.store}).Journaled()); err != nil {
		return nil, err
	}
	s.routes(s.API)
	if deps.Metrics != nil {
		if err := deps.Metrics.Registry.Register(&gauges{s: s}); err != nil {
			return nil, fmt.Errorf("%s: register gauges: %w", Name, err)
		}
	}
	return s, nil
}

// Rebuild empties the facts in db (reporting's migrated store) and replays
// the journal into them through the live consumer's handlers, reporting
// progress. The live service may run meanwhile: the facts are
// idempotent, so an event both apply is counted once, and the figures are
// whole again when it returns.
func Rebuild(ctx context.Context, db *sqldb.DB, progress func(done, total int64)) error {
	st := store.New(db)
	if err := st.Reset(ctx); err != nil {
		return fmt.Errorf("%s rebuild: %w", Name, err)
	}
	return outbox.ReplayJournal(ctx, db, subscriptions.Bind(&projection{store: st}), progress)
}

// Rebuild rebuilds the service's own facts (see the function Rebuild), for
// `secondopinion reporting rebuild` through the app's Rebuilder.
func (s *Service) Rebuild(ctx context.Context, progress func(done, total int64)) error {
	return Rebuild(ctx, s.DB, progress)
}
