package payments_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/payments"
	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider/sandbox"
)

func TestPayWithVisa(t *testing.T) {
	testkit.ForEachEngine(t, payments.Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, payments.Config{})
		caseID := h.newCase(patient, "AWAITING_PAYMENT")
		a := h.pay("patient", "k1", caseID, sandbox.Visa)
		if a.status != http.StatusCreated {
			t.Fatalf("pay: %d %s", a.status, a.body)
		}
		p := a.payment(t)
		if p.Status != domain.Succeeded || p.Amount != 10800 || p.Currency != "EUR" || p.Provider != "sandbox" ||
			p.CaseID != caseID || p.NextAction != nil || p.RefundedAmount != 0 {
			t.Errorf("payment %+v", p)
		}
		if got := h.events(caseID); !slices.Equal(got, []string{"payment.succeeded 10800"}) {
			t.Errorf("events %v", got)
		}
		for _, e := range testkit.Outbox(t, db) {
			if e.Type == events.PaymentSucceededV1.Type {
				ev, _ := events.PaymentSucceededV1.Decode(e)
				if ev.PaymentID != p.ID || ev.CustomerID != patient || ev.QuoteID == "" || ev.Region != "EU" ||
					ev.Specialty != "CARDIOLOGY" || ev.Urgency != "STANDARD" || ev.NetAmount != 10000 ||
					ev.DiscountAmount != 1000 || ev.TaxRate != 2000 || ev.TaxAmount != 1800 || ev.Provider != "sandbox" {
					t.Errorf("payment.succeeded %+v", ev)
				}
			}
		}
		// A retry with the key replays the answer; the case is not paid twice.
		again := h.pay("patient", "k1", caseID, sandbox.Visa)
		if again.status != http.StatusCreated || again.payment(t).ID != p.ID || again.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry: %d %s", again.status, again.body)
		}
		if a := h.pay("patient", "k1", caseID, sandbox.Declined); a.status != http.StatusUnprocessableEntity {
			t.Errorf("the key with other parameters: %d %s", a.status, a.body)
		}
		if a := h.pay("patient", "k2", caseID, sandbox.Visa); a.status != http.StatusConflict || a.problem(t)["title"] != "Case already paid" {
			t.Errorf("a paid case paid again: %d %s", a.status, a.body)
		}
		if n := h.count("sandbox_intents", "1 = 1"); n != 1 {
			t.Errorf("%d charges", n)
		}
		// Reads: the patient and admins; nobody else learns it exists.
		if got := h.get("patient", p.ID); got.ID != p.ID {
			t.Errorf("owner reads %+v", got)
		}
		if got := h.get("admin", p.ID); got.ID != p.ID {
			t.Errorf("admin reads %+v", got)
		}
		for token, want := range map[string]int{"other": 404, "pro": 403, "": 401} {
			if a := h.do(http.MethodGet, "/api/v1/payments/"+p.ID, token, "", nil); a.status != want {
				t.Errorf("get as %q: %d, want %d", token, a.status, want)
			}
		}
	})
}

func TestIdempotencyKeyIsRequired(t *testing.T) {
	h := newHarness(t, testkit.OpenDB(t, sqldb.SQLite, payments.Name), payments.Config{})
	caseID := h.newCase(patient, "AWAITING_PAYMENT")
	a := h.pay("patient", "", caseID, sandbox.Visa)
	if a.status != http.StatusBadRequest {
		t.Fatalf("without a key: %d %s", a.status, a.body)
	}
	if pr := a.problem(t); pr["title"] != "Idempotency-Key required" {
		t.Errorf("problem %v", pr)
	}
	if n := h.count("payments", "1 = 1"); n != 0 {
		t.Errorf("%d payments made without a key", n)
	}
}

