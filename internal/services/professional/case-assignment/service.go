// Package caseassignment is the case-assignment service: the pool of cases
// waiting for a professional, matching (standing, specialty, level,
// language, an early-access window), the race-free claim ("you snooze, you
// lose": the database picks exactly one winner), deadlines with their
// reminders and their expiry back into the pool, voluntary release and the
// escalation of cases nobody claims. Each time a case becomes claimable it
// tells who matches it (assignment.case_offered). A case enters the pool
// only while its patient's consent to share it with professionals is in
// force; until then it is held. It keeps its own projections of
// professionals, patients' consents and pool entries from the events of
// professional-identity, credentialing, patient-consent, case-management
// and medical-opinion, so a claim needs no peer. It tells medical-opinion
// who holds a case over the internal AssignmentService gRPC API. When a
// patient is erased (patient.erased, case.erased), their consent and their
// cases leave the pool for good; the assignments stay as the professionals'
// record of their work, with ids and times only. It serves no part of a
// patient's export: it holds de-identified copies of cases and the
// professionals' own work.
//
// Read it top-down: module.go (what the binary knows of it), service.go
// (its settings), http.go (the public API), app.go (claims, releases and
// lists over domain/ and store/), events.go (what it publishes and
// consumes), scheduler.go (expiry, reminders and escalation), rpc.go
// (AssignmentService).
package caseassignment

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/domain"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/store"
)

// Config is what the service is configured with: the pool's rules and the
// scheduler's period. A setting left zero in a Config built in code (as
// tests and benchmarks do) takes the same default as its variable's.
type Config struct {
	DeadlineStandard time.Duration  `env:"ASSIGNMENT_DEADLINE_STANDARD" default:"72h" doc:"how long a STANDARD case's professional has to submit the opinion"`
	DeadlineUrgent   time.Duration  `env:"ASSIGNMENT_DEADLINE_URGENT" default:"24h" doc:"how long an URGENT case's professional has to submit the opinion"`
	RequiredLevels   RequiredLevels `env:"ASSIGNMENT_REQUIRED_LEVELS" default:"STANDARD=JUNIOR,URGENT=SENIOR" doc:"minimum level per urgency or SPECIALTY/URGENCY, e.g. URGENT=SENIOR,CARDIOLOGY/URGENT=EXPERT"`
	EarlyAccess      time.Duration  `env:"ASSIGNMENT_EARLY_ACCESS" default:"0" doc:"how long EXPERT and DISTINGUISHED professionals alone see a new case; 0 is off"`
	EscalateAfter    time.Duration  `env:"ASSIGNMENT_ESCALATE_AFTER" default:"24h" doc:"how long a case may wait unclaimed before assignment.escalated alerts admins"`
	Interval         time.Duration  `env:"ASSIGNMENT_SWEEP_INTERVAL" default:"30s" doc:"how often overdue assignments expire, approaching deadlines are told and waiting cases escalate"`
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Validate checks what the variables' types do not: every duration but
// the early-access window is positive.
func (c *Config) Validate() error {
	var errs []error
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"ASSIGNMENT_DEADLINE_STANDARD", c.DeadlineStandard},
		{"ASSIGNMENT_DEADLINE_URGENT", c.DeadlineUrgent},
		{"ASSIGNMENT_ESCALATE_AFTER", c.EscalateAfter},
		{"ASSIGNMENT_SWEEP_INTERVAL", c.Interval},
	} {
		if d.value <= 0 {
			errs = append(errs, config.Errorf(d.name, "must be a positive duration such as 72h, got %s", d.value))
		}
	}
	return errors.Join(errs...)
}

// rules are the pool's rules the settings give, the domain's defaults
// standing in for zero settings.
func (c Config) rules() (domain.Rules, error) {
	deadlines := map[vocab.Urgency]time.Duration{}
	for u, d := range map[vocab.Urgency]time.Duration{vocab.Standard: c.DeadlineStandard, vocab.Urgent: c.DeadlineUrgent} {
		if d != 0 {
			deadlines[u] = d
		}
	}
	return domain.Rules{RequiredLevels: c.RequiredLevels, Deadlines: deadlines,
		EarlyAccess: c.EarlyAccess, EscalateAfter: c.EscalateAfter}.WithDefaults()
}

// RequiredLevels is ASSIGNMENT_REQUIRED_LEVELS: the minimum level per
// urgency, or per specialty and urgency, written
// "URGENT=SENIOR,CARDIOLOGY/URGENT=EXPERT" (see domain.ParseRequiredLevels).
type RequiredLevels map[domain.KeyFor]vocab.Level

// UnmarshalText reads and checks the rules, so a bad one is reported
// against its variable when the configuration is loaded.
func (r *RequiredLevels) UnmarshalText(b []byte) error {
	levels, err := domain.ParseRequiredLevels(string(b))
	if err != nil {
		return err
	}
	// WithDefaults checks the names of specialties, urgencies and levels.
	if _, err := (domain.Rules{RequiredLevels: levels}).WithDefaults(); err != nil {
		return err
	}
	*r = levels
	return nil
}

// String writes the rules back in their variable's form, sorted.
func (r RequiredLevels) String() string {
	var rules []string
	for k, l := range r {
		key := string(k.Urgency)
		if k.Specialty != "" {
			key = string(k.Specialty) + "/" + key
		}
		rules = append(rules, key+"="+string(l))
	}
	slices.Sort(rules)
	return strings.Join(rules, ",")
}

// defaultInterval is the scheduler's period when none is set: deadlines
// are hours, so half a minute late is nothing, and the sweep is two
// indexed queries.
const defaultInterval = 30 * time.Second

// Service is a running case-assignment target.
type Service struct {
	*service.Base
	cfg   Config
	rules domain.Rules
	store *store.Store
}

// Migrate creates or upgrades the service's tables, its outbox and inbox.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the service over a migrated store.
func New(cfg Config, deps service.Deps) (*Service, error) {
	rules, err := cfg.rules()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	if cfg.Interval <= 0 {
		cfg.Interval = defaultInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, rules: rules}
	s.store = store.New(deps.DB).WithOffers(s.offered)
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(s)); err != nil {
		return nil, err
	}
	s.routes(s.API)
	path, h := professionalv1connect.NewAssignmentServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers))
	s.ServeRPC(professionalv1connect.AssignmentServiceName, path, h)
	s.Go(s.schedule)
	return s, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }
