package payments_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/payments"
	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider/sandbox"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider/stripefake"
)

const stripeWebhookSecret = "whsec_test_stripe"

// withStripe is a harness whose payments go through a local Stripe.
func withStripe(t *testing.T, db *sqldb.DB) (*harness, *stripefake.Server) {
	fake := stripefake.New()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	h := newHarness(t, db, payments.Config{Provider: "stripe", StripeSecretKey: stripefake.Key, StripeAPIBase: srv.URL,
		StripeWebhookSecret: stripeWebhookSecret})
	return h, fake
}

func (h *harness) webhook(provider, secret, eventID, typ string, object map[string]any) answer {
	h.t.Helper()
	payload, sig := stripefake.Sign(secret, eventID, typ, object)
	return h.do(http.MethodPost, "/api/v1/webhooks/"+provider, "", "", payload, "Stripe-Signature", sig)
}

func TestStripePayments(t *testing.T) {
	testkit.ForEachEngine(t, payments.Name, func(t *testing.T, db *sqldb.DB) {
		h, fake := withStripe(t, db)
		caseID, p := h.paid(sandbox.Visa)
		if p.Provider != "stripe" || p.Status != domain.Succeeded {
			t.Fatalf("payment %+v", p)
		}
		declined := h.newCase(patient, "AWAITING_PAYMENT")
		a := h.pay("patient", "d", declined, sandbox.InsufficientFunds)
		if a.status != http.StatusPaymentRequired || a.problem(t)["detail"] != "insufficient_funds" {
			t.Errorf("decline: %d %s", a.status, a.body)
		}
		tds := h.newCase(patient, "AWAITING_PAYMENT")
		pending := h.pay("patient", "3ds", tds, sandbox.ThreeDSecureNeeded).payment(t)
		if pending.Status != domain.RequiresAction || pending.NextAction == nil || pending.NextAction.ClientSecret == "" {
			t.Fatalf("3-D Secure: %+v", pending)
		}
		if got := h.do(http.MethodPost, "/api/v1/payments/"+pending.ID+"/confirm", "patient", "", nil).payment(t); got.Status != domain.Succeeded {
			t.Errorf("confirm: %+v", got)
		}
		if got := h.refund(p.ID, "", map[string]any{"amount": 1000}).payment(t); got.RefundedAmount != 1000 {
			t.Errorf("refund: %+v", got)
		}
		if got := h.events(caseID); !slices.Equal(got, []string{"payment.succeeded 10800", "payment.refunded 1000 ADMIN"}) {
			t.Errorf("events %v", got)
		}
		if n := fake.Creates(); n != 3 {
			t.Errorf("%d charges", n)
		}
	})
}

