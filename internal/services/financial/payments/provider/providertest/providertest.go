// Package providertest is the contract every payment provider keeps, run
// against each: Stripe's test payment methods, idempotency keys that
// never charge or refund twice, 3-D Secure completed by Confirm or
// abandoned by Cancel, refunds
// never beyond the charge, listing for reconciliation.
package providertest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider"
)

// Run checks p; charges counts the charges p made so far.
func Run(t *testing.T, p provider.Provider, charges func() int) {
	ctx := t.Context()
	start := time.Now().Add(-time.Minute)
	create := func(method, key string) (provider.Intent, error) {
		return p.CreateIntent(ctx, provider.CreateParams{Amount: 10800, Currency: "EUR", PaymentMethod: method,
			IdempotencyKey: key, Metadata: map[string]string{provider.MetadataPayment: key}})
	}
	key := uuid.NewString()
	in, err := create("pm_card_visa", key)
	if err != nil || in.Status != domain.ChargeSucceeded || in.Amount != 10800 || in.Currency != "EUR" || in.ID == "" ||
		in.Metadata[provider.MetadataPayment] != key {
		t.Fatalf("visa: %+v %v", in, err)
	}
	before := charges()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			again, err := create("pm_card_visa", key)
			if err != nil && provider.KindOf(err) != provider.InProgress {
				t.Errorf("the same key again: %v", err)
			}
			if err == nil && again.ID != in.ID {
				t.Errorf("the same key made intent %s, first %s", again.ID, in.ID)
			}
		})
	}
	wg.Wait()
	if n := charges(); n != before {
		t.Errorf("the same key charged %d times more", n-before)
	}
	if _, err := create("pm_card_chargeDeclined", key); provider.KindOf(err) != provider.Invalid {
		t.Errorf("the key with other parameters: %v", err)
	}

	for method, code := range map[string]string{"pm_card_chargeDeclined": "card_declined",
		"pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds"} {
		got, err := create(method, uuid.NewString())
		if err != nil || got.Status != domain.ChargeFailed || got.FailureCode != code {
			t.Errorf("%s: %+v %v", method, got, err)
		}
	}
	if _, err := create("pm_card_nonexistent", uuid.NewString()); provider.KindOf(err) != provider.Invalid {
		t.Errorf("an unknown method: %v", err)
	}

	tds, err := create("pm_card_threeDSecure2Required", uuid.NewString())
	if err != nil || tds.Status != domain.ChargeRequiresAction || tds.NextAction == nil || tds.NextAction.ClientSecret == "" {
		t.Fatalf("3-D Secure: %+v %v", tds, err)
	}
	for range 2 {
		done, err := p.Confirm(ctx, tds.ID, "confirm-"+tds.ID)
		if err != nil || done.Status != domain.ChargeSucceeded || done.ID != tds.ID {
			t.Fatalf("confirm: %+v %v", done, err)
		}
	}

	// Cancel abandons an intent at its 3-D Secure step; the same
	// cancellation again answers the same; a cancelled intent is not
	// completed by Confirm, and one that succeeded cannot be cancelled.
	abandoned, err := create("pm_card_threeDSecure2Required", uuid.NewString())
	if err != nil || abandoned.Status != domain.ChargeRequiresAction {
		t.Fatalf("3-D Secure to abandon: %+v %v", abandoned, err)
	}
	cancelKey := "cancel-" + abandoned.ID
	for range 2 {
		got, err := p.Cancel(ctx, abandoned.ID, cancelKey)
		if err != nil || got.Status != domain.ChargeCanceled || got.ID != abandoned.ID || got.NextAction != nil {
			t.Fatalf("cancel: %+v %v", got, err)
		}
	}
	if got, err := p.Get(ctx, abandoned.ID); err != nil || got.Status != domain.ChargeCanceled {
		t.Errorf("get of a cancelled intent: %+v %v", got, err)
	}
	// Confirming it never completes it: refused, or answered cancelled.
	if got, err := p.Confirm(ctx, abandoned.ID, "confirm-"+abandoned.ID); (err == nil && got.Status != domain.ChargeCanceled) ||
		(err != nil && provider.KindOf(err) != provider.Invalid) {
		t.Errorf("confirm of a cancelled intent: %+v %v", got, err)
	}
	for _, id := range []string{in.ID, tds.ID} {
		_, err := p.Cancel(ctx, id, "cancel-"+id)
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Kind != provider.Invalid || pe.Code != "payment_intent_unexpected_state" {
			t.Errorf("cancel of a succeeded intent: %v", err)
		}
		if got, err := p.Get(ctx, id); err != nil || got.Status != domain.ChargeSucceeded {
			t.Errorf("a succeeded intent after a refused cancel: %+v %v", got, err)
		}
	}
	if _, err := p.Cancel(ctx, "pi_missing", "cancel-missing"); provider.KindOf(err) != provider.NotFound {
		t.Errorf("cancel of no intent: %v", err)
	}

	refundKey := uuid.NewString()
	r, err := p.Refund(ctx, in.ID, 800, refundKey, refundKey)
	if err != nil || r.Amount != 800 || r.ID == "" {
		t.Fatalf("refund: %+v %v", r, err)
	}
	if again, err := p.Refund(ctx, in.ID, 800, refundKey, refundKey); err != nil || again.ID != r.ID {
		t.Errorf("the refund's key again: %+v %v", again, err)
	}
	if _, err := p.Refund(ctx, in.ID, 10001, uuid.NewString(), ""); provider.KindOf(err) != provider.Invalid {
		t.Errorf("a refund beyond the charge: %v", err)
	}
	got, err := p.Get(ctx, in.ID)
	if err != nil || got.AmountRefunded != 800 || got.Status != domain.ChargeSucceeded {
		t.Errorf("get: %+v %v", got, err)
	}
	if _, err := p.Get(ctx, "pi_missing"); provider.KindOf(err) != provider.NotFound {
		t.Errorf("get of no intent: %v", err)
	}
	list, err := p.List(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, it := range list {
		ids[it.ID] = true
	}
	if !ids[in.ID] || !ids[tds.ID] {
		t.Errorf("list lacks intents: %v", ids)
	}
	if later, err := p.List(ctx, time.Now().Add(time.Hour)); err != nil || len(later) != 0 {
		t.Errorf("list of the future: %d %v", len(later), err)
	}
}
