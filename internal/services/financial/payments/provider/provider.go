// Package provider is the one interface payments charges through, with
// Stripe's model of it: a PaymentIntent is created and confirmed at once
// with a payment method the client got from the provider (never a card
// number: PCI DSS scope stays with the provider), may ask for a 3-D
// Secure step, and is refunded in part or in full. Every call that moves
// money carries an idempotency key, so a retry or a recovery after a crash
// never charges or refunds twice. Implementations: sandbox (embedded,
// Stripe's test payment methods) and stripe (stripe-go).
package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
)

// Names of the providers.
const (
	Sandbox = "sandbox"
	Stripe  = "stripe"
)

// MetadataPayment is the metadata key naming our payment on an intent, by
// which recovery and reconciliation find the intent of a payment whose id
// the provider's answer never reached us with.
const MetadataPayment = "payment_id"

// NextAction is what the client must do before a charge can complete.
type NextAction struct {
	// Type is the provider's: "use_stripe_sdk" (Stripe.js handles the
	// 3-D Secure challenge with the client secret) or "redirect_to_url".
	Type         string
	ClientSecret string
	RedirectURL  string
}

// Intent is a charge at the provider.
type Intent struct {
	ID             string
	Status         domain.Charge
	Amount         int64
	Currency       string // ISO 4217, upper case
	AmountRefunded int64
	NextAction     *NextAction // with ChargeRequiresAction
	// FailureCode says why a failed charge failed: card_declined,
	// insufficient_funds, … (domain.FailureCode).
	FailureCode string
	Metadata    map[string]string
	Created     time.Time
}

// CreateParams asks for a charge, confirmed at once.
type CreateParams struct {
	Amount         int64
	Currency       string
	PaymentMethod  string // the provider's id of it, e.g. pm_card_visa
	IdempotencyKey string
	Metadata       map[string]string
}

// Refund is a refund at the provider.
type Refund struct {
	ID       string
	IntentID string
	Amount   int64
	Status   string // "succeeded", "pending", "failed"
}

// Provider charges and refunds.
type Provider interface {
	Name() string
	// CreateIntent charges p.Amount with p.PaymentMethod. A decline is
	// not an error: it is an intent with ChargeFailed and its code.
	CreateIntent(ctx context.Context, p CreateParams) (Intent, error)
	// Confirm completes an intent whose next action the client took.
	Confirm(ctx context.Context, intentID, idempotencyKey string) (Intent, error)
	// Cancel abandons an intent that has not succeeded (one waiting for
	// its 3-D Secure step): it ends ChargeCanceled. An intent that
	// succeeded is not cancelled: that is an Invalid error
	// (payment_intent_unexpected_state), and Get tells what it is.
	Cancel(ctx context.Context, intentID, idempotencyKey string) (Intent, error)
	// Refund gives amount of the intent's charge back.
	Refund(ctx context.Context, intentID string, amount int64, idempotencyKey, refundID string) (Refund, error)
	Get(ctx context.Context, intentID string) (Intent, error)
	// List is every intent created since, newest first.
	List(ctx context.Context, since time.Time) ([]Intent, error)
}

// ErrorKind classifies a provider's error.
type ErrorKind int

const (
	// Unavailable: the provider could not be reached or failed; the call
	// may be sent again with the same idempotency key.
	Unavailable ErrorKind = iota
	// Invalid: the request is wrong (an unknown payment method, an amount
	// over what is left); sending it again fails again.
	Invalid
	// NotFound: no such intent.
	NotFound
	// InProgress: a request with the same idempotency key is being
	// processed; try again shortly.
	InProgress
)

// Error is a provider's error. Message is the provider's, safe to log
// (never a card detail).
type Error struct {
	Kind    ErrorKind
	Code    string
	Param   string
	Message string
	Err     error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("payment provider: %s", e.Message)
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf is err's kind; an error that is not a provider's is Unavailable.
func KindOf(err error) ErrorKind {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Kind
	}
	return Unavailable
}
