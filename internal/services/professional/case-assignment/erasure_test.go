package caseassignment

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// case.erased takes a case out of the pool whatever its state — open,
// held, escalated, claimed — ends its active assignment without an event,
// keeps the assignments as ids, status and times, and forgets the cached
// answers that named it. Delivered again, or followed by late events about
// the case, it brings nothing back; other cases are untouched.
func TestCaseErased(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{EscalateAfter: 2 * time.Hour})
		a := h.pro("a", "SENIOR", cardio, en)
		h.pro("b", "SENIOR", cardio, en)

		escalated := h.enter("CARDIOLOGY", "STANDARD", "en")
		h.clock.advance(3 * time.Hour)
		h.svc.sweep(t.Context())
		if e, err := h.svc.store.Entry(t.Context(), escalated); err != nil || e.EscalatedAt.IsZero() {
			t.Fatalf("escalated entry: %+v %v", e, err)
		}
		open := h.enter("CARDIOLOGY", "STANDARD", "en")
		held := h.enterOf(uuid.NewString(), "CARDIOLOGY", "STANDARD", "en")
		// claimed was b's until it expired (b is excluded from it), then a's.
		claimed := h.enter("CARDIOLOGY", "URGENT", "en")
		expired := h.want(h.claimWithKey("b", claimed, "b-claims"), 201, "b's claim").body["id"].(string)
		h.clock.advance(25 * time.Hour)
		h.svc.sweep(t.Context())
		active := h.want(h.claimWithKey("a", claimed, "a-claims"), 201, "a's claim").body["id"].(string)
		// Untouched: another case claimed with a key, and one waiting.
		kept := h.enter("CARDIOLOGY", "STANDARD", "en")
		keptAssignment := h.want(h.claimWithKey("a", kept, "a-claims-kept"), 201, "claim of the kept case").body["id"].(string)
		waiting := h.enter("CARDIOLOGY", "STANDARD", "en")

		queued := len(h.domainEvents())
		h.clock.advance(time.Minute)
		erasedAt := h.clock.Now()
		erasures := map[string]bus.Event{}
		for _, c := range []string{escalated, open, held, claimed} {
			erasures[c] = h.feed("case.erased", c, map[string]any{"caseId": c, "timestamp": erasedAt})
		}

		h.wantErased(a, escalated, open, held, claimed)
		if evs := h.domainEvents(); len(evs) != queued {
			t.Errorf("the erasure queued %v; case-management must not be told to act on an erased case", evs[queued:])
		}
		if _, err := h.svc.store.Active(t.Context(), claimed); fault.KindOf(err) != fault.KindNotFound {
			t.Errorf("active assignment of an erased case: %v", err)
		}
		wantAssignment := func(id, status string, endedAt time.Time) {
			t.Helper()
			got, err := h.svc.store.Assignment(t.Context(), id)
			if err != nil || got.Status != status || !got.EndedAt.Equal(endedAt) || got.CaseNumber != "" ||
				got.CaseID != claimed {
				t.Errorf("assignment %s of the erased case: %+v %v, want %s ended at %s without a case number",
					id, got, err, status, endedAt)
			}
		}
		wantAssignment(active, "CLOSED", erasedAt)
		wantAssignment(expired, "EXPIRED", erasedAt.Add(-time.Minute))
		if got := h.count(`SELECT count(*) FROM pool_exclusions WHERE case_id = $1`, claimed); got != 0 {
			t.Errorf("%d exclusions of the erased case kept", got)
		}
		// The professional still sees their work, now without a case number.
		var listed map[string]any
		for _, it := range items(h.do("a", "GET", "/api/v1/assignments", nil)) {
			if it["id"] == active {
				listed = it
			}
		}
		if listed == nil || listed["status"] != "CLOSED" || listed["caseNumber"] != "" || listed["endedAt"] == nil {
			t.Errorf("the professional's erased assignment: %v", listed)
		}
		// The cached answers of the erased case's claims are forgotten; the
		// kept case's is not.
		if got := h.count(`SELECT count(*) FROM idempotency_keys`); got != 1 {
			t.Errorf("%d Idempotency-Key records, want only the kept case's", got)
		}
		if res := h.claimWithKey("a", kept, "a-claims-kept"); res.status != 201 || res.body["id"] != keptAssignment {
			t.Errorf("replay of the kept case's claim: %d %v", res.status, res.body)
		}

		// Delivered again, late, or followed by the case's older events, the
		// erasure stands.
		h.deliver(erasures[open])
		h.feed("case.erased", open, map[string]any{"caseId": open, "timestamp": erasedAt.Add(time.Hour)})
		for _, c := range []string{escalated, open, held, claimed} {
			h.feed("case.awaiting_assignment", c, map[string]any{"caseId": c, "customerId": uuid.NewString(),
				"caseNumber": "EU-2031-LATE01", "specialty": "CARDIOLOGY", "urgency": "STANDARD", "language": "en",
				"ageBand": "40-49", "timestamp": h.clock.Now()})
		}
		h.feed("case.cancelled", held, map[string]any{"caseId": held, "caseNumber": "EU-2031-LATE02", "timestamp": h.clock.Now()})
		h.feed("case.completed", claimed, map[string]any{"caseId": claimed, "caseNumber": "EU-2031-LATE03", "timestamp": h.clock.Now()})
		h.wantErased(a, escalated, open, held, claimed)
		var first time.Time
		if err := db.QueryRow(`SELECT erased_at FROM erased_cases WHERE case_id = $1`, open).Scan(&first); err != nil || !first.Equal(erasedAt) {
			t.Errorf("erased at %s %v after the erasure came again, want the first's time %s", first, err, erasedAt)
		}
		wantAssignment(active, "CLOSED", erasedAt)

		// The other cases are as they were.
		if e, err := h.svc.store.Entry(t.Context(), kept); err != nil || e.Status != "CLAIMED" || e.CaseNumber == "" {
			t.Errorf("the kept case: %+v %v", e, err)
		}
		if got, err := h.svc.store.Active(t.Context(), kept); err != nil || got.ID != keptAssignment || got.CaseNumber == "" {
			t.Errorf("the kept case's assignment: %+v %v", got, err)
		}
		if ids := caseIDs(h.do("a", "GET", "/api/v1/assignments/available/"+a, nil)); !slices.Equal(ids, []string{waiting}) {
			t.Errorf("available after the erasures: %v, want only %s", ids, waiting)
		}

		// The scheduler finds nothing of the erased cases to expire or
		// escalate; the others go on.
		queued = len(h.domainEvents())
		h.clock.advance(100 * time.Hour)
		h.svc.sweep(t.Context())
		for _, e := range h.domainEvents()[queued:] {
			if e.AggregateID != kept && e.AggregateID != waiting {
				t.Errorf("%s of an erased case", e.Type)
			}
		}
		if evs := h.outbox("assignment.expired"); len(evs) != 2 || evs[1]["caseId"] != kept {
			t.Errorf("expiries: %v, want b's of the erased case before it, then the kept case's", evs)
		}
	})
}

