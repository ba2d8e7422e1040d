package aiusage

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/services/ai/ai-usage/domain"
	"github.com/secondopinion/platform/internal/services/ai/ai-usage/store"
)

// UsageTotals sums AI requests. Amounts are in millionths of a US dollar
// (costMicros), and as a decimal string of dollars (costUsd) for people.
type UsageTotals struct {
	Requests     int64  `json:"requests"`
	Failed       int64  `json:"failed"`
	Unpriced     int64  `json:"unpriced" doc:"requests of a model the price table has no price for, counted at no cost"`
	InputTokens  int64  `json:"inputTokens"`
	OutputTokens int64  `json:"outputTokens"`
	CostMicros   int64  `json:"costMicros"`
	CostUSD      string `json:"costUsd" example:"1.250000"`
	LatencyMs    int64  `json:"meanLatencyMs"`
}

// ProviderUsage is the usage of one provider, or of one of its models.
type ProviderUsage struct {
	Provider string `json:"provider" example:"openai"`
	Model    string `json:"model,omitempty" example:"gpt-4o-mini"`
	UsageTotals
}

// BudgetStatus is a monthly budget and what the month spent of it.
type BudgetStatus struct {
	Scope       string `json:"scope" example:"total" doc:"total for all providers, else a provider"`
	LimitMicros int64  `json:"limitMicros"`
	SpentMicros int64  `json:"spentMicros"`
	Exceeded    bool   `json:"exceeded" doc:"the budget is spent: ai.budget.exceeded was published"`
}

// AIUsage is a month's usage of the AI providers.
type AIUsage struct {
	Month      string          `json:"month" example:"2026-12"`
	Total      UsageTotals     `json:"total"`
	Budgets    []BudgetStatus  `json:"budgets"`
	ByProvider []ProviderUsage `json:"byProvider"`
	ByModel    []ProviderUsage `json:"byModel"`
}

// CaseAIUsage is what the AI requests of one case used, in any month.
type CaseAIUsage struct {
	CaseID     string          `json:"caseId" format:"uuid"`
	Total      UsageTotals     `json:"total"`
	ByProvider []ProviderUsage `json:"byProvider"`
	ByModel    []ProviderUsage `json:"byModel"`
}

type (
	usageInput struct {
		Month string `query:"month" pattern:"^[0-9]{4}-(0[1-9]|1[0-2])$" doc:"YYYY-MM, UTC; the current month by default"`
	}
	usageOutput    struct{ Body AIUsage }
	caseUsageInput struct {
		CaseID string `path:"caseId" format:"uuid"`
	}
	caseUsageOutput struct{ Body CaseAIUsage }
)

func (s *Service) routes(api huma.API) {
	admin := authz.Roles(authn.RoleAdmin)
	tags := []string{"AI usage"}
	httpapi.Register(api, huma.Operation{OperationID: "get-ai-usage", Method: http.MethodGet, Path: "/api/v1/ai/usage",
		Summary: "A month's AI requests, tokens and cost, by provider and model, against the budgets (admins)", Tags: tags},
		admin, func(ctx context.Context, in *usageInput) (*usageOutput, error) {
			u, err := s.usage(ctx, in.Month)
			if err != nil {
				return nil, err
			}
			return &usageOutput{u}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-case-ai-usage", Method: http.MethodGet,
		Path: "/api/v1/ai/usage/cases/{caseId}", Summary: "What the AI requests of a case used and cost (admins)", Tags: tags},
		admin, func(ctx context.Context, in *caseUsageInput) (*caseUsageOutput, error) {
			groups, err := s.store.Usage(ctx, "", in.CaseID)
			if err != nil {
				return nil, err
			}
			if len(groups) == 0 {
				return nil, fault.NotFound("AI usage of the case")
			}
			total, byProvider, byModel := summarise(groups)
			return &caseUsageOutput{CaseAIUsage{CaseID: in.CaseID, Total: total, ByProvider: byProvider, ByModel: byModel}}, nil
		})
}

// usage is month's usage (the current month for ""), with the budgets.
func (s *Service) usage(ctx context.Context, month string) (AIUsage, error) {
	if month == "" {
		month = store.Month(s.cfg.Now())
	}
	if _, err := time.Parse("2006-01", month); err != nil {
		return AIUsage{}, fault.Invalid("month", "must be YYYY-MM")
	}
	groups, err := s.store.Usage(ctx, month, "")
	if err != nil {
		return AIUsage{}, err
	}
	alerted, err := s.store.Alerted(ctx, month)
	if err != nil {
		return AIUsage{}, err
	}
	u := AIUsage{Month: month, Budgets: []BudgetStatus{}}
	u.Total, u.ByProvider, u.ByModel = summarise(groups)
	for _, scope := range s.cfg.budgets.Sorted() {
		spent := u.Total.CostMicros
		if scope != domain.Total {
			spent = 0
			for _, p := range u.ByProvider {
				if p.Provider == scope {
					spent = p.CostMicros
				}
			}
		}
		u.Budgets = append(u.Budgets, BudgetStatus{Scope: scope, LimitMicros: s.cfg.budgets[scope], SpentMicros: spent,
			Exceeded: alerted[scope]})
	}
	return u, nil
}

// summarise totals groups (by provider and model, in order) overall and by
// provider.
func summarise(groups []store.Group) (UsageTotals, []ProviderUsage, []ProviderUsage) {
	var all store.Totals
	byProvider := map[string]*store.Totals{}
	var providers []string
	byModel := make([]ProviderUsage, 0, len(groups))
	for _, g := range groups {
		add(&all, g.Totals)
		p, ok := byProvider[g.Provider]
		if !ok {
			p = &store.Totals{}
			byProvider[g.Provider] = p
			providers = append(providers, g.Provider)
		}
		add(p, g.Totals)
		byModel = append(byModel, ProviderUsage{Provider: g.Provider, Model: g.Model, UsageTotals: toTotals(g.Totals)})
	}
	slices.Sort(providers)
	out := make([]ProviderUsage, 0, len(providers))
	for _, name := range providers {
		out = append(out, ProviderUsage{Provider: name, UsageTotals: toTotals(*byProvider[name])})
	}
	return toTotals(all), out, byModel
}

// add adds t to sum, keeping the mean latency a mean over both.
func add(sum *store.Totals, t store.Totals) {
	if n := sum.Requests + t.Requests; n > 0 {
		sum.LatencyMs = (sum.LatencyMs*sum.Requests + t.LatencyMs*t.Requests) / n
	}
	sum.Requests += t.Requests
	sum.Failed += t.Failed
	sum.Unpriced += t.Unpriced
	sum.InputTokens += t.InputTokens
	sum.OutputTokens += t.OutputTokens
	sum.Cost += t.Cost
}

func toTotals(t store.Totals) UsageTotals {
	return UsageTotals{Requests: t.Requests, Failed: t.Failed, Unpriced: t.Unpriced, InputTokens: t.InputTokens,
		OutputTokens: t.OutputTokens, CostMicros: t.Cost, CostUSD: domain.FormatUSD(t.Cost), LatencyMs: t.LatencyMs}
}
