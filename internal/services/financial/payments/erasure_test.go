package payments_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/payments"
	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider/sandbox"
)

// holding is, per table, the rows that still hold any of ids, but for the
// tables an erasure leaves them in by design: the outbox and the inbox
// (the events, as every service's).
func holding(t *testing.T, db *sqldb.DB, ids ...string) map[string]int {
	t.Helper()
	found := testkit.Search(t, db, ids...)
	maps.DeleteFunc(found, func(table string, _ int) bool { return table == "outbox" || table == "inbox" })
	return found
}

func erasePatient(h *harness, id string) {
	h.t.Helper()
	h.consume(events.PatientErasedV1.New("patient-identity", id, events.PatientErased{PatientID: id, Timestamp: time.Now()}))
}

func eraseCase(h *harness, id string) {
	h.t.Helper()
	h.consume(events.CaseErasedV1.New("case-management", id, events.CaseErased{CaseID: id, Timestamp: time.Now()}))
}

// An erasure keeps the ledger — amounts, status, refunds, the provider's
// intent — but no row of payments' tables holds the erased patient's id
// or their cases' ids any more: payments are unlinked, what payments
// learnt of the cases goes, and the sandbox's intents keep only our
// payment's id. A refund still pending is driven on all the same.
func TestErasureUnlinks(t *testing.T) {
	testkit.ForEachEngine(t, payments.Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, payments.Config{})

		// Two paid cases (two succeeded payments: several unlinked rows
		// must fit the one-open-payment-per-case index), one assigned.
		first, p1 := h.paid(sandbox.Visa)
		h.consume(closedEvent(t, "assigned", first))
		second, p2 := h.paid(sandbox.Visa)
		h.refund(p2.ID, "", map[string]any{"amount": 100, "reason": "asked by Mrs Example"})
		// A declined attempt, then a paid one, cancelled: its automatic
		// refund is still PENDING when the erasure comes.
		third := h.newCase(patient, "AWAITING_PAYMENT")
		if a := h.pay("patient", "declined", third, sandbox.Declined); a.status != http.StatusPaymentRequired {
			t.Fatalf("decline: %d %s", a.status, a.body)
		}
		p3 := h.pay("patient", "paid", third, sandbox.Visa).payment(t)
		h.consume(closedEvent(t, "cancelled", third))
		if n := h.count("refunds", "payment_id = $1 AND status = 'PENDING'", p3.ID); n != 1 {
			t.Fatalf("%d pending refunds of the cancelled case", n)
		}
		// A case payments heard of, never paid for.
		unpaid := h.newCase(patient, "AWAITING_PAYMENT")
		h.consume(closedEvent(t, "assigned", unpaid))
		// Another patient's payment, which the erasure must not touch.
		mine := h.newCase(other, "AWAITING_PAYMENT")
		kept := h.pay("other", "other", mine, sandbox.Visa).payment(t)

		// What the provider is sent names our payment only.
		var meta string
		_ = db.QueryRow(`SELECT metadata FROM sandbox_intents WHERE idempotency_key = $1`, domain.IntentKey(p1.ID)).Scan(&meta)
		var m map[string]string
		if err := json.Unmarshal([]byte(meta), &m); err != nil || !maps.Equal(m, map[string]string{"payment_id": p1.ID}) {
			t.Errorf("the provider was sent %s", meta)
		}
		// An intent that holds more (sent before the provider was sent our
		// id only) loses it with the erasure.
		legacy, _ := json.Marshal(map[string]string{"payment_id": p2.ID, "case_id": second, "customer_id": patient})
		if _, err := db.Exec(`UPDATE sandbox_intents SET metadata = $1 WHERE idempotency_key = $2`, string(legacy),
			domain.IntentKey(p2.ID)); err != nil {
			t.Fatal(err)
		}

		ids := []string{patient, first, second, third, unpaid}
		if got := holding(t, db, ids...); len(got) == 0 {
			t.Fatal("the search finds nothing before the erasure")
		}
		// As case-management does it: patient.erased, then a case.erased
		// per case.
		erasePatient(h, patient)
		for _, c := range []string{first, second, third, unpaid} {
			eraseCase(h, c)
		}
		if got := holding(t, db, ids...); len(got) != 0 {
			t.Errorf("after the erasure, rows hold her ids: %v", got)
		}

		// The ledger is kept, for admins.
		for _, p := range []payments.Payment{p1, p2, p3} {
			got := h.get("admin", p.ID)
			if got.Amount != 10800 || got.Currency != "EUR" || got.CaseID != "" {
				t.Errorf("payment %s after the erasure: %+v", p.ID, got)
			}
		}
		if got := h.get("admin", p2.ID); got.Status != domain.PartiallyRefunded || got.RefundedAmount != 100 || len(got.Refunds) != 1 {
			t.Errorf("the refunded payment after the erasure: %+v", got)
		}
		if n := h.count("payments", "case_id = '' AND patient_id = '' AND status = 'SUCCEEDED'"); n != 2 {
			t.Errorf("%d unlinked succeeded payments, want 2", n)
		}
		if n := h.count("payments", "case_id = '' AND patient_id = '' AND status = 'FAILED'"); n != 1 {
			t.Errorf("%d unlinked failed payments, want 1", n)
		}
		if n := h.count("payments", "1 = 1"); n != 5 {
			t.Errorf("%d payments kept, want 5", n)
		}
		// The pending refund is driven on by its payment alone.
		h.recover()
		if got := h.get("admin", p3.ID); got.Status != domain.Refunded || got.RefundedAmount != 10800 {
			t.Errorf("the pending refund after the erasure: %+v", got)
		}
		if got := holding(t, db, ids...); len(got) != 0 {
			t.Errorf("after the refund, rows hold her ids: %v", got)
		}

		// Her payments are nobody's but admins' now; the other patient
		// keeps theirs.
		if a := h.do(http.MethodGet, "/api/v1/payments/"+p1.ID, "patient", "", nil); a.status != http.StatusNotFound {
			t.Errorf("her payment, as her: %d", a.status)
		}
		if got := listed(t, h, "patient"); len(got) != 0 {
			t.Errorf("her list after the erasure: %v", got)
		}
		if got := listed(t, h, "other"); !slices.Equal(got, []string{kept.ID}) {
			t.Errorf("the other patient's list: %v", got)
		}
		if got := listed(t, h, "admin"); len(got) != 5 {
			t.Errorf("admins see %d payments, want 5", len(got))
		}
		if got := h.get("other", kept.ID); got.CaseID != mine {
			t.Errorf("the other patient's payment: %+v", got)
		}
		// A new case pays as ever beside the unlinked payments.
		if _, p := h.paid(sandbox.Visa); p.Status != domain.Succeeded {
			t.Errorf("a payment after the erasure: %+v", p)
		}
	})
}

