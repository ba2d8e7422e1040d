package reporting

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/platform/reporting/domain"
	"github.com/secondopinion/platform/internal/services/platform/reporting/store"
)

// projection turns events into facts. It holds nothing but the store, so
// that Rebuild can replay the journal through the very handlers the live
// consumer runs.
type projection struct{ store *store.Store }

// subscriptions are the events the facts are kept from, and the erasures.
// Each handler runs in the inbox's transaction, after the consumer wrote
// the event to the journal (Journaled), so an erasure reaches the event's
// own journal row too.
var subscriptions = outbox.Subscriptions[*projection]{
	outbox.Handle(events.CaseSubmittedV1, (*projection).onSubmitted),
	outbox.Handle(events.CaseStatusChangedV1, (*projection).onStatusChanged),
	outbox.Handle(events.CaseAssignedV1, (*projection).onAssigned),
	outbox.Handle(events.AssignmentExpiredV1, (*projection).onExpired),
	outbox.Handle(events.AssignmentEscalatedV1, (*projection).onEscalated),
	outbox.Handle(events.RequestCompletedV1, (*projection).onAIRequest),
	outbox.Handle(events.RequestFailedV1, (*projection).onAIRequest),
	outbox.Handle(events.RequestPricedV1, (*projection).onAIRequestPriced),
	outbox.Handle(events.OpinionSubmittedV1, (*projection).onOpinionSubmitted),
	outbox.Handle(events.OpinionApprovedV1, (*projection).onOpinionApproved),
	outbox.Handle(events.PaymentSucceededV1, (*projection).onPayment),
	outbox.Handle(events.PaymentRefundedV1, (*projection).onRefund),
	outbox.Handle(events.CaseErasedV1, (*projection).onCaseErased),
	outbox.Handle(events.PatientErasedV1, (*projection).onPatientErased),
}

func (p *projection) onSubmitted(ctx context.Context, tx *sql.Tx, e bus.Event, c events.CaseSubmitted) error {
	key, number, err := p.caseKey(ctx, tx, e, c.CaseID, c.CaseNumber)
	if err != nil {
		return err
	}
	return p.store.UpsertCase(ctx, tx, store.Case{ID: key, Number: number, Specialty: string(c.Specialty),
		Urgency: string(c.Urgency), Submitted: when(e, c.Timestamp)})
}

// onStatusChanged keeps the case's latest status, and its completion.
func (p *projection) onStatusChanged(ctx context.Context, tx *sql.Tx, e bus.Event, c events.CaseStatusChanged) error {
	key, number, err := p.caseKey(ctx, tx, e, c.CaseID, c.CaseNumber)
	if err != nil {
		return err
	}
	if !c.To.Valid() {
		return fmt.Errorf("%s %s: unknown status %q", e.Type, e.ID, c.To)
	}
	at := when(e, c.Timestamp)
	row := store.Case{ID: key, Number: number, Status: string(c.To), StatusAt: at, StatusEvent: e.ID}
	if c.To == vocab.Completed {
		row.Completed = at
	}
	return p.store.UpsertCase(ctx, tx, row)
}

func (p *projection) onAssigned(ctx context.Context, tx *sql.Tx, e bus.Event, a events.CaseAssigned) error {
	if err := need(e, "assignment", a.AssignmentID); err != nil {
		return err
	}
	key, _, err := p.caseKey(ctx, tx, e, a.CaseID, "")
	if err != nil {
		return err
	}
	return p.store.UpsertAssignment(ctx, tx, store.Assignment{ID: a.AssignmentID, CaseID: key, Claimed: when(e, a.Timestamp)})
}

// onExpired records a deadline breach: the assignment ended at its
// deadline without a submitted opinion.
func (p *projection) onExpired(ctx context.Context, tx *sql.Tx, e bus.Event, a events.AssignmentEnded) error {
	if err := need(e, "assignment", a.AssignmentID); err != nil {
		return err
	}
	key, _, err := p.caseKey(ctx, tx, e, a.CaseID, "")
	if err != nil {
		return err
	}
	return p.store.UpsertAssignment(ctx, tx, store.Assignment{ID: a.AssignmentID, CaseID: key, Expired: when(e, a.Timestamp)})
}