func TestRefusals(t *testing.T) {
	h := newHarness(t, testkit.OpenDB(t, sqldb.SQLite, payments.Name), payments.Config{})
	mine := h.newCase(patient, "AWAITING_PAYMENT")
	draft := h.newCase(patient, "DRAFT")
	theirs := h.newCase(other, "AWAITING_PAYMENT")
	for _, c := range []struct {
		name, token, caseID, method string
		want                        int
	}{
		{"another patient's case", "patient", theirs, sandbox.Visa, 404},
		{"a case not awaiting payment", "patient", draft, sandbox.Visa, 409},
		{"an unknown case", "patient", "0190a4b2-0000-7000-8000-000000000000", sandbox.Visa, 404},
		{"a card number", "patient", mine, "4242424242424242", 422},
		{"a professional", "pro", mine, sandbox.Visa, 403},
		{"anonymous", "", mine, sandbox.Visa, 401},
	} {
		if a := h.pay(c.token, "key-"+strings.ReplaceAll(c.name, " ", "-"), c.caseID, c.method); a.status != c.want {
			t.Errorf("%s: %d, want %d: %s", c.name, a.status, c.want, a.body)
		}
	}
	bad := h.do(http.MethodPost, "/api/v1/payments", "patient", "bad-quote",
		map[string]any{"caseId": mine, "quoteToken": "forged", "paymentMethod": sandbox.Visa})
	if bad.status != http.StatusUnprocessableEntity || !bytesContain(bad.body, "body.quoteToken") {
		t.Errorf("a bad quote: %d %s", bad.status, bad.body)
	}
	// An unknown payment method is the provider's invalid request: the
	// attempt fails, and the case may be paid with another.
	if a := h.pay("patient", "unknown-pm", mine, "pm_card_unknown"); a.status != http.StatusUnprocessableEntity ||
		!bytesContain(a.body, "body.paymentMethod") {
		t.Errorf("an unknown method: %d %s", a.status, a.body)
	}
	if a := h.pay("patient", "visa", mine, sandbox.Visa); a.status != http.StatusCreated {
		t.Errorf("after an unknown method: %d %s", a.status, a.body)
	}
	if got := h.events(mine); !slices.Equal(got, []string{"payment.failed invalid_payment_method", "payment.succeeded 10800"}) {
		t.Errorf("events %v", got)
	}
}

func bytesContain(b []byte, s string) bool { return strings.Contains(string(b), s) }