// domainEvents are the events queued in the outbox but the audit trail's.
func (h *harness) domainEvents() []bus.Event {
	var out []bus.Event
	for _, e := range testkit.Outbox(h.t, h.db) {
		if e.Type != kitaudit.Recorded.Type {
			out = append(out, e)
		}
	}
	return out
}

// patient.erased drops the patient's consent to share and erases their
// cases in the pool at once, whichever of patient.erased and case.erased
// comes first; another patient's consent and cases stay.
func TestPatientErased(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{})
		a := h.pro("a", "SENIOR", cardio, en)
		patient, other := uuid.NewString(), uuid.NewString()
		h.consent("consent.granted", patient, 1)
		h.consent("consent.granted", other, 1)
		waiting := h.enterOf(patient, "CARDIOLOGY", "STANDARD", "en")
		claimed := h.enterOf(patient, "CARDIOLOGY", "STANDARD", "en")
		assignment := h.want(h.claimWithKey("a", claimed, "claim"), 201, "claim").body["id"].(string)
		kept := h.enterOf(other, "CARDIOLOGY", "STANDARD", "en")

		erasure := h.feed("patient.erased", patient, map[string]any{"patientId": patient, "timestamp": h.clock.Now()})
		h.wantErased(a, waiting, claimed)
		if got := h.count(`SELECT count(*) FROM consents WHERE patient_id = $1`, patient); got != 0 {
			t.Error("the erased patient's consent is kept")
		}
		if got := h.count(`SELECT count(*) FROM pool WHERE patient_id = $1`, patient); got != 0 {
			t.Errorf("%d pool entries name the erased patient", got)
		}
		if got, err := h.svc.store.Assignment(t.Context(), assignment); err != nil || got.Status != "CLOSED" || got.CaseNumber != "" {
			t.Errorf("the erased patient's assignment: %+v %v", got, err)
		}
		if got := h.count(`SELECT count(*) FROM idempotency_keys`); got != 0 {
			t.Errorf("%d Idempotency-Key records of the erased patient's case kept", got)
		}

		// Their cases' own erasures, and the patient's again, find nothing
		// more to do; a late entry event names the patient to no effect.
		h.deliver(erasure)
		for _, c := range []string{waiting, claimed} {
			h.feed("case.erased", c, map[string]any{"caseId": c, "timestamp": h.clock.Now()})
		}
		h.feed("case.awaiting_assignment", waiting, map[string]any{"caseId": waiting, "customerId": patient,
			"caseNumber": "EU-2031-LATE04", "specialty": "CARDIOLOGY", "urgency": "STANDARD", "language": "en",
			"ageBand": "40-49", "timestamp": h.clock.Now()})
		h.wantErased(a, waiting, claimed)
		if got := h.count(`SELECT count(*) FROM pool WHERE patient_id = $1`, patient); got != 0 {
			t.Errorf("%d pool entries name the erased patient after late events", got)
		}

		if got := h.count(`SELECT count(*) FROM consents WHERE patient_id = $1 AND granted`, other); got != 1 {
			t.Error("another patient's consent was dropped")
		}
		if ids := caseIDs(h.do("a", "GET", "/api/v1/assignments/available/"+a, nil)); !slices.Equal(ids, []string{kept}) {
			t.Errorf("available: %v, want the other patient's case %s", ids, kept)
		}
	})
}

