package invoicing

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/financial/invoicing/domain"
	"github.com/secondopinion/platform/internal/services/financial/invoicing/store"
)

// lockPayment orders, within tx, everything done about one payment: its
// invoice and its refunds' credit notes. Without it a refund handled
// while the invoice is being issued could see neither the invoice nor
// the waiting refund the other transaction is about to find.
func (s *Service) lockPayment(ctx context.Context, tx *sql.Tx, paymentID string) error {
	return s.DB.LockKey(ctx, tx, "payment:"+paymentID)
}

// invoice issues the invoice of a valid payment within tx, unless it has
// one, then the credit notes of the refunds that waited for it.
//
// The number is taken in tx, the transaction that also inserts the
// invoice, queues invoice.issued and marks the event handled: if anything
// after it fails, all of it rolls back, the number is given back, and the
// inbox retries the payment, so the series has no gap.
func (s *Service) invoice(ctx context.Context, tx *sql.Tx, p events.Payment) error {
	if err := s.lockPayment(ctx, tx, p.PaymentID); err != nil {
		return err
	}
	if _, found, err := s.store.Invoice(ctx, tx, p.PaymentID); err != nil || found {
		return err
	}
	lines, totals, err := domain.InvoiceLines(sale(p))
	if err != nil {
		return fmt.Errorf("invoice payment %s: %w", p.PaymentID, err)
	}
	customerID, buyer, err := s.buyer(ctx, p.CustomerID)
	if err != nil {
		return fmt.Errorf("invoice payment %s: %w", p.PaymentID, err)
	}
	d := store.Document{ID: uuid.NewString(), CaseID: p.CaseID, PaymentID: p.PaymentID, CustomerID: customerID,
		Currency: p.Currency, Seller: s.cfg.seller(), Buyer: buyer, Lines: lines, Totals: totals}
	if d, err = s.issue(ctx, tx, domain.Invoice, p.Region, d); err != nil {
		return err
	}
	waiting, err := s.store.Waiting(ctx, tx, p.PaymentID)
	if err != nil {
		return err
	}
	for _, r := range waiting {
		if err := s.credit(ctx, tx, d, r.RefundID, r.Amount, r.Currency); err != nil {
			return err
		}
		if err := s.store.Done(ctx, tx, r.RefundID); err != nil {
			return err
		}
	}
	return nil
}

// buyer is who an invoice names: the patient's name as patient-identity
// knows it now, copied onto the invoice so that a later change of their
// profile does not change what was issued. The invoice carries the
// buyer's name only: an EU invoice names the buyer (name and address, VAT
// Directive art. 226), never their email, and the platform collects no
// postal address. A patient patient-identity no longer knows (erased
// before their payment was invoiced) is invoiced without a name and
// without the link to their id; the money was taken, so the invoice is
// issued all the same. patient-identity down is an error: the payment
// waits in the inbox and is retried.
func (s *Service) buyer(ctx context.Context, customerID string) (string, store.Buyer, error) {
	pt, err := s.patients.Patient(ctx, customerID)
	if fault.Is(err, fault.KindNotFound) {
		s.Log.WarnContext(ctx, "invoice of a patient patient-identity does not know: issued without a buyer's name")
		return "", store.Buyer{}, nil
	}
	if err != nil {
		return "", store.Buyer{}, err
	}
	name := strings.Join(strings.Fields(strings.Join([]string{pt.FirstName, pt.MiddleName, pt.LastName}, " ")), " ")
	return customerID, store.Buyer{Name: name}, nil
}

// issue numbers d in its series and writes it with its invoice.issued
// event, all within tx.
func (s *Service) issue(ctx context.Context, tx *sql.Tx, kind domain.Kind, region vocab.Region, d store.Document) (store.Document, error) {
	d.IssuedAt = s.now()
	d.Series = domain.SeriesAt(kind, region, d.IssuedAt)
	seq, err := s.store.Next(ctx, tx, d.Series)
	if err != nil {
		return store.Document{}, err
	}
	d.Seq = seq
	if d.Number, err = d.Series.Number(seq); err != nil {
		return store.Document{}, err
	}
	if err := s.store.Insert(ctx, tx, d); err != nil {
		return store.Document{}, err
	}
	aggregate := d.CaseID // per-case ordering, as every event of a case
	if aggregate == "" {
		aggregate = d.ID
	}
	e, err := events.InvoiceIssuedV1.New(Name, aggregate, events.InvoiceIssued{InvoiceID: d.ID, Number: d.Number,
		Kind: string(d.Kind), CaseID: d.CaseID, PaymentID: d.PaymentID, CustomerID: d.CustomerID, Total: d.Total,
		Currency: d.Currency, Timestamp: d.IssuedAt})
	if err != nil {
		return store.Document{}, err
	}
	if err := outbox.Add(ctx, tx, e); err != nil {
		return store.Document{}, err
	}
	s.Log.InfoContext(ctx, "invoice issued", "invoiceId", d.ID, "number", d.Number, "kind", d.Kind, "paymentId", d.PaymentID)
	return d, nil
}