func TestDeclines(t *testing.T) {
	testkit.ForEachEngine(t, payments.Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, payments.Config{})
		caseID := h.newCase(patient, "AWAITING_PAYMENT")
		for key, want := range map[string]string{sandbox.Declined: "card_declined", sandbox.InsufficientFunds: "insufficient_funds"} {
			a := h.pay("patient", key, caseID, key)
			if a.status != http.StatusPaymentRequired {
				t.Fatalf("%s: %d %s", key, a.status, a.body)
			}
			if pr := a.problem(t); pr["detail"] != want || pr["title"] != "Payment declined" {
				t.Errorf("%s: problem %v", key, pr)
			}
			// The decline is the key's answer: a retry replays it.
			if again := h.pay("patient", key, caseID, key); again.status != http.StatusPaymentRequired ||
				again.header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("%s retried: %d %s", key, again.status, again.body)
			}
		}
		a := h.pay("patient", "third", caseID, sandbox.Visa)
		if a.status != http.StatusCreated || a.payment(t).Status != domain.Succeeded {
			t.Fatalf("after declines: %d %s", a.status, a.body)
		}
		got := h.events(caseID)
		slices.Sort(got[:2])
		if want := []string{"payment.failed card_declined", "payment.failed insufficient_funds", "payment.succeeded 10800"}; !slices.Equal(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
		var list page.Page[payments.Payment]
		if a := h.do(http.MethodGet, "/api/v1/payments?caseId="+caseID+"&limit=2", "patient", "", nil); a.status != 200 {
			t.Fatalf("list: %d %s", a.status, a.body)
		} else {
			mustJSON(t, a.body, &list)
		}
		if len(list.Items) != 2 || list.NextCursor == "" || list.Items[0].FailureCode == "" {
			t.Fatalf("first page %+v", list)
		}
		var rest page.Page[payments.Payment]
		mustJSON(t, h.do(http.MethodGet, "/api/v1/payments?caseId="+caseID+"&limit=2&cursor="+list.NextCursor, "patient", "", nil).body, &rest)
		if len(rest.Items) != 1 || rest.NextCursor != "" || rest.Items[0].Status != domain.Succeeded {
			t.Errorf("second page %+v", rest)
		}
		var others page.Page[payments.Payment]
		mustJSON(t, h.do(http.MethodGet, "/api/v1/payments", "other", "", nil).body, &others)
		if len(others.Items) != 0 {
			t.Errorf("another patient lists %d payments", len(others.Items))
		}
		var all page.Page[payments.Payment]
		mustJSON(t, h.do(http.MethodGet, "/api/v1/payments", "admin", "", nil).body, &all)
		if len(all.Items) != 3 {
			t.Errorf("admin lists %d payments", len(all.Items))
		}
		if a := h.do(http.MethodGet, "/api/v1/payments?customerId="+patient, "other", "", nil); a.status != http.StatusNotFound {
			t.Errorf("another patient's list by customerId: %d %s", a.status, a.body)
		}
		var theirs, none page.Page[payments.Payment]
		mustJSON(t, h.do(http.MethodGet, "/api/v1/payments?customerId="+patient, "admin", "", nil).body, &theirs)
		mustJSON(t, h.do(http.MethodGet, "/api/v1/payments?customerId="+other, "admin", "", nil).body, &none)
		if len(theirs.Items) != 3 || len(none.Items) != 0 {
			t.Errorf("admin lists %d of the patient's payments, %d of the other's", len(theirs.Items), len(none.Items))
		}
	})
}

func TestThreeDSecure(t *testing.T) {
	testkit.ForEachEngine(t, payments.Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, payments.Config{})
		caseID := h.newCase(patient, "AWAITING_PAYMENT")
		a := h.pay("patient", "3ds", caseID, sandbox.ThreeDSecureNeeded)
		p := a.payment(t)
		if a.status != http.StatusCreated || p.Status != domain.RequiresAction || p.NextAction == nil ||
			p.NextAction.Type != "use_stripe_sdk" || p.NextAction.ClientSecret == "" {
			t.Fatalf("3-D Secure: %d %s", a.status, a.body)
		}
		if got := h.events(caseID); len(got) != 0 {
			t.Errorf("events before the confirmation: %v", got)
		}
		// (A second payment while one awaits 3-D Secure abandons it:
		// cancel_test.go.)
		if a := h.do(http.MethodPost, "/api/v1/payments/"+p.ID+"/confirm", "other", "", nil); a.status != http.StatusNotFound {
			t.Errorf("another patient confirms: %d", a.status)
		}
		for range 2 {
			a = h.do(http.MethodPost, "/api/v1/payments/"+p.ID+"/confirm", "patient", "", nil)
			if got := a.payment(t); a.status != http.StatusOK || got.Status != domain.Succeeded || got.NextAction != nil {
				t.Fatalf("confirm: %d %s", a.status, a.body)
			}
		}
		if got := h.events(caseID); !slices.Equal(got, []string{"payment.succeeded 10800"}) {
			t.Errorf("events %v", got)
		}
		if n := h.count("payments", "next_action_secret <> ''"); n != 0 {
			t.Errorf("the client secret outlived the step")
		}
	})
}