// wantErased checks that each case is remembered as erased and has left
// the pool: no entry, not listed to professional pro, and a claim answered
// as for a case the pool never had.
func (h *harness) wantErased(pro string, cases ...string) {
	h.t.Helper()
	never := h.do("a", "POST", "/api/v1/assignments/claim/"+uuid.NewString(), nil)
	listed := caseIDs(h.do("admin", "GET", "/api/v1/assignments/available/"+pro+"?limit=100", nil))
	for _, c := range cases {
		if got := h.count(`SELECT count(*) FROM erased_cases WHERE case_id = $1`, c); got != 1 {
			h.t.Errorf("case %s is not remembered as erased", c)
		}
		if got := h.count(`SELECT count(*) FROM pool WHERE case_id = $1`, c); got != 0 {
			h.t.Errorf("erased case %s is in the pool", c)
		}
		if slices.Contains(listed, c) {
			h.t.Errorf("erased case %s is listed", c)
		}
		if res := h.do("a", "POST", "/api/v1/assignments/claim/"+c, nil); res.status != never.status || res.body["detail"] != never.body["detail"] {
			h.t.Errorf("claim of erased case %s: %d %v, want as for an unknown case: %d %v", c, res.status, res.body, never.status, never.body)
		}
	}
}

// claimWithKey claims a case as the holder of token with an
// Idempotency-Key, whose record keeps the answer.
func (h *harness) claimWithKey(token, caseID, key string) response {
	h.t.Helper()
	req, err := http.NewRequest("POST", h.base+"/api/v1/assignments/claim/"+caseID, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	out := response{status: res.StatusCode}
	if err := json.NewDecoder(res.Body).Decode(&out.body); err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) want(res response, status int, what string) response {
	h.t.Helper()
	if res.status != status {
		h.t.Fatalf("%s: %d %v, want %d", what, res.status, res.body, status)
	}
	return res
}

// count runs a query of one number.
func (h *harness) count(query string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.QueryRow(query, args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	return n
}
