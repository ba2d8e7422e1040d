package events

import (
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
)

// Producers of the financial events.
const (
	Payments  = "payments"
	Invoicing = "invoicing"
	Payouts   = "payouts"
)

// Payment is payment.succeeded: a case was paid for. It carries the
// quote's breakdown so that invoicing can issue the invoice without asking
// anyone. Amounts are integer minor units of an ISO 4217 currency, never
// floats; Amount = NetAmount - DiscountAmount + TaxAmount.
type Payment struct {
	PaymentID      string          `json:"paymentId" format:"uuid"`
	CaseID         string          `json:"caseId,omitempty" format:"uuid" doc:"absent once the patient is erased"`
	CustomerID     string          `json:"customerId,omitempty" format:"uuid" doc:"absent once the patient is erased"`
	QuoteID        string          `json:"quoteId" format:"uuid"`
	Region         vocab.Region    `json:"region" example:"EU"`
	Specialty      vocab.Specialty `json:"specialty"`
	Urgency        vocab.Urgency   `json:"urgency"`
	NetAmount      int64           `json:"netAmount" minimum:"0" doc:"the catalogue price before discount and tax, minor units"`
	DiscountAmount int64           `json:"discountAmount" minimum:"0" doc:"minor units taken off the net amount"`
	TaxRate        int             `json:"taxRate" minimum:"0" doc:"basis points: 2000 is 20 %"`
	TaxAmount      int64           `json:"taxAmount" minimum:"0" doc:"minor units"`
	Amount         int64           `json:"amount" minimum:"0" doc:"what was charged, minor units, e.g. cents"`
	Currency       string          `json:"currency" example:"EUR" pattern:"^[A-Z]{3}$"`
	Provider       string          `json:"provider" example:"sandbox"`
	Timestamp      time.Time       `json:"timestamp"`
}

// PaymentFailed is payment.failed: an attempt to pay for a case did not
// succeed. Code is the provider's decline code; never a card detail.
type PaymentFailed struct {
	PaymentID  string    `json:"paymentId" format:"uuid"`
	CaseID     string    `json:"caseId,omitempty" format:"uuid" doc:"absent once the patient is erased"`
	CustomerID string    `json:"customerId,omitempty" format:"uuid" doc:"absent once the patient is erased"`
	Amount     int64     `json:"amount" minimum:"0"`
	Currency   string    `json:"currency" example:"EUR" pattern:"^[A-Z]{3}$"`
	Code       string    `json:"code" example:"card_declined"`
	Timestamp  time.Time `json:"timestamp"`
}

// PaymentRefunded is payment.refunded: money went back to the patient.
// Amount is this refund's, at most what was left of the payment. A full
// refund (nothing left) cancels the case; a partial one (a goodwill
// gesture) does not, nor does an orphaned case's (CASE_ORPHANED), which
// waits in the AI triage where an admin may still rescue it.
type PaymentRefunded struct {
	PaymentID  string    `json:"paymentId" format:"uuid"`
	RefundID   string    `json:"refundId" format:"uuid"`
	CaseID     string    `json:"caseId,omitempty" format:"uuid" doc:"absent once the patient is erased"`
	CustomerID string    `json:"customerId,omitempty" format:"uuid" doc:"absent once the patient is erased"`
	Amount     int64     `json:"amount" minimum:"0" doc:"minor units refunded"`
	Currency   string    `json:"currency" example:"EUR" pattern:"^[A-Z]{3}$"`
	Full       bool      `json:"full" doc:"whether the payment is now refunded in full"`
	Reason     string    `json:"reason" enum:"ADMIN,CASE_CANCELLED,CASE_ORPHANED"`
	Timestamp  time.Time `json:"timestamp"`
}

// InvoiceIssued is invoice.issued: an invoice or a credit note got its
// number.
type InvoiceIssued struct {
	InvoiceID  string    `json:"invoiceId" format:"uuid"`
	Number     string    `json:"number" example:"INV-EU-2026-000001"`
	Kind       string    `json:"kind" enum:"INVOICE,CREDIT_NOTE"`
	CaseID     string    `json:"caseId,omitempty" format:"uuid" doc:"absent once the patient is erased"`
	PaymentID  string    `json:"paymentId" format:"uuid"`
	CustomerID string    `json:"customerId,omitempty" format:"uuid" doc:"absent once the patient is erased"`
	Total      int64     `json:"total" doc:"minor units, tax included; negative for a credit note"`
	Currency   string    `json:"currency" example:"EUR" pattern:"^[A-Z]{3}$"`
	Timestamp  time.Time `json:"timestamp"`
}

// PayoutBatchCreated is payout.batch_created: an admin gathered a period's
// unpaid earnings into a batch.
type PayoutBatchCreated struct {
	BatchID       string    `json:"batchId" format:"uuid"`
	PeriodStart   string    `json:"periodStart" format:"date"`
	PeriodEnd     string    `json:"periodEnd" format:"date"`
	Professionals int       `json:"professionals" minimum:"0"`
	Total         int64     `json:"total" minimum:"0" doc:"minor units"`
	Currency      string    `json:"currency" example:"EUR" pattern:"^[A-Z]{3}$"`
	Timestamp     time.Time `json:"timestamp"`
}

// PayoutPaid is payout.paid, one per professional of a batch marked paid.
type PayoutPaid struct {
	BatchID        string    `json:"batchId" format:"uuid"`
	ProfessionalID string    `json:"professionalId" format:"uuid"`
	Amount         int64     `json:"amount" minimum:"0" doc:"minor units"`
	Currency       string    `json:"currency" example:"EUR" pattern:"^[A-Z]{3}$"`
	Timestamp      time.Time `json:"timestamp"`
}

var (
	PaymentSucceededV1 = bus.Contract[Payment]{Type: "payment.succeeded", Version: 1, Producer: Payments,
		Summary: "A case was paid for: it is submitted, and invoiced."}
	PaymentFailedV1 = bus.Contract[PaymentFailed]{Type: "payment.failed", Version: 1, Producer: Payments,
		Summary: "An attempt to pay for a case failed; the case still awaits payment."}
	PaymentRefundedV1 = bus.Contract[PaymentRefunded]{Type: "payment.refunded", Version: 1, Producer: Payments,
		Summary: "A case's payment was refunded: a credit note is issued; a full refund cancels the case unless it is orphaned."}
	InvoiceIssuedV1 = bus.Contract[InvoiceIssued]{Type: "invoice.issued", Version: 1, Producer: Invoicing,
		Summary: "An invoice or a credit note was issued."}
	PayoutBatchCreatedV1 = bus.Contract[PayoutBatchCreated]{Type: "payout.batch_created", Version: 1, Producer: Payouts,
		Summary: "A payout batch gathered a period's earnings."}
	PayoutPaidV1 = bus.Contract[PayoutPaid]{Type: "payout.paid", Version: 1, Producer: Payouts,
		Summary: "A professional's payout of a batch was paid."}
)
