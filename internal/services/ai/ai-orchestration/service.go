// Package aiorchestration is the ai-orchestration service: on
// case.submitted it runs the AI pre-analysis of the case — every document
// through document-analysis, then the case's synthesis through
// ai-providers' router and privacy gate — as a durable job (kit/jobs), and
// publishes ai.analysis.completed, which sends the case to the pool. It is
// the plan's orphan-case manager too: a failed attempt is retried with
// backoff (the router fails over from provider to provider within each),
// a periodic sweep re-enqueues work whose job was lost, and after the last
// attempt the case is ORPHANED (case.orphaned) and waits in the admins'
// triage, from which it is retried or sent on without AI. Nothing runs
// without the patient's AI_PROCESSING consent; withdrawing it stops the
// pending work, and the case goes on without AI.
//
// The assigned professional (and admins) read the pre-analysis, each
// finding citing the words of the record it came from; the patient never
// does: AI output reaches them only through a professional's opinion.
//
// Read it top-down: module.go, http.go (the public API), events.go (what
// it consumes and publishes), work.go (an attempt, the sweep, triage),
// domain/ (the rules), store/ (the processings).
package aiorchestration

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	aiproviders "github.com/secondopinion/platform/internal/clients/ai-providers"
	caseassignment "github.com/secondopinion/platform/internal/clients/case-assignment"
	documentanalysis "github.com/secondopinion/platform/internal/clients/document-analysis"
	medicalrecords "github.com/secondopinion/platform/internal/clients/medical-records"
	patientconsent "github.com/secondopinion/platform/internal/clients/patient-consent"
	patientidentity "github.com/secondopinion/platform/internal/clients/patient-identity"
	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/jobs"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/telemetry"
	"github.com/secondopinion/platform/internal/services/ai/ai-orchestration/domain"
	"github.com/secondopinion/platform/internal/services/ai/ai-orchestration/store"
)

// Config is what the service is configured with.
type Config struct {
	MaxAttempts    int           `env:"AI_MAX_ATTEMPTS" default:"5" doc:"attempts at a case's pre-analysis before it is orphaned into the admins' triage"`
	Backoff        time.Duration `env:"AI_RETRY_BACKOFF" default:"30s" doc:"the wait after a failed attempt, doubled for each further one"`
	MaxBackoff     time.Duration `env:"AI_RETRY_MAX_BACKOFF" default:"10m" doc:"the longest wait between two attempts"`
	AttemptTimeout time.Duration `env:"AI_ATTEMPT_TIMEOUT" default:"15m" doc:"how long one attempt (every document, OCR included, and the synthesis) may run"`
	StuckAfter     time.Duration `env:"AI_STUCK_AFTER" default:"5m" doc:"how long past its due time a processing may sit unmoved before the sweep enqueues it again"`
	SweepInterval  time.Duration `env:"AI_SWEEP_INTERVAL" default:"1m" doc:"how often the sweep looks for stuck processings"`
	JobPoll        time.Duration `env:"AI_JOB_POLL" default:"1s" doc:"how often idle workers look for new jobs (PostgreSQL; SQLite is notified within 50 ms)"`
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Policy is the attempts' policy the configuration describes.
func (c Config) Policy() domain.Policy {
	return domain.Policy{MaxAttempts: c.MaxAttempts, Backoff: c.Backoff, MaxBackoff: c.MaxBackoff, Lease: c.AttemptTimeout}
}

// Validate checks the figures.
func (c *Config) Validate() error {
	if err := c.Policy().Validate(); err != nil {
		return config.Errorf("AI_MAX_ATTEMPTS, AI_RETRY_BACKOFF, AI_RETRY_MAX_BACKOFF, AI_ATTEMPT_TIMEOUT", "%v", err)
	}
	if c.StuckAfter <= 0 || c.SweepInterval <= 0 || c.JobPoll <= 0 {
		return config.Errorf("AI_STUCK_AFTER, AI_SWEEP_INTERVAL, AI_JOB_POLL", "must be positive")
	}
	return nil
}

// Service is a running ai-orchestration target.
type Service struct {
	*service.Base
	cfg         Config
	store       *store.Store
	jobs        *jobs.Client
	records     *medicalrecords.Client
	analyses    *documentanalysis.Client
	providers   *aiproviders.Client
	consents    *patientconsent.Client
	patients    *patientidentity.Client
	assignments *caseassignment.Client
	metrics     *telemetry.Metrics // nil in tests that do not measure
}

// Migrate creates or upgrades the processings, the jobs' tables, the
// outbox and the inbox.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the service over a migrated store.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, store: store.New(deps.DB), metrics: deps.Metrics}
	var err error
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(s)); err != nil {
		return nil, err
	}
	if err := s.peers(); err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	jobs.Register(workers, s.work)
	s.jobs, err = jobs.New(context.Background(), deps.DB, jobs.Options{
		Workers: workers,
		// An attempt's own deadline is its lease; river's timeout is a
		// little longer, so the attempt records its failure itself.
		JobTimeout:           cfg.AttemptTimeout + time.Minute,
		RescueStuckJobsAfter: cfg.AttemptTimeout + 2*time.Minute,
		// An interrupted attempt is given back uncounted and run again at
		// the next start, so a stop need not wait for a slow provider.
		SoftStopTimeout:   time.Second,
		FetchPollInterval: cfg.JobPoll,
		FetchCooldown:     min(cfg.JobPoll, 100*time.Millisecond),
		Logger:            s.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	// The sweep runs on every replica, not as a periodic job of river's
	// leader: a leader killed holds its leadership for seconds, and the
	// sweep is what recovers from such a crash. Replicas sweeping together
	// requeue a processing once: each locks it first.
	s.Go(s.sweeps)
	s.Go(func(ctx context.Context) {
		_ = s.jobs.Run(ctx)
		if err := s.jobs.Close(); err != nil {
			s.Log.Error("close the jobs' handle", "err", err)
		}
	})
	s.routes(s.API)
	return s, nil
}

// peers reaches the services the pre-analysis needs, and makes each a
// readiness check: without any of them no case can be analysed.
func (s *Service) peers() error {
	for _, target := range requires {
		peer, err := s.Peer(target)
		if err != nil {
			return err
		}
		var ready func(context.Context) error
		switch target {
		case medicalrecords.Target:
			s.records = medicalrecords.New(peer)
			ready = s.records.Ready
		case documentanalysis.Target:
			s.analyses = documentanalysis.New(peer)
			ready = s.analyses.Ready
		case aiproviders.Target:
			s.providers = aiproviders.New(peer)
			ready = s.providers.Ready
		case patientconsent.Target:
			s.consents = patientconsent.New(peer)
			ready = s.consents.Ready
		case patientidentity.Target:
			s.patients = patientidentity.New(peer)
			ready = s.patients.Ready
		case caseassignment.Target:
			s.assignments = caseassignment.New(peer)
			ready = s.assignments.Ready
		default:
			return fmt.Errorf("%s: no client for required target %s", Name, target)
		}
		s.Check(target, ready)
	}
	return nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }
