package invoicing

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/financial/invoicing/domain"
)

// subscriptions are the events the service consumes: payments to invoice,
// refunds to credit, and erasures, which keep the documents (see
// issue.go's forget).
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.PaymentSucceededV1, (*Service).onPaid),
	outbox.Handle(events.PaymentRefundedV1, (*Service).onRefunded),
	outbox.Handle(events.PatientErasedV1, (*Service).onPatientErased),
	outbox.Handle(events.CaseErasedV1, (*Service).onCaseErased),
}

// onPaid issues the payment's invoice, once: a redelivered event, or a
// second event of the same payment, finds it and changes nothing. A
// malformed payment fails for good: retrying cannot mend it, and the
// dead letters keep it for an admin.
func (s *Service) onPaid(ctx context.Context, tx *sql.Tx, e bus.Event, p events.Payment) error {
	if err := validPayment(p); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	return s.invoice(ctx, tx, p)
}

func validPayment(p events.Payment) error {
	for name, id := range map[string]string{"payment": p.PaymentID, "case": p.CaseID, "customer": p.CustomerID} {
		if _, err := uuid.Parse(id); err != nil {
			return fmt.Errorf("%s id: %w", name, err)
		}
	}
	if !p.Region.Valid() {
		return fmt.Errorf("region %q is not a region code", p.Region)
	}
	return sale(p).Validate()
}

func sale(p events.Payment) domain.Sale {
	return domain.Sale{Specialty: p.Specialty, Urgency: p.Urgency, Net: p.NetAmount, Discount: p.DiscountAmount,
		TaxRate: p.TaxRate, Tax: p.TaxAmount, Amount: p.Amount, Currency: p.Currency}
}

// onRefunded issues the refund's credit note, once; a refund that arrives
// before its payment's invoice waits for it (see refund).
func (s *Service) onRefunded(ctx context.Context, tx *sql.Tx, e bus.Event, p events.PaymentRefunded) error {
	for name, id := range map[string]string{"payment": p.PaymentID, "refund": p.RefundID} {
		if _, err := uuid.Parse(id); err != nil {
			return fmt.Errorf("%s %s: %s id: %w", e.Type, e.ID, name, err)
		}
	}
	if p.Amount <= 0 || p.Amount > domain.MaxAmount || !domain.ValidCurrency(p.Currency) {
		return fmt.Errorf("%s %s: refund of %d %q", e.Type, e.ID, p.Amount, p.Currency)
	}
	at := p.Timestamp
	if at.IsZero() {
		at = e.Timestamp
	}
	return s.refund(ctx, tx, p.PaymentID, p.RefundID, p.Amount, p.Currency, at)
}

func (s *Service) onPatientErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.PatientErased) error {
	if _, err := uuid.Parse(p.PatientID); err != nil {
		return fmt.Errorf("%s %s: patient id: %w", e.Type, e.ID, err)
	}
	return s.forgetPatient(ctx, tx, p.PatientID)
}

func (s *Service) onCaseErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseErased) error {
	if _, err := uuid.Parse(p.CaseID); err != nil {
		return fmt.Errorf("%s %s: case id: %w", e.Type, e.ID, err)
	}
	return s.forgetCase(ctx, tx, p.CaseID)
}
