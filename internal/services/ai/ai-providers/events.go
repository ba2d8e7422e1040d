package aiproviders

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/domain"
)

// subscriptions: a spent monthly budget sends requests to the local
// provider until the month ends.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.BudgetExceededV1, (*Service).onBudgetExceeded),
}

func (s *Service) onBudgetExceeded(ctx context.Context, tx *sql.Tx, e bus.Event, p events.BudgetExceeded) error {
	if _, err := time.Parse("2006-01", p.Month); err != nil || p.Scope == "" {
		return fmt.Errorf("%s %s: month %q, scope %q", e.Type, e.ID, p.Month, p.Scope)
	}
	if err := s.store.Spend(ctx, tx, p.Month, p.Scope, p.Timestamp); err != nil {
		return err
	}
	s.Log.WarnContext(ctx, "AI budget spent: requests go to the local provider until the month ends",
		"month", p.Month, "scope", p.Scope)
	return nil
}

// requestEvent is one attempt as ai.request.completed or .failed tell it.
type requestEvent struct {
	RequestID, CaseID, Provider, Model, Error string
	InputTokens, OutputTokens, LatencyMs      int64
	Failed                                    bool
	At                                        time.Time
}

// publish queues an event for every attempt that reached a provider.
// Ids, names and counts only: never a prompt or an answer.
func (s *Service) publish(ctx context.Context, caseID string, attempts []domain.Attempt, usage domain.Usage) error {
	reqs, err := attemptsToEvents(caseID, attempts, usage, s.models, s.cfg.Now().UTC())
	if err != nil || len(reqs) == 0 {
		return err
	}
	evs := make([]bus.Event, 0, len(reqs))
	for _, r := range reqs {
		contract := events.RequestCompletedV1
		if r.Failed {
			contract = events.RequestFailedV1
		}
		ev, err := contract.New(Name, r.RequestID, events.AIRequest{RequestID: r.RequestID, CaseID: r.CaseID,
			Provider: r.Provider, Model: r.Model, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens,
			LatencyMs: r.LatencyMs, Error: r.Error, Timestamp: r.At})
		if err != nil {
			return err
		}
		evs = append(evs, ev)
	}
	if err := s.DB.InTx(ctx, func(tx *sql.Tx) error { return outbox.Add(ctx, tx, evs...) }); err != nil {
		return fmt.Errorf("record AI requests of case %s: %w", caseID, err)
	}
	s.Relay.Notify()
	return nil
}