func TestWebhooks(t *testing.T) {
	testkit.ForEachEngine(t, payments.Name, func(t *testing.T, db *sqldb.DB) {
		h, fake := withStripe(t, db)

		// A bad signature is refused; so is the sandbox's secret on
		// Stripe's endpoint.
		caseID := h.newCase(patient, "AWAITING_PAYMENT")
		pending := h.pay("patient", "3ds", caseID, sandbox.ThreeDSecureNeeded).payment(t)
		var intentID string
		_ = db.QueryRow(`SELECT intent_id FROM payments WHERE id = $1`, pending.ID).Scan(&intentID)
		succeeded := fake.Intent(intentID)
		succeeded["status"] = "succeeded"
		for _, secret := range []string{"whsec_wrong", "whsec_test_sandbox"} {
			if a := h.webhook("stripe", secret, "evt_1", "payment_intent.succeeded", succeeded); a.status != http.StatusBadRequest {
				t.Errorf("signed with %s: %d %s", secret, a.status, a.body)
			}
		}
		if a := h.do(http.MethodPost, "/api/v1/webhooks/stripe", "", "", []byte(`{"id":"evt_1"}`)); a.status != http.StatusBadRequest {
			t.Errorf("unsigned: %d %s", a.status, a.body)
		}
		if got := h.get("patient", pending.ID); got.Status != domain.RequiresAction {
			t.Fatalf("an unsigned event moved the payment: %+v", got)
		}

		// Out of order and replayed: succeeded completes the payment once;
		// a late requires_action or processing changes nothing.
		processing := fake.Intent(intentID)
		processing["status"] = "processing"
		deliveries := []struct{ id, typ string }{{"evt_2", "payment_intent.succeeded"}, {"evt_2", "payment_intent.succeeded"},
			{"evt_3", "payment_intent.processing"}, {"evt_4", "payment_intent.requires_action"}, {"evt_5", "payment_intent.succeeded"}}
		for _, d := range deliveries {
			obj := succeeded
			switch d.typ {
			case "payment_intent.processing":
				obj = processing
			case "payment_intent.requires_action":
				obj = fake.Intent(intentID)
			}
			if a := h.webhook("stripe", stripeWebhookSecret, d.id, d.typ, obj); a.status != http.StatusOK {
				t.Fatalf("%s %s: %d %s", d.id, d.typ, a.status, a.body)
			}
			if got := h.get("admin", pending.ID); got.Status != domain.Succeeded {
				t.Fatalf("after %s %s: %s", d.id, d.typ, got.Status)
			}
		}
		if got := h.events(caseID); !slices.Equal(got, []string{"payment.succeeded 10800"}) {
			t.Errorf("events %v", got)
		}

		// An intent that is none of ours is acknowledged and ignored.
		obj := map[string]any{"id": "pi_unseen", "object": "payment_intent", "status": "succeeded", "amount": 10800,
			"currency": "eur", "metadata": map[string]any{"payment_id": uuid.NewString()}}
		if a := h.webhook("stripe", stripeWebhookSecret, "evt_6", "payment_intent.succeeded", obj); a.status != http.StatusOK {
			t.Errorf("an intent that is none of ours: %d %s", a.status, a.body)
		}

		// Refunded at Stripe's dashboard: charge.refunded records it, once,
		// and a stale charge.refunded changes nothing.
		fake.RefundOutside(intentID, 300)
		first := fake.Charge(intentID)
		fake.RefundOutside(intentID, 200)
		second := fake.Charge(intentID)
		for _, d := range []struct {
			id     string
			charge map[string]any
		}{{"evt_8", second}, {"evt_7", first}, {"evt_8", second}} {
			if a := h.webhook("stripe", stripeWebhookSecret, d.id, "charge.refunded", d.charge); a.status != http.StatusOK {
				t.Fatalf("charge.refunded: %d %s", a.status, a.body)
			}
		}
		if got := h.get("admin", pending.ID); got.RefundedAmount != 500 || got.Status != domain.PartiallyRefunded {
			t.Errorf("after charge.refunded: %+v", got)
		}
		if got := h.events(caseID); !slices.Equal(got, []string{"payment.succeeded 10800", "payment.refunded 500 ADMIN"}) {
			t.Errorf("events %v", got)
		}
	})
}

// A payment whose charge answer was lost is completed by the provider's
// webhook, found through our id in the intent's metadata.
func TestWebhookCompletesAProcessingPayment(t *testing.T) {
	testkit.ForEachEngine(t, payments.Name, func(t *testing.T, db *sqldb.DB) {
		l := &lossy{Provider: sandbox.New(db, nil)}
		h := newHarness(t, db, payments.Config{Providers: []provider.Provider{l}})
		caseID := h.newCase(patient, "AWAITING_PAYMENT")
		l.lose.Store(1)
		h.pay("patient", "lost", caseID, sandbox.Visa)
		var payID, intentID string
		_ = db.QueryRow(`SELECT id FROM payments WHERE case_id = $1`, caseID).Scan(&payID)
		_ = db.QueryRow(`SELECT id FROM sandbox_intents`).Scan(&intentID)
		obj := map[string]any{"id": intentID, "object": "payment_intent", "status": "succeeded", "amount": 10800,
			"currency": "eur", "metadata": map[string]any{"payment_id": payID}}
		for range 2 {
			if a := h.webhook("sandbox", "whsec_test_sandbox", "evt_sbx_1", "payment_intent.succeeded", obj); a.status != http.StatusOK {
				t.Fatalf("sandbox webhook: %d %s", a.status, a.body)
			}
		}
		if a := h.webhook("sandbox", stripeWebhookSecret, "evt_sbx_2", "payment_intent.succeeded", obj); a.status != http.StatusBadRequest {
			t.Errorf("the sandbox's endpoint took another secret: %d", a.status)
		}
		got := h.get("patient", payID)
		if got.Status != domain.Succeeded {
			t.Fatalf("payment %+v", got)
		}
		// The retry of the request finds it done, and charges nothing more.
		if a := h.pay("patient", "lost", caseID, sandbox.Visa); a.status != http.StatusConflict {
			t.Errorf("retry: %d %s", a.status, a.body)
		}
		if got := h.events(caseID); !slices.Equal(got, []string{"payment.succeeded 10800"}) {
			t.Errorf("events %v", got)
		}
		var n int
		_ = db.QueryRow(`SELECT COUNT(*) FROM sandbox_intents`).Scan(&n)
		if n != 1 {
			t.Errorf("%d charges", n)
		}
		var recorded string
		_ = db.QueryRow(`SELECT intent_id FROM payments WHERE id = $1`, payID).Scan(&recorded)
		if recorded != intentID {
			t.Errorf("intent %q recorded, want %q", recorded, intentID)
		}
	})
}
