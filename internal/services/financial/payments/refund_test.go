package payments_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/payments"
	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider/sandbox"
)

// paid makes a case of patient and pays for it with method.
func (h *harness) paid(method string) (caseID string, p payments.Payment) {
	h.t.Helper()
	caseID = h.newCase(patient, "AWAITING_PAYMENT")
	a := h.pay("patient", "pay-"+caseID, caseID, method)
	if a.status != http.StatusCreated {
		h.t.Fatalf("pay: %d %s", a.status, a.body)
	}
	return caseID, a.payment(h.t)
}

func (h *harness) refund(id, key string, body map[string]any) answer {
	h.t.Helper()
	return h.do(http.MethodPost, "/api/v1/payments/"+id+"/refund", "admin", key, body)
}

func TestAdminRefunds(t *testing.T) {
	testkit.ForEachEngine(t, payments.Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, payments.Config{})
		caseID, p := h.paid(sandbox.Visa)
		for token, want := range map[string]int{"patient": 403, "pro": 403, "": 401} {
			if a := h.do(http.MethodPost, "/api/v1/payments/"+p.ID+"/refund", token, "", map[string]any{}); a.status != want {
				t.Errorf("refund as %q: %d, want %d", token, a.status, want)
			}
		}
		if a := h.refund(p.ID, "", map[string]any{"amount": 10801}); a.status != http.StatusUnprocessableEntity {
			t.Errorf("more than was paid: %d %s", a.status, a.body)
		}
		a := h.refund(p.ID, "r1", map[string]any{"amount": 800, "reason": "goodwill"})
		got := a.payment(t)
		if a.status != http.StatusOK || got.Status != domain.PartiallyRefunded || got.RefundedAmount != 800 ||
			len(got.Refunds) != 1 || got.Refunds[0].Status != "SUCCEEDED" || got.Refunds[0].Note != "goodwill" {
			t.Fatalf("partial refund: %d %s", a.status, a.body)
		}
		// The admin's retry with the key is the same refund.
		if again := h.refund(p.ID, "r1", map[string]any{"amount": 800, "reason": "goodwill"}); again.status != http.StatusOK ||
			again.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retry: %d %s", again.status, again.body)
		}
		if a := h.refund(p.ID, "", map[string]any{"amount": 10001}); a.status != http.StatusUnprocessableEntity {
			t.Errorf("more than is left: %d %s", a.status, a.body)
		}
		a = h.refund(p.ID, "", map[string]any{})
		if got := a.payment(t); a.status != http.StatusOK || got.Status != domain.Refunded || got.RefundedAmount != 10800 {
			t.Fatalf("the rest: %d %s", a.status, a.body)
		}
		if a := h.refund(p.ID, "", map[string]any{}); a.status != http.StatusConflict {
			t.Errorf("nothing left: %d %s", a.status, a.body)
		}
		want := []string{"payment.succeeded 10800", "payment.refunded 800 ADMIN", "payment.refunded 10000 ADMIN full"}
		if got := h.events(caseID); !slices.Equal(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
		var refunded int64
		if err := db.QueryRow(`SELECT amount_refunded FROM sandbox_intents`).Scan(&refunded); err != nil || refunded != 10800 {
			t.Errorf("the provider refunded %d (%v)", refunded, err)
		}
		// A payment that failed has nothing to refund.
		failedCase := h.newCase(patient, "AWAITING_PAYMENT")
		h.pay("patient", "declined", failedCase, sandbox.Declined)
		var failed string
		_ = db.QueryRow(`SELECT id FROM payments WHERE case_id = $1`, failedCase).Scan(&failed)
		if a := h.refund(failed, "", map[string]any{}); a.status != http.StatusConflict {
			t.Errorf("refund of a failed payment: %d %s", a.status, a.body)
		}
		if a := h.refund(uuid.NewString(), "", map[string]any{}); a.status != http.StatusNotFound {
			t.Errorf("refund of no payment: %d", a.status)
		}
	})
}

func closedEvent(t *testing.T, typ, caseID string) (bus.Event, error) {
	switch typ {
	case "cancelled":
		return events.CaseCancelledV1.New("case-management", caseID, events.CaseClosed{CaseID: caseID, CaseNumber: "EU-2031-ABCDEF", Timestamp: time.Now()})
	case "orphaned":
		return events.CaseOrphanedV1.New("ai-orchestration", caseID, events.CaseOrphaned{CaseID: caseID, Reason: "gave up", Timestamp: time.Now()})
	}
	return events.CaseAssignedV1.New("case-assignment", caseID, events.CaseAssigned{CaseID: caseID,
		ProfessionalID: uuid.NewString(), AssignmentID: uuid.NewString(), Deadline: time.Now().Add(time.Hour), Timestamp: time.Now()})
}

