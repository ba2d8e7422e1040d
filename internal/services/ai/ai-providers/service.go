// Package aiproviders is the ai-providers service: it serves a case's
// synthesis (ProviderService.Synthesize, for ai-orchestration) through
// the router of router/ — routing by case type and specialty, failover,
// a circuit breaker per provider — behind the privacy gate of domain/
// (nothing without the patient's AI_PROCESSING consent, which it asks
// patient-consent for, only allowed providers,
// identifiers removed before any external one). Every attempt is
// published as ai.request.completed or ai.request.failed for ai-usage;
// once ai.budget.exceeded says a monthly budget is spent, requests go to
// the local provider until the month ends. Admins read the providers'
// state at GET /api/v1/ai/providers.
//
// Read it top-down: module.go, service.go (configuration and wiring),
// rpc.go (Synthesize), http.go (the admins' view), events.go (what it
// publishes and consumes), then domain/, router/ and the adapters (local/,
// openai/, anthropic/).
package aiproviders

import (
	"fmt"
	"strings"
	"time"

	"github.com/secondopinion/platform/api/gen/ai/v1/aiv1connect"
	patientconsent "github.com/secondopinion/platform/internal/clients/patient-consent"
	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/anthropic"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/domain"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/local"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/openai"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/router"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/store"
)

// Config is what the service is configured with. An external provider is
// built only when its model is set, and receives data only when it is on
// AI_ALLOWED_PROVIDERS too.
type Config struct {
	Routes       string `env:"AI_ROUTES" doc:"chains by case type and specialty, e.g. ONCOLOGY=anthropic,local; SECOND_OPINION/*=openai,local"`
	DefaultChain string `env:"AI_DEFAULT_CHAIN" default:"local" doc:"the chain of a request no route matches"`
	Allowed      string `env:"AI_ALLOWED_PROVIDERS" doc:"external providers that may receive (de-identified) data: those under a data-processing agreement"`

	OpenAIURL   string `env:"OPENAI_BASE_URL" default:"https://api.openai.com/v1/" doc:"an OpenAI-compatible API root (OpenAI, Azure OpenAI, vLLM, Ollama)"`
	OpenAIKey   string `env:"OPENAI_API_KEY" secret:"true" doc:"the OpenAI-compatible API's key"`
	OpenAIModel string `env:"OPENAI_MODEL" doc:"the model; unset, no openai provider is built"`

	AnthropicURL   string `env:"ANTHROPIC_BASE_URL" default:"https://api.anthropic.com/" doc:"the Anthropic API root"`
	AnthropicKey   string `env:"ANTHROPIC_API_KEY" secret:"true" doc:"the Anthropic API key"`
	AnthropicModel string `env:"ANTHROPIC_MODEL" doc:"the model; unset, no anthropic provider is built"`

	// Now is the clock of the budgets' months; nil is time.Now.
	Now func() time.Time
}

// Service is a running ai-providers target.
type Service struct {
	*service.Base
	cfg      Config
	store    *store.Store
	consents *patientconsent.Client
	// router serves requests; local serves them while a budget is spent.
	router, local *router.Router
	// models names each provider's model, for the usage events.
	models map[string]string
}

// synthesisDeadline is how long a Synthesize call may take to answer:
// ai-orchestration's longest attempt (AI_ATTEMPT_TIMEOUT's default).
const synthesisDeadline = 15 * time.Minute

// Migrate creates or upgrades the service's tables, its outbox and inbox.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the providers and routers from cfg.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	providers := []domain.Provider{local.New()}
	if cfg.OpenAIModel != "" {
		p, err := openai.New(openai.Config{BaseURL: cfg.OpenAIURL, APIKey: cfg.OpenAIKey, Model: cfg.OpenAIModel})
		if err != nil {
			return nil, config.Errorf("OPENAI_MODEL", "%v", err)
		}
		providers = append(providers, p)
	}
	if cfg.AnthropicModel != "" {
		p, err := anthropic.New(anthropic.Config{BaseURL: cfg.AnthropicURL, APIKey: cfg.AnthropicKey, Model: cfg.AnthropicModel})
		if err != nil {
			return nil, config.Errorf("ANTHROPIC_MODEL", "%v", err)
		}
		providers = append(providers, p)
	}
	routes, err := domain.ParseRoutes(cfg.Routes)
	if err != nil {
		return nil, config.Errorf("AI_ROUTES", "%v", err)
	}
	routing := domain.Routing{Routes: routes, DefaultChain: list(cfg.DefaultChain), AllowList: list(cfg.Allowed)}
	s := &Service{cfg: cfg, store: store.New(deps.DB), models: map[string]string{}}
	for _, p := range providers {
		s.models[p.Info().Name] = p.Info().Model
	}
	rdeps := router.Deps{Log: deps.Log}
	if deps.Metrics != nil {
		rdeps.Requests = deps.Metrics.AIRequests
	}
	if s.router, err = router.New(router.Config{Routing: routing}, providers, rdeps); err != nil {
		return nil, fmt.Errorf("%s: AI_ROUTES, AI_DEFAULT_CHAIN, AI_ALLOWED_PROVIDERS: %w", Name, err)
	}
	if s.local, err = router.New(router.Config{}, []domain.Provider{local.New()}, rdeps); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(s)); err != nil {
		return nil, err
	}
	peer, err := s.Peer(patientconsent.Target)
	if err != nil {
		return nil, err
	}
	s.consents = patientconsent.New(peer)
	// Without the consent service no synthesis can be admitted.
	s.Check(patientconsent.Target, s.consents.Ready)
	s.routes(s.API)
	path, h := aiv1connect.NewProviderServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers))
	// A synthesis may fail over through the chain, each provider given
	// minutes; ai-orchestration's attempt deadline bounds it.
	s.ServeRPC(aiv1connect.ProviderServiceName, path, rpc.Unhurried(h, synthesisDeadline))
	return s, nil
}

// list splits a comma-separated variable.
func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
