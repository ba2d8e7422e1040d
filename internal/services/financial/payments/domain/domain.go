// Package domain holds the rules of payments in plain Go: the lifecycle of
// a payment, which only ever moves forward (so a late or repeated provider
// event changes nothing), what may be refunded, when a case's payment is
// refunded by itself, and the idempotency keys the provider is called
// with. It does no I/O.
package domain

import (
	"fmt"
	"strings"
)

// Status is a payment's state, as the API shows it.
type Status string

const (
	// Processing: the payment is recorded and the provider's answer is
	// pending (or was lost in a crash: recovery asks the provider).
	Processing Status = "PROCESSING"
	// RequiresAction: the provider asks for a 3-D Secure step, which the
	// client completes and then confirms.
	RequiresAction Status = "REQUIRES_ACTION"
	Succeeded      Status = "SUCCEEDED"
	Failed         Status = "FAILED"
	// Canceled: an attempt abandoned at its 3-D Secure step, cancelled at
	// the provider for a new attempt. Final, like Failed: it frees the
	// case — unless the provider reports the charge succeeded after all
	// (Advance).
	Canceled          Status = "CANCELED"
	PartiallyRefunded Status = "PARTIALLY_REFUNDED"
	Refunded          Status = "REFUNDED"
)

// Statuses are every status, in lifecycle order.
var Statuses = []Status{Processing, RequiresAction, Succeeded, Failed, Canceled, PartiallyRefunded, Refunded}

// rank orders the lifecycle: a payment moves only to a higher rank.
// Succeeded, Failed and Canceled are the final outcomes of the charge;
// refunds come after a success only.
var rank = map[Status]int{Processing: 0, RequiresAction: 1, Succeeded: 2, Failed: 2, Canceled: 2, PartiallyRefunded: 3, Refunded: 4}

// Valid reports whether s is a status.
func (s Status) Valid() bool { _, ok := rank[s]; return ok }

// Open reports whether the payment still holds its case: one open payment
// per case at most (a failed or canceled one frees the case for another
// attempt).
func (s Status) Open() bool { return s.Valid() && s != Failed && s != Canceled }

// Paid reports whether the charge succeeded (refunded or not).
func (s Status) Paid() bool { return s == Succeeded || s == PartiallyRefunded || s == Refunded }

// Charge is the outcome of a charge as a provider reports it.
type Charge string

const (
	ChargePending        Charge = "pending"         // processing at the provider
	ChargeRequiresAction Charge = "requires_action" // 3-D Secure
	ChargeSucceeded      Charge = "succeeded"
	ChargeFailed         Charge = "failed" // declined
	ChargeCanceled       Charge = "canceled"
)

// Advance is the status a payment in from moves to when the provider
// reports c, and whether that is a move at all. Only the charge's
// outcome moves a payment this way: refunds have their own steps.
// Anything that would go backwards (a late "processing" after
// "succeeded", a "requires_action" replayed after the confirmation) or
// sideways (a "failed" for a payment that succeeded) changes nothing.
// Canceled is final but for one move: a charge the provider reports
// succeeded is money taken, whatever we asked for, and the payment is
// recorded as it is (Succeeded).
func Advance(from Status, c Charge) (Status, bool) {
	var to Status
	switch c {
	case ChargePending:
		to = Processing
	case ChargeRequiresAction:
		to = RequiresAction
	case ChargeSucceeded:
		to = Succeeded
	case ChargeFailed:
		to = Failed
	case ChargeCanceled:
		to = Canceled
	default:
		return from, false
	}
	if from == Canceled {
		if to == Succeeded {
			return Succeeded, true
		}
		return from, false
	}
	if !from.Valid() || rank[to] <= rank[from] {
		return from, false
	}
	return to, true
}

// Refund reasons, as payment.refunded carries them.
const (
	ReasonAdmin         = "ADMIN"
	ReasonCaseCancelled = "CASE_CANCELLED"
	ReasonCaseOrphaned  = "CASE_ORPHANED"
)

// Refundable is what is left to refund of a payment of amount of which
// refunded (done or under way) went back already.
func Refundable(status Status, amount, refunded int64) int64 {
	if !status.Paid() || refunded >= amount {
		return 0
	}
	return amount - refunded
}

// RefundAmount is the amount of a refund asked for: requested, or all that
// is left when requested is nil. It is never more than what is left.
func RefundAmount(status Status, amount, refunded int64, requested *int64) (int64, error) {
	left := Refundable(status, amount, refunded)
	if left == 0 {
		return 0, ErrNothingToRefund
	}
	if requested == nil {
		return left, nil
	}
	switch r := *requested; {
	case r <= 0:
		return 0, fmt.Errorf("%w: a refund is of a positive amount", ErrBadRefund)
	case r > left:
		return 0, fmt.Errorf("%w: %d minor units are left to refund", ErrBadRefund, left)
	default:
		return r, nil
	}
}

// ErrNothingToRefund: the payment did not succeed or was refunded in full.
var ErrNothingToRefund = fmt.Errorf("nothing left to refund")

// ErrBadRefund: the amount asked for cannot be refunded.
var ErrBadRefund = fmt.Errorf("refund amount")

// AfterRefunds is the status of a paid payment of amount once refunded of
// it went back.
func AfterRefunds(amount, refunded int64) Status {
	switch {
	case refunded <= 0:
		return Succeeded
	case refunded >= amount:
		return Refunded
	default:
		return PartiallyRefunded
	}
}

// CaseClosed is how a case ended, for the refund of its payment.
type CaseClosed string

const (
	CaseCancelled CaseClosed = "CANCELLED"
	CaseOrphaned  CaseClosed = "ORPHANED"
)

// AutoRefund says whether a case that closed as closed, after it was
// assigned to a professional or not, has its payment refunded in full, and
// the reason. A case cancelled before any professional took it is
// refunded; one cancelled later is not (the work was begun: an admin
// decides). A case orphaned — automatic processing gave up on it — is
// refunded either way.
func AutoRefund(closed CaseClosed, assigned bool) (reason string, ok bool) {
	switch closed {
	case CaseCancelled:
		return ReasonCaseCancelled, !assigned
	case CaseOrphaned:
		return ReasonCaseOrphaned, true
	}
	return "", false
}

// IntentKey is the idempotency key of the provider call that charges
// payment id: whoever sends it again (a retry, recovery after a crash)
// gets the same charge, never a second one.
func IntentKey(paymentID string) string { return "payment-" + paymentID }

// ConfirmKey is the idempotency key of the confirmation of payment id.
func ConfirmKey(paymentID string) string { return "confirm-" + paymentID }

// CancelKey is the idempotency key of the cancellation of payment id.
func CancelKey(paymentID string) string { return "cancel-" + paymentID }

// RefundKey is the idempotency key of the provider call of refund id.
func RefundKey(refundID string) string { return "refund-" + refundID }

// FailureCode is the code a failed charge is reported with: the decline
// code where it says more than the generic one ("insufficient_funds"),
// else the error code ("card_declined"), else "payment_failed".
func FailureCode(code, declineCode string) string {
	switch d := strings.TrimSpace(declineCode); {
	case d != "" && d != "generic_decline":
		return d
	case strings.TrimSpace(code) != "":
		return strings.TrimSpace(code)
	case d != "":
		return "card_declined"
	}
	return "payment_failed"
}
