package payments_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/payments"
	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider/sandbox"
)

// through is a harness on one provider, with what a test needs of the
// provider's side: its charges, and its intents moved behind payments'
// back.
type through struct {
	*harness
	name, secret string
	charges      func() int
	// setStatus moves an intent at the provider ("succeeded") as a
	// completed 3-D Secure step does without payments hearing of it.
	setStatus func(intentID, status string)
	intent    func(intentID string) string // its status at the provider
}

// eachProvider runs f on each engine, through the sandbox and through
// Stripe (stripefake).
func eachProvider(t *testing.T, f func(t *testing.T, p through)) {
	testkit.ForEachEngine(t, payments.Name, func(t *testing.T, db *sqldb.DB) {
		t.Run("sandbox", func(t *testing.T) {
			h := newHarness(t, db, payments.Config{})
			f(t, through{harness: h, name: "sandbox", secret: "whsec_test_sandbox",
				charges: func() int { return h.count("sandbox_intents", "1 = 1") },
				setStatus: func(id, status string) {
					if _, err := db.Exec(`UPDATE sandbox_intents SET status = $2 WHERE id = $1`, id, status); err != nil {
						t.Fatal(err)
					}
				},
				intent: func(id string) string {
					var s string
					_ = db.QueryRow(`SELECT status FROM sandbox_intents WHERE id = $1`, id).Scan(&s)
					return s
				}})
		})
		t.Run("stripe", func(t *testing.T) {
			h, fake := withStripe(t, db)
			f(t, through{harness: h, name: "stripe", secret: stripeWebhookSecret, charges: fake.Creates,
				setStatus: fake.SetStatus,
				intent:    func(id string) string { s, _ := fake.Intent(id)["status"].(string); return s }})
		})
	})
}

func (p through) intentOf(paymentID string) string {
	p.t.Helper()
	var id string
	if err := p.db.QueryRow(`SELECT intent_id FROM payments WHERE id = $1`, paymentID).Scan(&id); err != nil || id == "" {
		p.t.Fatalf("intent of %s: %q %v", paymentID, id, err)
	}
	return id
}

// intentEvent is a provider's payment_intent.* event object.
func intentEvent(intentID, paymentID, status string) map[string]any {
	return map[string]any{"id": intentID, "object": "payment_intent", "status": status, "amount": 10800,
		"currency": "eur", "metadata": map[string]any{"payment_id": paymentID}}
}

func (p through) awaiting3DS() (caseID string, pending payments.Payment) {
	p.t.Helper()
	caseID = p.newCase(patient, "AWAITING_PAYMENT")
	a := p.pay("patient", "3ds-"+caseID, caseID, sandbox.ThreeDSecureNeeded)
	if pending = a.payment(p.t); a.status != http.StatusCreated || pending.Status != domain.RequiresAction {
		p.t.Fatalf("3-D Secure: %d %s", a.status, a.body)
	}
	return caseID, pending
}

// A patient who closed the 3-D Secure window pays anew: the first attempt
// is cancelled at the provider and recorded CANCELED, the second charges,
// and the case is paid once.
func TestAbandonedThreeDSecureGivesWayToANewAttempt(t *testing.T) {
	eachProvider(t, func(t *testing.T, p through) {
		caseID, pending := p.awaiting3DS()
		intentID := p.intentOf(pending.ID)
		a := p.pay("patient", p.name+"-visa", caseID, sandbox.Visa)
		paid := a.payment(t)
		if a.status != http.StatusCreated || paid.Status != domain.Succeeded || paid.ID == pending.ID {
			t.Fatalf("the new attempt: %d %s", a.status, a.body)
		}
		if got := p.get("patient", pending.ID); got.Status != domain.Canceled || got.NextAction != nil {
			t.Errorf("the abandoned attempt: %+v", got)
		}
		if s := p.intent(intentID); s != "canceled" {
			t.Errorf("the abandoned intent is %q at the provider", s)
		}
		if n := p.count("payments", "next_action_secret <> ''"); n != 0 {
			t.Errorf("the client secret outlived the attempt")
		}
		if n := p.charges(); n != 2 {
			t.Errorf("%d intents, want the abandoned one and the charge", n)
		}
		if got := p.events(caseID); !slices.Equal(got, []string{"payment.succeeded 10800"}) {
			t.Errorf("events %v", got)
		}
		// The abandoned attempt cannot be confirmed any more.
		c := p.do(http.MethodPost, "/api/v1/payments/"+pending.ID+"/confirm", "patient", "", nil)
		if c.status != http.StatusConflict || c.problem(t)["title"] != "Payment canceled" {
			t.Errorf("confirm after cancel: %d %s", c.status, c.body)
		}
		// A late webhook of the cancelled intent, or one saying it
		// succeeded while the case is paid by another, changes nothing.
		for i, status := range []string{"canceled", "succeeded"} {
			if a := p.webhook(p.name, p.secret, "evt_late_"+status, "payment_intent."+status,
				intentEvent(intentID, pending.ID, status)); a.status != http.StatusOK {
				t.Fatalf("webhook %d: %d %s", i, a.status, a.body)
			}
			if got := p.get("admin", pending.ID); got.Status != domain.Canceled {
				t.Fatalf("after a late %s: %s", status, got.Status)
			}
		}
		// Reconciliation agrees with the provider on both.
		rep, err := p.svc.Reconcile(t.Context())
		if err != nil || len(rep.Differences) != 0 {
			t.Errorf("reconciliation: %+v %v", rep.Differences, err)
		}
		if a := p.pay("patient", p.name+"-again", caseID, sandbox.Visa); a.status != http.StatusConflict || a.problem(t)["title"] != "Case already paid" {
			t.Errorf("a paid case paid again: %d %s", a.status, a.body)
		}
		if got := p.events(caseID); !slices.Equal(got, []string{"payment.succeeded 10800"}) || p.charges() != 2 {
			t.Errorf("events %v, %d intents", got, p.charges())
		}
	})
}