// case.erased alone unlinks the case's payments from the patient too,
// whichever erasure event comes first.
func TestCaseErasureAloneUnlinks(t *testing.T) {
	testkit.ForEachEngine(t, payments.Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, payments.Config{})
		erased, p := h.paid(sandbox.ThreeDSecureNeeded)
		h.consume(closedEvent(t, "assigned", erased))
		kept, k := h.paid(sandbox.Visa)
		eraseCase(h, erased)
		if got := holding(t, db, erased); len(got) != 0 {
			t.Errorf("after the case's erasure, rows hold its id: %v", got)
		}
		if n := h.count("payments", "id = $1 AND patient_id = '' AND case_id = ''", p.ID); n != 1 {
			t.Errorf("the erased case's payment is still linked")
		}
		if got := h.get("patient", k.ID); got.CaseID != kept {
			t.Errorf("the other case's payment: %+v", got)
		}
		// Then the patient's erasure finds the rest.
		erasePatient(h, patient)
		if got := holding(t, db, patient, erased, kept); len(got) != 0 {
			t.Errorf("after the patient's erasure, rows hold her ids: %v", got)
		}
	})
}

// listed is the ids of the payments token lists.
func listed(t *testing.T, h *harness, token string) []string {
	t.Helper()
	a := h.do(http.MethodGet, "/api/v1/payments?limit=100", token, "", nil)
	if a.status != http.StatusOK {
		t.Fatalf("list as %s: %d %s", token, a.status, a.body)
	}
	var pg page.Page[payments.Payment]
	if err := json.Unmarshal(a.body, &pg); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pg.Items {
		out = append(out, p.ID)
	}
	return out
}
