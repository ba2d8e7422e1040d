package payouts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/financial/payouts/domain"
	"github.com/secondopinion/platform/internal/services/financial/payouts/store"
)

// subscriptions are the events the service consumes: every approved
// opinion, and the erasure of a case, whose earnings it unlinks.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.OpinionApprovedV1, (*Service).onApproved),
	outbox.Handle(events.CaseErasedV1, (*Service).onCaseErased),
}

// onApproved accrues what an approved opinion earns, within the inbox's
// transaction, priced by the rate table in force at approval. The store's
// uniqueness on (opinion, kind) makes an approval that arrives again under
// another event id change nothing: an opinion has exactly one earning.
func (s *Service) onApproved(ctx context.Context, tx *sql.Tx, e bus.Event, p events.OpinionApproved) error {
	for _, id := range []string{p.OpinionID, p.CaseID, p.ProfessionalID} {
		if _, err := uuid.Parse(id); err != nil {
			// No retry can repair it: the dead letters keep it for an admin.
			return fmt.Errorf("%s %s: ids: %w", e.Type, e.ID, err)
		}
	}
	if p.ReviewerID != "" {
		if _, err := uuid.Parse(p.ReviewerID); err != nil {
			return fmt.Errorf("%s %s: reviewer id: %w", e.Type, e.ID, err)
		}
	}
	a := domain.Approval{OpinionID: p.OpinionID, CaseID: p.CaseID, AuthorID: p.ProfessionalID, AuthorLevel: p.AuthorLevel,
		ReviewerID: p.ReviewerID, At: p.Timestamp.UTC()}
	if a.At.IsZero() {
		a.At = e.Timestamp.UTC()
	}
	rates, err := s.store.RatesAt(ctx, tx, a.At)
	if err != nil {
		return err
	}
	accruals, err := domain.Accrue(rates, a)
	if errors.Is(err, domain.ErrUnpriceable) {
		// An approval without the author's level (from a producer older
		// than the field) is parked, not guessed: an admin replays it.
		s.Log.WarnContext(ctx, "approval that cannot be priced", "eventId", e.ID, "opinionId", p.OpinionID, "error", err)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	for _, ac := range accruals {
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		added, err := s.store.AddEarning(ctx, tx, store.Earning{ID: id.String(), ProfessionalID: ac.ProfessionalID,
			OpinionID: a.OpinionID, CaseID: a.CaseID, Kind: ac.Kind, Level: ac.Level, Amount: ac.Amount,
			Currency: ac.Currency, RateTableID: rates.ID, AccruedAt: a.At})
		if err != nil {
			return err
		}
		if added {
			s.Log.InfoContext(ctx, "earning accrued", "opinionId", a.OpinionID, "professionalId", ac.ProfessionalID,
				"kind", ac.Kind, "amount", ac.Amount, "currency", ac.Currency)
		}
	}
	return nil
}

// onCaseErased unlinks an erased case's earnings from it: the amounts stay
// for the books.
func (s *Service) onCaseErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseErased) error {
	if _, err := uuid.Parse(p.CaseID); err != nil {
		return fmt.Errorf("%s %s: case id: %w", e.Type, e.ID, err)
	}
	return s.store.ForgetCase(ctx, tx, p.CaseID)
}

// batchCreatedEvent is payout.batch_created, keyed by the batch.
func batchCreatedEvent(b store.Batch) (bus.Event, error) {
	return events.PayoutBatchCreatedV1.New(Name, b.ID, events.PayoutBatchCreated{BatchID: b.ID, PeriodStart: b.PeriodStart,
		PeriodEnd: b.PeriodEnd, Professionals: b.Professionals, Total: b.Total, Currency: b.Currency, Timestamp: b.CreatedAt})
}

// paidEvents are the payout.paid events of a batch, one per professional,
// keyed by the professional so each one's payouts stay in order.
func paidEvents(b store.Batch) ([]bus.Event, error) {
	out := make([]bus.Event, 0, len(b.Items))
	for _, it := range b.Items {
		e, err := events.PayoutPaidV1.New(Name, it.ProfessionalID, events.PayoutPaid{BatchID: b.ID, ProfessionalID: it.ProfessionalID,
			Amount: it.Amount, Currency: b.Currency, Timestamp: b.PaidAt})
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