// refund credits a refund within tx, once. A refund that arrives before
// its payment's invoice (payment.succeeded failed and is being retried,
// or the events were reordered) is kept, and credited in the transaction
// that issues the invoice: it is never lost, and never waits on the
// inbox's retries running out.
func (s *Service) refund(ctx context.Context, tx *sql.Tx, paymentID, refundID string, amount int64, currency string, at time.Time) error {
	if err := s.lockPayment(ctx, tx, paymentID); err != nil {
		return err
	}
	if done, err := s.store.Credited(ctx, tx, refundID); err != nil || done {
		return err
	}
	if waiting, err := s.store.IsWaiting(ctx, tx, refundID); err != nil || waiting {
		return err
	}
	inv, found, err := s.store.Invoice(ctx, tx, paymentID)
	if err != nil {
		return err
	}
	if !found {
		s.Log.InfoContext(ctx, "refund before its invoice: it waits for it", "refundId", refundID, "paymentId", paymentID)
		return s.store.Wait(ctx, tx, store.Pending{RefundID: refundID, PaymentID: paymentID, Amount: amount,
			Currency: currency, ReceivedAt: at})
	}
	return s.credit(ctx, tx, inv, refundID, amount, currency)
}

// credit issues the credit note of a refund of inv within tx: the refund
// split into net and tax in proportion to what is left of the invoice.
// It names the invoice's buyer (the document it corrects), the seller as
// configured now, and stays linked to the invoice's case and patient as
// far as an erasure left them.
func (s *Service) credit(ctx context.Context, tx *sql.Tx, inv store.Document, refundID string, amount int64, currency string) error {
	if currency != inv.Currency {
		return fmt.Errorf("refund %s in %s of invoice %s in %s", refundID, currency, inv.Number, inv.Currency)
	}
	credits, err := s.store.Credits(ctx, tx, inv.ID)
	if err != nil {
		return err
	}
	left := domain.Totals{Net: inv.Net + credits.Net, Tax: inv.Tax + credits.Tax, Total: inv.Total + credits.Total}
	net, tax, err := domain.Split(amount, left)
	if err != nil {
		return fmt.Errorf("refund %s of invoice %s: %w", refundID, inv.Number, err)
	}
	lines, totals := domain.CreditLines(inv.Lines, inv.Number, net, tax)
	d := store.Document{ID: uuid.NewString(), CaseID: inv.CaseID, PaymentID: inv.PaymentID, CustomerID: inv.CustomerID,
		CreditedInvoiceID: inv.ID, CreditedNumber: inv.Number, RefundID: refundID, Currency: inv.Currency,
		Seller: s.cfg.seller(), Buyer: inv.Buyer, Lines: lines, Totals: totals}
	_, err = s.issue(ctx, tx, domain.CreditNote, inv.Region, d)
	return err
}

// forgetPatient carries out a patient's erasure: their invoices and credit
// notes are KEPT as issued — the buyer's name (the only data about the
// buyer an invoice carries), the consultation's description, amounts —
// because tax law requires the seller to keep every invoice unchanged for
// years (VAT Directive 2006/112/EC art. 244–248 and art. 233 on the
// integrity of their content; e.g. 10 years in Germany, §147 AO; 6 in
// France), and GDPR art. 17(3)(b) exempts data kept to comply with a
// legal obligation. What the law does not need goes:
// the link from the documents to the patient's id (which only served the
// patient's own listing) and the Idempotency-Key records naming them.
// docs/retention.md lists it.
func (s *Service) forgetPatient(ctx context.Context, tx *sql.Tx, patientID string) error {
	n, err := s.store.ForgetCustomer(ctx, tx, patientID)
	if err != nil {
		return err
	}
	if err := s.ForgetRequests(ctx, tx, patientID); err != nil {
		return err
	}
	s.Log.InfoContext(ctx, "patient erased: invoices kept for legal retention, unlinked", "documents", n)
	return nil
}

// forgetCase unlinks an erased case's documents from its id, keeping them
// as issued (see forgetPatient).
func (s *Service) forgetCase(ctx context.Context, tx *sql.Tx, caseID string) error {
	n, err := s.store.ForgetCase(ctx, tx, caseID)
	if err != nil {
		return err
	}
	s.Log.InfoContext(ctx, "case erased: invoices kept for legal retention, unlinked", "documents", n)
	return nil
}