// Fifty identical requests with one key make one charge; every answer is
// that payment's, or 409 while it is being made.
func TestConcurrentIdenticalPayments(t *testing.T) {
	testkit.ForEachEngine(t, payments.Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, payments.Config{})
		caseID := h.newCase(patient, "AWAITING_PAYMENT")
		var wg sync.WaitGroup
		answers := make([]answer, 50)
		for i := range answers {
			wg.Go(func() { answers[i] = h.pay("patient", "one-key", caseID, sandbox.Visa) })
		}
		wg.Wait()
		ids := map[string]bool{}
		created := 0
		for _, a := range answers {
			switch a.status {
			case http.StatusCreated:
				created++
				ids[a.payment(t).ID] = true
			case http.StatusConflict:
				a.problem(t)
			default:
				t.Errorf("answer %d %s", a.status, a.body)
			}
		}
		if created == 0 || len(ids) != 1 {
			t.Errorf("%d created, payments %v", created, ids)
		}
		if n := h.count("payments", "case_id = $1", caseID); n != 1 {
			t.Errorf("%d payments", n)
		}
		if n := h.count("sandbox_intents", "1 = 1"); n != 1 {
			t.Errorf("%d charges", n)
		}
		if got := h.events(caseID); !slices.Equal(got, []string{"payment.succeeded 10800"}) {
			t.Errorf("events %v", got)
		}
		// Fifty with fifty keys: still one payment of the case.
		other := h.newCase(patient, "AWAITING_PAYMENT")
		for i := range answers {
			wg.Go(func() { answers[i] = h.pay("patient", "key-"+strconv.Itoa(i), other, sandbox.Visa) })
		}
		wg.Wait()
		if n := h.count("payments", "case_id = $1 AND status = 'SUCCEEDED'", other); n != 1 {
			t.Errorf("%d payments with distinct keys", n)
		}
		if n := h.count("sandbox_intents", "1 = 1"); n != 2 {
			t.Errorf("%d charges in all", n)
		}
		if got := h.events(other); !slices.Equal(got, []string{"payment.succeeded 10800"}) {
			t.Errorf("events %v", got)
		}
	})
}

// The provider charged and the answer was lost: the payment stays
// PROCESSING, and neither a retry nor recovery charges again.
func TestLostAnswerIsRecoveredWithoutASecondCharge(t *testing.T) {
	testkit.ForEachEngine(t, payments.Name, func(t *testing.T, db *sqldb.DB) {
		l := &lossy{Provider: sandbox.New(db, nil)}
		h := newHarness(t, db, payments.Config{Providers: []provider.Provider{l}})
		retried := h.newCase(patient, "AWAITING_PAYMENT")
		l.lose.Store(1)
		if a := h.pay("patient", "lost", retried, sandbox.Visa); a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" {
			t.Fatalf("lost answer: %d %s", a.status, a.body)
		}
		if n := h.count("payments", "case_id = $1 AND status = 'PROCESSING'", retried); n != 1 {
			t.Fatalf("the payment is not PROCESSING")
		}
		a := h.pay("patient", "lost", retried, sandbox.Visa)
		if a.status != http.StatusCreated || a.payment(t).Status != domain.Succeeded {
			t.Fatalf("retry: %d %s", a.status, a.body)
		}
		if n := h.count("sandbox_intents", "1 = 1"); n != 1 {
			t.Errorf("%d charges after the retry", n)
		}

		// Nobody retries: recovery finds the intent by our payment's id.
		recovered := h.newCase(patient, "AWAITING_PAYMENT")
		l.lose.Store(1)
		h.pay("patient", "gone", recovered, sandbox.Visa)
		h.recover() // too early: it is left alone
		if n := h.count("payments", "case_id = $1 AND status = 'PROCESSING'", recovered); n != 1 {
			t.Fatalf("recovery took a fresh payment")
		}
		h.clock.Add(2 * time.Minute)
		h.recover()
		if n := h.count("payments", "case_id = $1 AND status = 'SUCCEEDED' AND intent_id <> ''", recovered); n != 1 {
			t.Errorf("recovery did not complete the payment")
		}
		if n := h.count("sandbox_intents", "1 = 1"); n != 2 {
			t.Errorf("%d charges after recovery", n)
		}
		if got := h.events(recovered); !slices.Equal(got, []string{"payment.succeeded 10800"}) {
			t.Errorf("events %v", got)
		}
	})
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}
