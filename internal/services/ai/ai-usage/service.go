// Package aiusage is the ai-usage service, the plan's billing tracker: it
// keeps a ledger of every request to an AI provider (provider, model,
// tokens, latency, case) priced from a table per model, totals it per
// case, provider and month for admins, publishes the price of each request
// (ai.request.priced, of which reporting makes the AI cost per case), and
// publishes ai.budget.exceeded when a monthly budget is spent, on which the
// router falls back to the local provider.
//
// Read it top-down: module.go (what the binary knows of it), http.go (the
// admins' API), events.go (what it consumes and publishes), domain/ (cost
// and budgets), store/ (the ledger).
package aiusage

import (
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/ai/ai-usage/domain"
	"github.com/secondopinion/platform/internal/services/ai/ai-usage/store"
)

// Config is what the service is configured with.
type Config struct {
	Prices  string `env:"AI_PRICES" default:"openai/gpt-4o-mini=0.15:0.60,openai/gpt-4o=2.50:10,anthropic/*=3:15" doc:"US dollars per million input:output tokens, by provider/model (provider/* for any model of it)"`
	Budgets string `env:"AI_BUDGETS" doc:"monthly budgets in US dollars, by scope: total and/or a provider, e.g. total=500,openai=300; none by default"`
	// Now is the clock of the alerts; nil is time.Now.
	Now func() time.Time

	prices  domain.Prices
	budgets domain.Budgets
}

// Validate reads the price table and the budgets.
func (c *Config) Validate() error {
	var err error
	if c.prices, err = domain.ParsePrices(c.Prices); err != nil {
		return config.Errorf("AI_PRICES", "%v", err)
	}
	if c.budgets, err = domain.ParseBudgets(c.Budgets); err != nil {
		return config.Errorf("AI_BUDGETS", "%v", err)
	}
	return nil
}

// Service is a running ai-usage target.
type Service struct {
	*service.Base
	cfg   Config
	store *store.Store
}

// Migrate creates or upgrades the ledger, its outbox and inbox.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the service over a migrated store.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, store: store.New(deps.DB)}
	var err error
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(s)); err != nil {
		return nil, err
	}
	s.routes(s.API)
	return s, nil
}
