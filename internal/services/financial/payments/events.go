package payments

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
)

// subscriptions are the events the service consumes: what decides the
// automatic refund of a case's payment, and erasure.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.CaseAssignedV1, (*Service).onAssigned),
	outbox.Handle(events.CaseCancelledV1, (*Service).onCancelled),
	outbox.Handle(events.CaseOrphanedV1, (*Service).onOrphaned),
	outbox.Handle(events.CaseErasedV1, (*Service).onCaseErased),
	outbox.Handle(events.PatientErasedV1, (*Service).onPatientErased),
}

func validID(e bus.Event, what, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		// Retrying cannot mend it: the dead letters keep it for an admin.
		return fmt.Errorf("%s %s: %s id: %w", e.Type, e.ID, what, err)
	}
	return nil
}

// onAssigned remembers that a professional took the case: cancelling it
// afterwards no longer refunds it by itself.
func (s *Service) onAssigned(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseAssigned) error {
	if err := validID(e, "case", p.CaseID); err != nil {
		return err
	}
	return s.store.MarkAssigned(ctx, tx, p.CaseID)
}

func (s *Service) onCancelled(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseClosed) error {
	if err := validID(e, "case", p.CaseID); err != nil {
		return err
	}
	return s.closed(ctx, tx, p.CaseID, domain.CaseCancelled)
}

func (s *Service) onOrphaned(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseOrphaned) error {
	if err := validID(e, "case", p.CaseID); err != nil {
		return err
	}
	return s.closed(ctx, tx, p.CaseID, domain.CaseOrphaned)
}

// closed remembers how a case closed and queues the refund of its paid
// payment when the rules say so (domain.AutoRefund). A payment still
// under way is refunded when it succeeds (refundIfClosed). The refund's
// provider call is made by the recovery loop, outside this transaction.
func (s *Service) closed(ctx context.Context, tx *sql.Tx, caseID string, how domain.CaseClosed) error {
	if err := s.store.MarkClosed(ctx, tx, caseID, how); err != nil {
		return err
	}
	state, err := s.store.Case(ctx, tx, caseID)
	if err != nil {
		return err
	}
	reason, ok := domain.AutoRefund(how, state.Assigned)
	if !ok {
		return nil
	}
	open, found, err := s.store.Open(ctx, tx, caseID)
	if err != nil || !found || !open.Status.Paid() {
		return err
	}
	p, err := s.store.Lock(ctx, tx, open.ID)
	if err != nil {
		return err
	}
	queued, err := s.autoRefund(ctx, tx, p, reason)
	if queued {
		s.wake()
	}
	return err
}

// onCaseErased and onPatientErased keep the payments — money is under
// legal retention (bookkeeping, tax): amounts, currency, status, refunds,
// the provider's intent — but unlink them from the erased person, as
// invoicing does its documents: case_id and patient_id are emptied (a
// case's erasure is that of its patient's, so either event empties both),
// what payments learnt of the case goes, and so does what is personal
// beyond ids: the payment method, any 3-D Secure client secret, admins'
// notes on refunds, and the replayable answers of Idempotency-Keys that
// showed them. The sandbox's ledger keeps only our payment's id in its
// intents' metadata (Stripe keeps its own records under its own
// retention, which an erasure cannot reach: it is sent our payment's id
// only). A refund still pending is driven on by its payment's id alone.
func (s *Service) onCaseErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseErased) error {
	if err := validID(e, "case", p.CaseID); err != nil {
		return err
	}
	ids, err := s.store.ForgetCase(ctx, tx, p.CaseID)
	if err != nil {
		return err
	}
	return s.forget(ctx, tx, p.CaseID, ids)
}

func (s *Service) onPatientErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.PatientErased) error {
	if err := validID(e, "patient", p.PatientID); err != nil {
		return err
	}
	ids, err := s.store.ForgetPatient(ctx, tx, p.PatientID)
	if err != nil {
		return err
	}
	return s.forget(ctx, tx, p.PatientID, ids)
}

// forget ends an erasure of id whose payments, paymentIDs, the store
// unlinked: the sandbox's intents of them and the Idempotency-Key records
// naming id.
func (s *Service) forget(ctx context.Context, tx *sql.Tx, id string, paymentIDs []string) error {
	keys := make([]string, len(paymentIDs))
	for i, pid := range paymentIDs {
		keys[i] = domain.IntentKey(pid)
	}
	if err := s.sandbox.Unlink(ctx, tx, keys); err != nil {
		return err
	}
	if len(paymentIDs) > 0 {
		s.Log.InfoContext(ctx, "erasure: payments kept for legal retention, unlinked", "payments", len(paymentIDs))
	}
	return s.ForgetRequests(ctx, tx, id)
}
