package aiproviders

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/domain"
)

// ProviderState is a provider as admins see it.
type ProviderState struct {
	Name              string `json:"name" example:"openai"`
	Kind              string `json:"kind" example:"openai"`
	Model             string `json:"model" example:"gpt-4o-mini"`
	External          bool   `json:"external" doc:"data leaves the process: de-identified, and only when allowed"`
	Allowed           bool   `json:"allowed" doc:"in-process, or on AI_ALLOWED_PROVIDERS"`
	Breaker           string `json:"breaker" enum:"closed,half-open,open"`
	RetryAfterSeconds int64  `json:"retryAfterSeconds" doc:"how long the provider still asked us to wait"`
}

// AIProviders is the providers, the routing and the budgets' effect.
type AIProviders struct {
	Providers []ProviderState `json:"providers"`
	Routing   domain.Routing  `json:"routing"`
	// SpentBudgets are this month's spent budgets; while any is, every
	// request goes to the local provider.
	SpentBudgets []string `json:"spentBudgets"`
	LocalOnly    bool     `json:"localOnly"`
}

type providersOutput struct{ Body AIProviders }

func (s *Service) routes(api huma.API) {
	httpapi.Register(api, huma.Operation{OperationID: "list-ai-providers", Method: http.MethodGet, Path: "/api/v1/ai/providers",
		Summary: "The AI providers, their circuit breakers, the routing and the allow-list (admins)", Tags: []string{"AI providers"}},
		authz.Roles(authn.RoleAdmin), func(ctx context.Context, _ *struct{}) (*providersOutput, error) {
			spent, err := s.store.Spent(ctx, month(s.cfg.Now()))
			if err != nil {
				return nil, err
			}
			out := AIProviders{Routing: s.router.Routing(), SpentBudgets: spent, LocalOnly: len(spent) > 0}
			if out.SpentBudgets == nil {
				out.SpentBudgets = []string{}
			}
			for _, p := range s.router.Providers() {
				out.Providers = append(out.Providers, ProviderState{Name: p.Name, Kind: string(p.Kind), Model: p.Model,
					External: p.External, Allowed: p.Allowed, Breaker: p.Breaker, RetryAfterSeconds: int64(p.RetryAfter.Seconds())})
			}
			return &providersOutput{out}, nil
		})
}