// The abandoned step was completed after all: the provider refuses to
// cancel a charge that succeeded, so the attempt completes and the new
// one is refused — never a second charge.
func TestAbandonedThreeDSecureThatSucceededIsNotChargedTwice(t *testing.T) {
	eachProvider(t, func(t *testing.T, p through) {
		caseID, pending := p.awaiting3DS()
		intentID := p.intentOf(pending.ID)
		p.setStatus(intentID, "succeeded")
		for _, key := range []string{"visa", "visa-again"} {
			a := p.pay("patient", p.name+"-"+key, caseID, sandbox.Visa)
			if a.status != http.StatusConflict || a.problem(t)["title"] != "Case already paid" {
				t.Fatalf("the new attempt: %d %s", a.status, a.body)
			}
		}
		if got := p.get("patient", pending.ID); got.Status != domain.Succeeded {
			t.Errorf("the attempt that succeeded: %+v", got)
		}
		if n := p.charges(); n != 1 {
			t.Errorf("%d charges", n)
		}
		if n := p.count("payments", "case_id = $1", caseID); n != 1 {
			t.Errorf("%d payments of the case", n)
		}
		if got := p.events(caseID); !slices.Equal(got, []string{"payment.succeeded 10800"}) {
			t.Errorf("events %v", got)
		}
		// Confirming it now answers it as it is.
		if c := p.do(http.MethodPost, "/api/v1/payments/"+pending.ID+"/confirm", "patient", "", nil); c.status != http.StatusOK ||
			c.payment(t).Status != domain.Succeeded {
			t.Errorf("confirm: %d %s", c.status, c.body)
		}
	})
}

// A cancelled attempt whose case was not paid since (the new attempt was
// declined) is completed by a webhook saying it succeeded, once; and the
// reconciler completes a 3-D Secure step finished behind our back.
func TestCanceledOrAwaitingPaymentSucceededAtTheProvider(t *testing.T) {
	eachProvider(t, func(t *testing.T, p through) {
		caseID, pending := p.awaiting3DS()
		intentID := p.intentOf(pending.ID)
		if a := p.pay("patient", p.name+"-declined", caseID, sandbox.Declined); a.status != http.StatusPaymentRequired {
			t.Fatalf("the new attempt: %d %s", a.status, a.body)
		}
		if got := p.get("patient", pending.ID); got.Status != domain.Canceled {
			t.Fatalf("the abandoned attempt: %+v", got)
		}
		for range 2 {
			if a := p.webhook(p.name, p.secret, "evt_succeeded", "payment_intent.succeeded",
				intentEvent(intentID, pending.ID, "succeeded")); a.status != http.StatusOK {
				t.Fatalf("webhook: %d %s", a.status, a.body)
			}
		}
		if got := p.get("patient", pending.ID); got.Status != domain.Succeeded {
			t.Errorf("after the provider's success: %+v", got)
		}
		if got := p.events(caseID); !slices.Equal(got, []string{"payment.failed card_declined", "payment.succeeded 10800"}) {
			t.Errorf("events %v", got)
		}

		other, waiting := p.awaiting3DS()
		p.setStatus(p.intentOf(waiting.ID), "succeeded")
		rep, err := p.svc.Reconcile(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range rep.Differences {
			if d.PaymentID == waiting.ID {
				t.Errorf("difference %+v", d)
			}
		}
		if got := p.get("patient", waiting.ID); got.Status != domain.Succeeded {
			t.Errorf("after reconciliation: %+v", got)
		}
		if got := p.events(other); !slices.Equal(got, []string{"payment.succeeded 10800"}) {
			t.Errorf("events %v", got)
		}
	})
}
