package aiusage

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/ai/ai-usage/domain"
	"github.com/secondopinion/platform/internal/services/ai/ai-usage/store"
)

// subscriptions are the events the service consumes: every request to a
// provider, and the erasure of a case, whose requests it unlinks.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.RequestCompletedV1, (*Service).onRequest),
	outbox.Handle(events.RequestFailedV1, (*Service).onRequest),
	outbox.Handle(events.CaseErasedV1, (*Service).onCaseErased),
}

// onRequest records a request in the ledger, priced, within the inbox's
// transaction, publishes its price (ai.request.priced) the first time it
// records it, and raises the alert of each budget it spends. Only a
// request that cost something can spend a budget: the local provider's
// never does.
func (s *Service) onRequest(ctx context.Context, tx *sql.Tx, e bus.Event, p events.AIRequest) error {
	if err := validRequest(p); err != nil {
		// Retrying cannot mend it: the dead letters keep it for an admin.
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	at := p.Timestamp
	if at.IsZero() {
		at = e.Timestamp
	}
	r := store.Request{ID: p.RequestID, CaseID: p.CaseID, Provider: p.Provider, Model: p.Model,
		Failed: e.Type == events.RequestFailedV1.Type, Error: p.Error, InputTokens: p.InputTokens,
		OutputTokens: p.OutputTokens, LatencyMs: p.LatencyMs, At: at}
	r.Cost, r.Priced = s.cfg.prices.Cost(p.Provider, p.Model, p.InputTokens, p.OutputTokens)
	added, err := s.store.Record(ctx, tx, r)
	if err != nil || !added {
		return err
	}
	if err := s.publishPrice(ctx, tx, r); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	if !r.Priced {
		s.Log.WarnContext(ctx, "AI request of a model without a price", "provider", p.Provider, "model", p.Model)
	}
	if r.Cost == 0 {
		return nil
	}
	month := store.Month(at)
	for _, scope := range s.cfg.budgets.Scopes(p.Provider) {
		if err := s.checkBudget(ctx, tx, month, scope); err != nil {
			return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
		}
	}
	return nil
}

// publishPrice publishes ai.request.priced for r, which the ledger has
// just recorded: the price is ai-usage's to know, and reporting's cost per
// case is made of it.
func (s *Service) publishPrice(ctx context.Context, tx *sql.Tx, r store.Request) error {
	ev, err := events.RequestPricedV1.New(Name, r.ID, events.AIRequestPriced{RequestID: r.ID, CaseID: r.CaseID,
		Provider: r.Provider, Model: r.Model, CostMicros: r.Cost, Priced: r.Priced, Failed: r.Failed, Timestamp: r.At})
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, ev)
}

// checkBudget publishes ai.budget.exceeded, once a month, when month's
// spending of scope reached its budget.
func (s *Service) checkBudget(ctx context.Context, tx *sql.Tx, month, scope string) error {
	limit := s.cfg.budgets[scope]
	spent, err := s.store.Spent(ctx, tx, month, scope)
	if err != nil || !domain.Spent(limit, spent) {
		return err
	}
	now := s.cfg.Now().UTC()
	first, err := s.store.Alert(ctx, tx, month, scope, limit, spent, now)
	if err != nil || !first {
		return err
	}
	ev, err := events.BudgetExceededV1.New(Name, month+"/"+scope, events.BudgetExceeded{Month: month, Scope: scope,
		LimitMicros: limit, SpentMicros: spent, Timestamp: now})
	if err != nil {
		return err
	}
	if err := outbox.Add(ctx, tx, ev); err != nil {
		return err
	}
	s.Log.WarnContext(ctx, "AI budget spent", "month", month, "scope", scope,
		"limitUsd", domain.FormatUSD(limit), "spentUsd", domain.FormatUSD(spent))
	return nil
}

func validRequest(p events.AIRequest) error {
	if _, err := uuid.Parse(p.RequestID); err != nil {
		return fmt.Errorf("request id: %w", err)
	}
	if p.CaseID != "" {
		if _, err := uuid.Parse(p.CaseID); err != nil {
			return fmt.Errorf("case id: %w", err)
		}
	}
	if p.Provider == "" || p.Model == "" {
		return fmt.Errorf("a request names its provider and model")
	}
	if p.InputTokens < 0 || p.OutputTokens < 0 || p.LatencyMs < 0 {
		return fmt.Errorf("negative tokens or latency")
	}
	return nil
}

// onCaseErased unlinks an erased case's requests from it: their cost
// stays in the totals (docs/retention.md).
func (s *Service) onCaseErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseErased) error {
	if _, err := uuid.Parse(p.CaseID); err != nil {
		return fmt.Errorf("%s %s: case id: %w", e.Type, e.ID, err)
	}
	return s.store.Forget(ctx, tx, p.CaseID)
}