func (p *projection) onEscalated(ctx context.Context, tx *sql.Tx, e bus.Event, a events.AssignmentEscalated) error {
	key, _, err := p.caseKey(ctx, tx, e, a.CaseID, a.CaseNumber)
	if err != nil {
		return err
	}
	return p.store.AddEscalation(ctx, tx, e.ID, key, when(e, a.Timestamp))
}

func (p *projection) onAIRequest(ctx context.Context, tx *sql.Tx, e bus.Event, r events.AIRequest) error {
	if err := need(e, "request", r.RequestID); err != nil {
		return err
	}
	if r.InputTokens < 0 || r.OutputTokens < 0 {
		return fmt.Errorf("%s %s: negative tokens", e.Type, e.ID)
	}
	key, _, err := p.caseKey(ctx, tx, e, r.CaseID, "")
	if err != nil {
		return err
	}
	return p.store.AddAIRequest(ctx, tx, store.AIRequest{ID: r.RequestID, CaseID: key, Failed: e.Type == events.RequestFailedV1.Type,
		InputTokens: r.InputTokens, OutputTokens: r.OutputTokens, At: when(e, r.Timestamp)})
}

// onAIRequestPriced records what ai-usage charged for a request, which
// may arrive before or after the request's own event: the row merges
// both.
func (p *projection) onAIRequestPriced(ctx context.Context, tx *sql.Tx, e bus.Event, r events.AIRequestPriced) error {
	if err := need(e, "request", r.RequestID); err != nil {
		return err
	}
	if r.CostMicros < 0 {
		return fmt.Errorf("%s %s: negative cost", e.Type, e.ID)
	}
	key, _, err := p.caseKey(ctx, tx, e, r.CaseID, "")
	if err != nil {
		return err
	}
	return p.store.PriceAIRequest(ctx, tx, store.AIRequest{ID: r.RequestID, CaseID: key, Failed: r.Failed,
		CostMicros: r.CostMicros, At: when(e, r.Timestamp)})
}

func (p *projection) onOpinionSubmitted(ctx context.Context, tx *sql.Tx, e bus.Event, o events.OpinionSubmitted) error {
	if err := need(e, "opinion", o.OpinionID); err != nil {
		return err
	}
	key, _, err := p.caseKey(ctx, tx, e, o.CaseID, "")
	if err != nil {
		return err
	}
	return p.store.UpsertOpinion(ctx, tx, store.Opinion{ID: o.OpinionID, CaseID: key, ProfessionalID: o.ProfessionalID,
		Submitted: when(e, o.Timestamp)})
}

func (p *projection) onOpinionApproved(ctx context.Context, tx *sql.Tx, e bus.Event, o events.OpinionApproved) error {
	if err := need(e, "opinion", o.OpinionID); err != nil {
		return err
	}
	key, _, err := p.caseKey(ctx, tx, e, o.CaseID, "")
	if err != nil {
		return err
	}
	return p.store.UpsertOpinion(ctx, tx, store.Opinion{ID: o.OpinionID, CaseID: key, ProfessionalID: o.ProfessionalID,
		Approved: when(e, o.Timestamp)})
}

// onPayment records revenue. The patient's id, which the event carries,
// is not kept.
func (p *projection) onPayment(ctx context.Context, tx *sql.Tx, e bus.Event, m events.Payment) error {
	if err := need(e, "payment", m.PaymentID); err != nil {
		return err
	}
	if m.Amount < 0 || len(m.Currency) != 3 {
		return fmt.Errorf("%s %s: bad amount or currency", e.Type, e.ID)
	}
	key, _, err := p.caseKey(ctx, tx, e, m.CaseID, "")
	if err != nil {
		return err
	}
	return p.store.AddPayment(ctx, tx, store.Money{ID: m.PaymentID, CaseID: key, Specialty: string(m.Specialty),
		Amount: m.Amount, Currency: m.Currency, At: when(e, m.Timestamp)})
}

