package caseassignment

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// A case enters the pool only while its patient's consent to share it
// with professionals is in force: held before the grant, offered from it;
// a withdrawal holds the unclaimed cases and leaves the claimed one with
// its professional; the grant again brings the held ones back, each for a
// new stay. Old and repeated consent events change nothing.
func TestConsentHoldsCases(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{EscalateAfter: 2 * time.Hour})
		a := h.pro("a", "SENIOR", cardio, en)
		b := h.pro("b", "SENIOR", cardio, en)
		h.pro("onco", "SENIOR", []string{"ONCOLOGY"}, en)
		patient := uuid.NewString()
		listed := func(token, pro, caseID string) bool {
			t.Helper()
			res := h.do(token, "GET", "/api/v1/assignments/available/"+pro+"?limit=100", nil)
			if res.status != 200 {
				t.Fatalf("available: %d %v", res.status, res.body)
			}
			return slices.Contains(caseIDs(res), caseID)
		}
		// A held case is answered as one the pool never had, to whoever
		// claims it: that its patient has not consented is nobody's to
		// learn, not even from a mismatch.
		notInPool := h.do("a", "POST", "/api/v1/assignments/claim/"+uuid.NewString(), nil)
		wantNotInPool := func(token, caseID string) {
			t.Helper()
			res := h.do(token, "POST", "/api/v1/assignments/claim/"+caseID, nil)
			if res.status != notInPool.status || res.body["title"] != notInPool.body["title"] || res.body["detail"] != notInPool.body["detail"] {
				t.Errorf("%s's claim of held case: %d %v, want as for a case not in the pool: %d %v",
					token, res.status, res.body, notInPool.status, notInPool.body)
			}
		}

		// Entered before the patient consented: held.
		first := h.enterOf(patient, "CARDIOLOGY", "STANDARD", "en")
		if listed("a", a, first) || listed("b", b, first) || listed("admin", a, first) {
			t.Error("a held case is listed")
		}
		wantNotInPool("a", first)
		wantNotInPool("onco", first)
		h.clock.advance(3 * time.Hour)
		h.svc.sweep(t.Context())
		if evs := h.outbox("assignment.escalated"); len(evs) != 0 {
			t.Errorf("a held case escalated: %v", evs)
		}

		// The grant brings it in, waiting from the grant.
		grantedAt := h.clock.Now()
		grant := h.consent("consent.granted", patient, 1)
		av := h.do("a", "GET", "/api/v1/assignments/available/"+a, nil)
		if its := items(av); len(its) != 1 || its[0]["caseId"] != first || its[0]["waitingSince"] != grantedAt.Format(time.RFC3339) {
			t.Fatalf("available after the grant: %v", av.body)
		}
		raw := jsonOf(av.body)
		if strings.Contains(raw, patient) || strings.Contains(raw, "customerId") || strings.Contains(raw, "patient") {
			t.Errorf("the pool shows the patient: %s", raw)
		}
		// Its escalation clock started at the grant too.
		h.clock.advance(time.Hour)
		h.svc.sweep(t.Context())
		if evs := h.outbox("assignment.escalated"); len(evs) != 0 {
			t.Errorf("escalated an hour after joining: %v", evs)
		}
		h.clock.advance(time.Hour)
		h.svc.sweep(t.Context())
		if evs := h.outbox("assignment.escalated"); len(evs) != 1 || evs[0]["waitingSince"] != grantedAt.Format(time.RFC3339) {
			t.Errorf("escalation after joining: %v", evs)
		}

		// With the consent in force a new case is offered at once.
		second := h.enterOf(patient, "CARDIOLOGY", "STANDARD", "en")
		if !listed("b", b, second) {
			t.Fatal("a case entered with the consent in force is not listed")
		}
		res := h.do("a", "POST", "/api/v1/assignments/claim/"+first, nil)
		if res.status != 201 {
			t.Fatalf("claim: %d %v", res.status, res.body)
		}
		claimed := res.body["id"].(string)

		// The withdrawal holds the unclaimed case; the claimed one stays.
		withdrawal := h.consent("consent.withdrawn", patient, 2)
		if listed("b", b, second) || listed("a", a, second) {
			t.Error("an unclaimed case is listed after the withdrawal")
		}
		wantNotInPool("b", second)
		if as := items(h.do("a", "GET", "/api/v1/assignments", nil)); len(as) != 1 || as[0]["id"] != claimed || as[0]["status"] != "ACTIVE" {
			t.Errorf("the claimed case after the withdrawal: %v", as)
		}
		if act, err := h.svc.store.Active(t.Context(), first); err != nil || act.ProfessionalID != a {
			t.Errorf("active assignment after the withdrawal: %+v %v", act, err)
		}
		if res := h.do("b", "POST", "/api/v1/assignments/claim/"+first, nil); res.status != 409 {
			t.Errorf("claim of the claimed case after the withdrawal: %d %v", res.status, res.body)
		}

		// Neither the grant delivered again nor a retried older one undoes
		// the withdrawal.
		h.deliver(grant)
		h.clock.advance(time.Minute)
		h.consent("consent.granted", patient, 1)
		if listed("b", b, second) {
			t.Error("an older grant undid the withdrawal")
		}

		// Given back while the consent is withdrawn, the claimed case is
		// held too.
		if res := h.do("a", "POST", "/api/v1/assignments/release/"+claimed, nil); res.status != 200 {
			t.Fatalf("release: %d %v", res.status, res.body)
		}
		if listed("b", b, first) {
			t.Error("a case released while the consent is withdrawn is listed")
		}
		wantNotInPool("b", first)

		// The grant again brings both back for a new stay; delivered twice,
		// or repeated at the same revision, it starts no other.
		h.clock.advance(time.Hour)
		regrantedAt := h.clock.Now()
		regrant := h.consent("consent.granted", patient, 3)
		stays := func() []int {
			var out []int
			for _, id := range []string{first, second} {
				e, err := h.svc.store.Entry(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, e.Stay)
			}
			return out
		}
		before := stays()
		h.clock.advance(time.Minute)
		h.deliver(regrant)
		h.consent("consent.granted", patient, 3)
		if got := stays(); !slices.Equal(got, before) {
			t.Errorf("stays %v after the grant came again, want %v", got, before)
		}
		av = h.do("b", "GET", "/api/v1/assignments/available/"+b, nil)
		if got := caseIDs(av); len(got) != 2 {
			t.Fatalf("available after the grant again: %v", av.body)
		}
		for _, it := range items(av) {
			if it["waitingSince"] != regrantedAt.Format(time.RFC3339) {
				t.Errorf("waiting since %v, want the grant's time %s", it["waitingSince"], regrantedAt.Format(time.RFC3339))
			}
		}
		if res := h.do("b", "POST", "/api/v1/assignments/claim/"+second, nil); res.status != 201 {
			t.Errorf("claim after the grant again: %d %v", res.status, res.body)
		}

		// A withdrawal that came late, older than the grant, holds nothing.
		h.deliver(withdrawal)
		h.feed("consent.withdrawn", patient, map[string]any{"patientId": patient, "purpose": "SHARE_WITH_PROFESSIONALS",
			"version": "2026-12-01", "revision": 2, "timestamp": h.clock.Now()})
		if !listed("b", b, first) {
			t.Error("a late, older withdrawal held the case")
		}
		// Consents for other purposes are not the pool's business.
		h.feed("consent.withdrawn", patient, map[string]any{"patientId": patient, "purpose": "RESEARCH",
			"version": "2026-12-01", "revision": 9, "timestamp": h.clock.Now()})
		if !listed("b", b, first) {
			t.Error("withdrawing another purpose held the case")
		}
		// Only the two real claims made assignments.
		if evs := h.outbox("case.assigned"); len(evs) != 2 {
			t.Errorf("case.assigned events: %v", evs)
		}
	})
}

// An entry event that names no patient could never be offered: it fails,
// to be retried and then shown to an admin as a dead letter, and opens
// nothing.
func TestEntryNeedsItsPatient(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{})
		id := uuid.NewString()
		e, err := bus.New("test", "case.awaiting_assignment", id, map[string]any{"caseId": id, "caseNumber": "EU-2031-NOPAT1",
			"specialty": "CARDIOLOGY", "urgency": "STANDARD", "language": "en", "ageBand": "40-49", "timestamp": h.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.svc.Consume(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		var status, lastError string
		if err := db.QueryRow(`SELECT status, last_error FROM inbox WHERE event_id = $1`, e.ID).Scan(&status, &lastError); err != nil ||
			status == "done" || !strings.Contains(lastError, "patient id") {
			t.Errorf("inbox: %s %q %v, want a failure naming the patient", status, lastError, err)
		}
		if _, err := h.svc.store.Entry(t.Context(), id); err == nil {
			t.Error("an entry without its patient was opened")
		}
	})
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
