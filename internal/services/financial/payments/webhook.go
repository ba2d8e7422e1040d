package payments

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/google/uuid"
	stripego "github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider/stripe"
	"github.com/secondopinion/platform/internal/services/financial/payments/store"
)

// webhookSecret is the signing secret of provider's endpoint; "" when it
// has none (the endpoint does not exist).
func (s *Service) webhookSecret(name string) string {
	switch name {
	case provider.Stripe:
		return s.cfg.StripeWebhookSecret
	case provider.Sandbox:
		return s.cfg.SandboxWebhookSecret
	}
	return ""
}

// webhook handles one delivery of a provider's event. Both providers sign
// as Stripe does (Stripe-Signature: t=…,v1=HMAC-SHA256), and send
// Stripe's event objects. Each event is handled once (by its id, in the
// transaction of its effect); a payment only moves forward, so a late or
// reordered event changes nothing it should not.
func (s *Service) webhook(ctx context.Context, name string, payload []byte, signature string) error {
	secret := s.webhookSecret(name)
	if secret == "" {
		return fault.NotFound("webhook endpoint")
	}
	ev, err := webhook.ConstructEventWithOptions(payload, signature, secret, webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil || ev.ID == "" || ev.Data == nil {
		return &fault.Error{Kind: fault.KindMalformed, Title: "Invalid webhook signature",
			Detail: "the payload is not signed with this endpoint's secret, or too long ago", Field: "header.Stripe-Signature"}
	}
	var intent *provider.Intent
	var charge *stripego.Charge
	switch ev.Type {
	case "payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.processing",
		"payment_intent.requires_action", "payment_intent.canceled":
		var pi stripego.PaymentIntent
		if err := json.Unmarshal(ev.Data.Raw, &pi); err != nil || pi.ID == "" {
			return fault.Invalid("body", "the event's object is not a payment intent")
		}
		in := stripe.Intent(&pi)
		intent = &in
	case "charge.refunded":
		charge = &stripego.Charge{}
		if err := json.Unmarshal(ev.Data.Raw, charge); err != nil || charge.PaymentIntent == nil || charge.PaymentIntent.ID == "" {
			return fault.Invalid("body", "the event's object is not a charge of a payment intent")
		}
	}
	var refund bool
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		// A redelivered or reordered event changes nothing by itself: a
		// payment only moves forward, and refunds are reconciled with
		// the charge's total.
		switch {
		case intent != nil:
			p, ok, err := s.ofIntent(ctx, tx, name, intent.ID, intent.Metadata)
			if err != nil || !ok {
				return err
			}
			refund, err = s.advance(ctx, tx, p.ID, *intent)
			return err
		case charge != nil:
			p, ok, err := s.ofIntent(ctx, tx, name, charge.PaymentIntent.ID, charge.Metadata)
			if err != nil || !ok {
				return err
			}
			refund, err = s.chargeRefunded(ctx, tx, p, charge)
			return err
		}
		return nil // an event payments does not follow
	})
	if refund {
		s.wake()
	}
	return err
}

// ofIntent is the payment of a provider's intent: by the intent's id, or
// by our payment's id in its metadata when the intent's id has not
// reached us yet (the webhook outran the answer to our own call). An
// intent that is none of ours is ignored.
func (s *Service) ofIntent(ctx context.Context, tx *sql.Tx, name, intentID string, meta map[string]string) (store.Payment, bool, error) {
	p, err := s.store.ByIntent(ctx, tx, name, intentID)
	if err == nil {
		return p, true, nil
	}
	if !fault.Is(err, fault.KindNotFound) {
		return store.Payment{}, false, err
	}
	if id := meta[provider.MetadataPayment]; id != "" {
		if _, perr := uuid.Parse(id); perr == nil {
			p, err = s.store.Get(ctx, tx, id)
			if err == nil && p.Provider == name && (p.IntentID == "" || p.IntentID == intentID) {
				return p, true, nil
			}
			if err != nil && !fault.Is(err, fault.KindNotFound) {
				return store.Payment{}, false, err
			}
		}
	}
	s.Log.WarnContext(ctx, "webhook of an intent that is none of ours", "provider", name, "intent", intentID)
	return store.Payment{}, false, nil
}

// chargeRefunded reconciles the refunds of p with the provider's charge:
// refunds we made are ours already (done or under way); what the provider
// refunded beyond them (the Stripe dashboard) is recorded as an admin's
// refund, and published. A charge refunded implies it was paid, so a
// payment still PROCESSING completes first.
func (s *Service) chargeRefunded(ctx context.Context, tx *sql.Tx, p store.Payment, ch *stripego.Charge) (bool, error) {
	refund := false
	if !p.Status.Paid() {
		var err error
		if refund, err = s.advance(ctx, tx, p.ID, provider.Intent{ID: ch.PaymentIntent.ID, Status: domain.ChargeSucceeded}); err != nil {
			return false, err
		}
	}
	reserved, err := s.store.Reserved(ctx, tx, p.ID)
	if err != nil {
		return false, err
	}
	extra := min(ch.AmountRefunded, p.Amount) - reserved
	if extra <= 0 {
		return refund, nil
	}
	r := store.Refund{ID: uuid.Must(uuid.NewV7()).String(), PaymentID: p.ID, Amount: extra, Reason: domain.ReasonAdmin,
		Status: store.RefundSucceeded, Note: "refunded at the provider", CreatedAt: s.now()}
	if _, err := s.store.InsertRefund(ctx, tx, r); err != nil {
		return false, err
	}
	return refund, s.refunded(ctx, tx, r)
}