func TestAutomaticRefunds(t *testing.T) {
	testkit.ForEachEngine(t, payments.Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, payments.Config{})

		// Cancelled before assignment: refunded in full, once, whatever
		// the redeliveries and later closes.
		cancelled, p := h.paid(sandbox.Visa)
		e, err := closedEvent(t, "cancelled", cancelled)
		h.consume(e, err)
		h.consume(e, nil)
		h.recover()
		h.consume(closedEvent(t, "orphaned", cancelled))
		h.recover()
		if got := h.get("admin", p.ID); got.Status != domain.Refunded || got.RefundedAmount != 10800 || len(got.Refunds) != 1 {
			t.Errorf("cancelled before assignment: %+v", got)
		}
		if got := h.events(cancelled); !slices.Equal(got, []string{"payment.succeeded 10800", "payment.refunded 10800 CASE_CANCELLED full"}) {
			t.Errorf("events %v", got)
		}

		// Cancelled after assignment: the work began, no refund.
		assigned, p := h.paid(sandbox.Visa)
		h.consume(closedEvent(t, "assigned", assigned))
		h.consume(closedEvent(t, "cancelled", assigned))
		h.recover()
		if got := h.get("admin", p.ID); got.Status != domain.Succeeded || len(got.Refunds) != 0 {
			t.Errorf("cancelled after assignment: %+v", got)
		}

		// Orphaned: refunded, assigned or not.
		orphaned, p := h.paid(sandbox.Visa)
		h.consume(closedEvent(t, "assigned", orphaned))
		h.consume(closedEvent(t, "orphaned", orphaned))
		h.recover()
		if got := h.events(orphaned); !slices.Equal(got, []string{"payment.succeeded 10800", "payment.refunded 10800 CASE_ORPHANED full"}) {
			t.Errorf("orphaned: events %v", got)
		}

		// Partly refunded by an admin, then cancelled: the rest goes back.
		rest, p := h.paid(sandbox.Visa)
		h.refund(p.ID, "", map[string]any{"amount": 300})
		h.consume(closedEvent(t, "cancelled", rest))
		h.recover()
		if got := h.events(rest); !slices.Equal(got, []string{"payment.succeeded 10800", "payment.refunded 300 ADMIN",
			"payment.refunded 10500 CASE_CANCELLED full"}) {
			t.Errorf("the rest: events %v", got)
		}

		// Cancelled while the payment awaited 3-D Secure: completing it
		// refunds it.
		late := h.newCase(patient, "AWAITING_PAYMENT")
		pending := h.pay("patient", "late", late, sandbox.ThreeDSecureNeeded).payment(t)
		h.consume(closedEvent(t, "cancelled", late))
		if a := h.do(http.MethodPost, "/api/v1/payments/"+pending.ID+"/confirm", "patient", "", nil); a.status != http.StatusOK {
			t.Fatalf("confirm: %d %s", a.status, a.body)
		}
		h.recover()
		if got := h.events(late); !slices.Equal(got, []string{"payment.succeeded 10800", "payment.refunded 10800 CASE_CANCELLED full"}) {
			t.Errorf("late: events %v", got)
		}
		if n := h.count("refunds", "status <> 'SUCCEEDED'"); n != 0 {
			t.Errorf("%d refunds not settled", n)
		}
	})
}

// A refund whose provider call is lost stays PENDING and is sent again
// with its key: the provider refunds once.
func TestRefundRecoveredOnce(t *testing.T) {
	h := newHarness(t, testkit.OpenDB(t, sqldb.SQLite, payments.Name), payments.Config{})
	_, p := h.paid(sandbox.Visa)
	if _, err := h.db.Exec(`INSERT INTO refunds (id, payment_id, amount, reason, status, created_at, updated_at)
		VALUES ($1, $2, 500, 'ADMIN', 'PENDING', $3, $3)`, uuid.NewString(), p.ID, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	// The provider did it, and we never heard.
	var id string
	_ = h.db.QueryRow(`SELECT id FROM refunds`).Scan(&id)
	if _, err := sandbox.New(h.db, nil).Refund(t.Context(), p.ID, 0, "", ""); err == nil {
		t.Fatal("the sandbox refunded without a key")
	}
	var intent string
	_ = h.db.QueryRow(`SELECT intent_id FROM payments WHERE id = $1`, p.ID).Scan(&intent)
	if _, err := sandbox.New(h.db, nil).Refund(t.Context(), intent, 500, domain.RefundKey(id), id); err != nil {
		t.Fatal(err)
	}
	h.recover()
	// A replica that read it PENDING too drives it again: nothing more.
	if err := h.svc.DriveRefund(t.Context(), p.ID, id); err != nil {
		t.Fatal(err)
	}
	h.recover()
	if got := h.get("admin", p.ID); got.RefundedAmount != 500 || got.Status != domain.PartiallyRefunded {
		t.Errorf("payment %+v", got)
	}
	if n := h.count("sandbox_refunds", "1 = 1"); n != 1 {
		t.Errorf("the provider refunded %d times", n)
	}
}

func TestErasureKeepsTheMoney(t *testing.T) {
	testkit.ForEachEngine(t, payments.Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, payments.Config{})
		_, p := h.paid(sandbox.Visa)
		h.refund(p.ID, "", map[string]any{"amount": 100, "reason": "asked by Mrs Example"})
		h.consume(events.PatientErasedV1.New("patient-identity", patient, events.PatientErased{PatientID: patient, Timestamp: time.Now()}))
		if n := testkit.CountContaining(t, db, "payments", sandbox.Visa); n != 0 {
			t.Errorf("the payment method outlived the patient's erasure")
		}
		if n := testkit.CountContaining(t, db, "refunds", "Mrs Example"); n != 0 {
			t.Errorf("the note outlived the erasure")
		}
		if n := h.count("idempotency_keys", "1 = 1"); n != 0 {
			t.Errorf("%d replayable answers outlived the erasure", n)
		}
		// case.erased alone does it for the case's payments, 3-D Secure
		// client secret included.
		second, sp := h.paid(sandbox.ThreeDSecureNeeded)
		h.consume(events.CaseErasedV1.New("case-management", second, events.CaseErased{CaseID: second, Timestamp: time.Now()}))
		if n := h.count("payments", "id = $1 AND (payment_method <> '' OR next_action_secret <> '')", sp.ID); n != 0 {
			t.Errorf("the case's payment method or secret outlived its erasure")
		}
		if got := h.get("admin", p.ID); got.Amount != 10800 || got.RefundedAmount != 100 {
			t.Errorf("the payment is not kept: %+v", got)
		}
	})
}
