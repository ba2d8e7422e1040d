// Package search is the search service: a full-text read model of cases,
// built from events, that each caller searches within what they may see
// (GET /api/v1/search/cases?q=).
//
// What it holds. One row per case (store: cases) of ids, codes and times
// from the events — number, patient id, specialty, urgency, language, age
// band, status, assignee, the patient's consent to share — and the case's
// title and question, which no event carries: a fetcher reads them once
// per case from case-management's CaseService (texts.go), which audits
// each read. No name of anyone is held, nor any text beyond those two.
//
// Who sees what (domain.Viewer.Access). An admin searches every case in
// full; a patient their own cases in full; a professional in full the
// cases assigned to them while they read them, and de-identified the
// cases waiting in the pool whose patient consents to share them: for
// those their query matches only the codes, and no title or snippet is
// answered. Other roles get 403. The store's SQL applies the rule, and
// the service checks every hit against domain.Access again before
// answering. Each hit answered in full is one audit entry
// ("case.search", naming the case and its patient): an entry per search
// could name only one patient, and the patients' own access logs list
// the entries that name them. De-identified hits are not recorded, as
// case-assignment's pool listing is not.
//
// Ranking and typos. PostgreSQL ranks with ts_rank over tsvectors (GIN)
// and forgives typos with pg_trgm's word_similarity; SQLite ranks with
// FTS5's bm25 and forgives only a slip at a word's end (store/search.go
// says what each engine does; it is the one place they differ). Snippets
// are HTML: the text escaped, the matches in <mark>.
//
// Rebuilding. The consumer journals every event it handles
// (outbox.Handlers.Journaled); Rebuild empties the index and replays the
// journal through the same handlers. Every projection is an upsert keyed
// by case that keeps the time of each piece of state, so an event applied
// twice, or late after a newer one, changes nothing: a rebuild may run
// beside the live consumer. Erasures (case.erased, patient.erased) remove
// the rows and the texts, forget the journal's events that name them, and
// keep the erased ids so that a late event does not index them again.
//
// Read it top-down: module.go, http.go (the route), app.go (the search:
// authorisation, audit), events.go (the projections and Rebuild),
// texts.go (the text fetcher), domain/ (the rules), store/ (the SQL).
package search

import (
	"fmt"
	"time"

	casemanagement "github.com/secondopinion/platform/internal/clients/case-management"
	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/platform/search/store"
)

// Config is what the service is configured with: the env-tagged fields
// are its settings, the others hooks for tests.
type Config struct {
	TextInterval time.Duration `env:"SEARCH_TEXT_INTERVAL" default:"2s" doc:"how often search looks for indexed cases whose text it has not fetched from case-management yet, 100ms to 1h; a new case also wakes it"`
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Validate checks what the fields' own forms do not.
func (c *Config) Validate() error {
	if c.TextInterval < 100*time.Millisecond || c.TextInterval > time.Hour {
		return config.Errorf("SEARCH_TEXT_INTERVAL", "must be 100ms to 1h, got %s", c.TextInterval)
	}
	return nil
}

// Service is a running search target.
type Service struct {
	*service.Base
	cfg   Config
	store *store.Store
	cases *casemanagement.Client // the texts of the cases indexed
	woken chan struct{}
}

// Migrate creates or upgrades the service's tables, its outbox, its inbox
// and its journal.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the service over a migrated store.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	s := &Service{cfg: cfg, store: store.New(deps.DB), woken: make(chan struct{}, 1)}
	p := &projector{store: s.store, wake: s.wake}
	var err error
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(p).Journaled()); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	p.log = s.Log
	cases, err := s.Peer(casemanagement.Target)
	if err != nil {
		return nil, err
	}
	s.cases = casemanagement.New(cases)
	// Search answers without case-management; only new texts wait for it.
	s.Go(s.fetchTexts)
	s.routes(s.API)
	return s, nil
}

// now is the clock, in UTC to the microsecond, as the store keeps times.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }
