package payments

import (
	"context"
	"database/sql"
	"errors"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider"
	"github.com/secondopinion/platform/internal/services/financial/payments/store"
)

// RefundRequest is an admin's refund of a payment.
type RefundRequest struct {
	Amount *int64 `json:"amount,omitempty" minimum:"1" doc:"minor units; all that is left when absent"`
	Reason string `json:"reason,omitempty" maxLength:"500" doc:"why, for the record"`
}

// refund has an admin refund payment id: the refund is recorded PENDING
// (never more than what is left, counting refunds under way), then the
// provider is asked with a key derived from the refund's id. pending
// says the provider did not answer: recovery sends the same call again.
func (s *Service) refund(ctx context.Context, id string, in RefundRequest) (p store.Payment, pending bool, err error) {
	if _, err := uuid.Parse(id); err != nil {
		return store.Payment{}, false, fault.NotFound("payment")
	}
	var r store.Refund
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		p, err := s.store.Lock(ctx, tx, id)
		if err != nil {
			return err
		}
		reserved, err := s.store.Reserved(ctx, tx, id)
		if err != nil {
			return err
		}
		amount, err := domain.RefundAmount(p.Status, p.Amount, reserved, in.Amount)
		switch {
		case errors.Is(err, domain.ErrNothingToRefund):
			return fault.Conflict("Nothing to refund", "the payment did not succeed, or was refunded in full")
		case err != nil:
			return fault.Invalid("amount", "%v", err)
		}
		r = store.Refund{ID: uuid.Must(uuid.NewV7()).String(), PaymentID: id, Amount: amount, Reason: domain.ReasonAdmin,
			Status: store.RefundPending, Note: in.Reason, CreatedAt: s.now()}
		_, err = s.store.InsertRefund(ctx, tx, r)
		return err
	})
	if err != nil {
		return store.Payment{}, false, err
	}
	err = s.driveRefund(ctx, r)
	if err != nil && !fault.Is(err, fault.KindUnavailable) {
		return store.Payment{}, false, err
	}
	p, gerr := s.store.Get(ctx, s.DB, id)
	return p, err != nil, gerr
}

// autoRefund queues, within tx, the refund in full of what is left of p
// (locked in tx) for reason — once per payment and reason, whatever the
// redeliveries. queued says a refund waits for the recovery loop.
func (s *Service) autoRefund(ctx context.Context, tx *sql.Tx, p store.Payment, reason string) (queued bool, err error) {
	reserved, err := s.store.Reserved(ctx, tx, p.ID)
	if err != nil {
		return false, err
	}
	amount, err := domain.RefundAmount(p.Status, p.Amount, reserved, nil)
	if errors.Is(err, domain.ErrNothingToRefund) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return s.store.InsertRefund(ctx, tx, store.Refund{ID: uuid.Must(uuid.NewV7()).String(), PaymentID: p.ID, Amount: amount,
		Reason: reason, Status: store.RefundPending, CreatedAt: s.now()})
}

// refundIfClosed queues the refund of p, which just succeeded, when its
// case closed in a way that refunds it: a payment that completes after
// the case was cancelled or orphaned (3-D Secure done late, a webhook,
// recovery) is refunded as if it had been paid before.
func (s *Service) refundIfClosed(ctx context.Context, tx *sql.Tx, p store.Payment) (bool, error) {
	c, err := s.store.Case(ctx, tx, p.CaseID)
	if err != nil || c.Closed == "" {
		return false, err
	}
	reason, ok := domain.AutoRefund(c.Closed, c.Assigned)
	if !ok {
		return false, nil
	}
	return s.autoRefund(ctx, tx, p, reason)
}

// driveRefund asks the provider for refund r, recorded PENDING, and
// records its answer: payment.refunded once, with the refund. A refusal
// fails the refund; an outage leaves it PENDING.
func (s *Service) driveRefund(ctx context.Context, r store.Refund) error {
	p, err := s.store.Get(ctx, s.DB, r.PaymentID)
	if err != nil {
		return err
	}
	prov, err := s.provider(p.Provider)
	if err != nil {
		return err
	}
	pr, err := prov.Refund(ctx, p.IntentID, r.Amount, domain.RefundKey(r.ID), r.ID)
	if err != nil {
		if provider.KindOf(err) != provider.Invalid && provider.KindOf(err) != provider.NotFound {
			s.Log.WarnContext(ctx, "refund pending: provider unavailable", "refund", r.ID, "payment", p.ID, "err", err)
			return fault.Unavailable("the payment provider", err)
		}
		var pe *provider.Error
		errors.As(err, &pe)
		s.Log.ErrorContext(ctx, "refund refused by the provider", "refund", r.ID, "payment", p.ID, "code", pe.Code)
		if err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
			_, err := s.store.SettleRefund(ctx, tx, r.ID, store.RefundFailed, "", pe.Code, s.now())
			return err
		}); err != nil {
			return err
		}
		return &fault.Error{Kind: fault.KindBadGateway, Title: "Refund refused", Detail: "the payment provider refused the refund"}
	}
	return s.DB.InTx(ctx, func(tx *sql.Tx) error {
		ok, err := s.store.SettleRefund(ctx, tx, r.ID, store.RefundSucceeded, pr.ID, "", s.now())
		if err != nil || !ok {
			return err
		}
		return s.refunded(ctx, tx, r)
	})
}

// refunded adds refund r, which succeeded, to its payment and publishes
// payment.refunded, within tx.
func (s *Service) refunded(ctx context.Context, tx *sql.Tx, r store.Refund) error {
	p, err := s.store.Lock(ctx, tx, r.PaymentID)
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.store.AddRefunded(ctx, tx, p.ID, r.Amount, domain.AfterRefunds(p.Amount, p.Refunded+r.Amount), now); err != nil {
		return err
	}
	e, err := events.PaymentRefundedV1.New(Name, aggregate(p), events.PaymentRefunded{PaymentID: p.ID, RefundID: r.ID,
		CaseID: p.CaseID, CustomerID: p.PatientID, Amount: r.Amount, Currency: p.Currency, Full: p.Refunded+r.Amount >= p.Amount,
		Reason: r.Reason, Timestamp: now})
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, e)
}

// Recover drives on what was left half done: payments PROCESSING for
// longer than PAYMENTS_RECOVER_AFTER, and refunds PENDING. It returns how
// many it settled. Every step is idempotent, so replicas may run it
// together.
func (s *Service) Recover(ctx context.Context) (int, error) {
	stale, err := s.store.Stale(ctx, s.now().Add(-s.cfg.RecoverAfter))
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, p := range stale {
		ok, err := s.recoverPayment(ctx, p)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			n++
		}
	}
	pending, err := s.store.PendingRefunds(ctx)
	if err != nil {
		return n, err
	}
	for _, r := range pending {
		if err := s.driveRefund(ctx, r); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