func (p *projection) onRefund(ctx context.Context, tx *sql.Tx, e bus.Event, m events.PaymentRefunded) error {
	if err := need(e, "refund", m.RefundID); err != nil {
		return err
	}
	if m.Amount < 0 || len(m.Currency) != 3 {
		return fmt.Errorf("%s %s: bad amount or currency", e.Type, e.ID)
	}
	key, _, err := p.caseKey(ctx, tx, e, m.CaseID, "")
	if err != nil {
		return err
	}
	return p.store.AddRefund(ctx, tx, store.Money{ID: m.RefundID, PaymentID: m.PaymentID, CaseID: key,
		Amount: m.Amount, Currency: m.Currency, At: when(e, m.Timestamp)})
}

// onCaseErased keeps the case's facts, so no figure changes, but files
// them under the case's pseudonym, and puts the pseudonym in place of the
// case's id and number in the journal, so a rebuild gives the same
// figures and brings neither back. Replayed from the journal, the erasure
// finds the pseudonym already in place.
func (p *projection) onCaseErased(ctx context.Context, tx *sql.Tx, e bus.Event, c events.CaseErased) error {
	if _, err := uuid.Parse(c.CaseID); err != nil {
		return fmt.Errorf("%s %s: case id: %w", e.Type, e.ID, err)
	}
	pseudonym := c.CaseID
	if !domain.IsPseudonym(c.CaseID) {
		pseudonym = domain.Pseudonym(c.CaseID)
	}
	number, err := p.store.Erase(ctx, tx, c.CaseID, pseudonym)
	if err != nil || pseudonym == c.CaseID {
		return err
	}
	return pseudonymise(ctx, tx, pseudonym, c.CaseID, number)
}

// onPatientErased puts a pseudonym in place of the patient's id in the
// journal (case.submitted and the payments carry it); the facts never
// held it.
func (p *projection) onPatientErased(ctx context.Context, tx *sql.Tx, e bus.Event, pe events.PatientErased) error {
	if _, err := uuid.Parse(pe.PatientID); err != nil {
		return fmt.Errorf("%s %s: patient id: %w", e.Type, e.ID, err)
	}
	if domain.IsPseudonym(pe.PatientID) {
		return nil
	}
	return pseudonymise(ctx, tx, domain.Pseudonym(pe.PatientID), pe.PatientID)
}

// caseKey is the id to file a fact of case id under — its pseudonym once
// the case was erased — and the case number to keep ("" once erased). An
// event that arrives after its case's erasure is pseudonymised in the
// journal too. A case id that is not a UUID is refused: retrying cannot
// mend it, the dead letters keep it for an admin.
func (p *projection) caseKey(ctx context.Context, tx *sql.Tx, e bus.Event, id, number string) (string, string, error) {
	if id == "" {
		return "", number, nil
	}
	if _, err := uuid.Parse(id); err != nil {
		return "", "", fmt.Errorf("%s %s: case id: %w", e.Type, e.ID, err)
	}
	key, err := p.store.CaseKey(ctx, tx, id)
	if err != nil {
		return "", "", fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	if !domain.IsPseudonym(key) {
		return key, number, nil
	}
	if key != id {
		if err := pseudonymise(ctx, tx, key, id, number); err != nil {
			return "", "", fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
		}
	}
	return key, "", nil
}

// pseudonymise replaces each of ids ("" skipped) by pseudonym in the
// journal.
func pseudonymise(ctx context.Context, tx *sql.Tx, pseudonym string, ids ...string) error {
	for _, id := range ids {
		if id == "" {
			continue
		}
		if err := outbox.PseudonymiseJournal(ctx, tx, id, pseudonym); err != nil {
			return err
		}
	}
	return nil
}

// need refuses an event whose id of what is not a UUID: the facts are
// keyed by it. Retrying cannot mend it; the dead letters keep it.
func need(e bus.Event, what, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return fmt.Errorf("%s %s: %s id: %w", e.Type, e.ID, what, err)
	}
	return nil
}

// when is the time an event's payload gives, else the envelope's.
func when(e bus.Event, t time.Time) time.Time {
	if t.IsZero() {
		return e.Timestamp
	}
	return t
}
