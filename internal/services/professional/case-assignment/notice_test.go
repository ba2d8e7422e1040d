package caseassignment

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// offersOf returns the assignment.case_offered payloads of a case, oldest
// first, each held to its contract.
func (h *harness) offersOf(caseID string) []map[string]any {
	h.t.Helper()
	var out []map[string]any
	for _, p := range h.outbox("assignment.case_offered") {
		if p["caseId"] == caseID {
			out = append(out, p)
		}
	}
	return out
}

// named returns an offer's professionals, sorted.
func named(offer map[string]any) []string {
	ids := []string{}
	raw, _ := offer["professionalIds"].([]any)
	for _, id := range raw {
		ids = append(ids, id.(string))
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string { slices.Sort(ids); return ids }

// A case entering the pool is offered, once, to exactly the verified
// professionals in good standing who match it — not to one of another
// language, specialty or too low a level, nor to a suspended or pending
// one — and again, in a new stay, when it comes back after a release or
// an expiry, then without the professional whose assignment expired.
func TestCaseOffered(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{})
		senior := h.pro("senior", "SENIOR", []string{"NEUROLOGY", "CARDIOLOGY"}, []string{"de", "en"})
		expert := h.pro("expert", "EXPERT", cardio, en)
		h.pro("junior", "JUNIOR", cardio, en)
		h.pro("french", "SENIOR", cardio, []string{"fr"})
		h.pro("onco", "DISTINGUISHED", []string{"ONCOLOGY"}, en)
		suspended := h.pro("suspended", "EXPERT", cardio, en)
		h.feed("professional.suspended", suspended, map[string]any{"professionalId": suspended, "reason": "licence expired",
			"timestamp": h.clock.Now()})
		pending := uuid.NewString()
		h.feed("professional.registered", pending, map[string]any{"professionalId": pending, "specialties": cardio,
			"languages": en, "level": "EXPERT", "timestamp": h.clock.Now()})

		c := h.enter("CARDIOLOGY", "URGENT", "en")
		offers := h.offersOf(c)
		if len(offers) != 1 {
			t.Fatalf("offers of a new case: %v", offers)
		}
		want := map[string]any{"caseId": c, "caseNumber": "EU-2031-" + c[:6], "specialty": "CARDIOLOGY", "urgency": "URGENT",
			"timestamp": "2031-05-01T08:00:00Z"}
		for k, v := range want {
			if offers[0][k] != v {
				t.Errorf("offer %s = %v, want %v", k, offers[0][k], v)
			}
		}
		if got := named(offers[0]); !slices.Equal(got, sorted(senior, expert)) {
			t.Errorf("offered to %v, want %v", got, sorted(senior, expert))
		}

		// Released: offered again, to the same professionals.
		res := h.do("senior", "POST", "/api/v1/assignments/claim/"+c, nil)
		if res.status != 201 {
			t.Fatalf("claim: %d %v", res.status, res.body)
		}
		h.clock.advance(time.Hour)
		if res := h.do("senior", "POST", "/api/v1/assignments/release/"+res.body["id"].(string), nil); res.status != 200 {
			t.Fatalf("release: %d %v", res.status, res.body)
		}
		offers = h.offersOf(c)
		if len(offers) != 2 || offers[1]["timestamp"] != "2031-05-01T09:00:00Z" || !slices.Equal(named(offers[1]), sorted(senior, expert)) {
			t.Errorf("offers after a release: %v", offers)
		}
		// Expired: offered again, without the late professional.
		if res := h.do("senior", "POST", "/api/v1/assignments/claim/"+c, nil); res.status != 201 {
			t.Fatalf("claim: %d %v", res.status, res.body)
		}
		h.clock.advance(24 * time.Hour)
		h.svc.sweep(t.Context())
		offers = h.offersOf(c)
		if len(offers) != 3 || !slices.Equal(named(offers[2]), []string{expert}) {
			t.Errorf("offers after an expiry: %v", offers)
		}

		// A case nobody matches is offered all the same, to nobody.
		nobody := h.enter("UROLOGY", "STANDARD", "en")
		if offers := h.offersOf(nobody); len(offers) != 1 || offers[0]["professionalIds"] == nil || len(named(offers[0])) != 0 {
			t.Errorf("offers of a case nobody matches: %v", offers)
		}
	})
}

// A case held for want of its patient's consent is offered when the
// consent comes into force, not before; the early-access window narrows
// an offer as it narrows the pool.
func TestCaseOfferedAfterConsent(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{EarlyAccess: 10 * time.Minute})
		h.pro("senior", "SENIOR", cardio, en)
		expert := h.pro("expert", "EXPERT", cardio, en)
		patient := uuid.NewString()
		c := h.enterOf(patient, "CARDIOLOGY", "STANDARD", "en")
		if offers := h.offersOf(c); len(offers) != 0 {
			t.Fatalf("a held case was offered: %v", offers)
		}
		h.clock.advance(time.Minute)
		h.consent("consent.granted", patient, 1)
		offers := h.offersOf(c)
		if len(offers) != 1 || offers[0]["timestamp"] != "2031-05-01T08:01:00Z" || !slices.Equal(named(offers[0]), []string{expert}) {
			t.Errorf("offers after the grant: %v", offers)
		}
	})
}

// approaching returns the assignment.deadline_approaching payloads of an
// assignment, oldest first.
func (h *harness) approaching(assignmentID string) []map[string]any {
	h.t.Helper()
	var out []map[string]any
	for _, p := range h.outbox("assignment.deadline_approaching") {
		if p["assignmentId"] == assignmentID {
			out = append(out, p)
		}
	}
	return out
}

func percents(evs []map[string]any) []float64 {
	var out []float64
	for _, e := range evs {
		out = append(out, e["percent"].(float64))
	}
	return out
}

// The professional of an ACTIVE assignment is told at 75 % and at 90 % of
// its time, each once; not after it ended; and only the 90 % when the
// sweep comes after both.
func TestDeadlineApproaching(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{DeadlineStandard: 100 * time.Hour})
		a := h.pro("a", "SENIOR", cardio, en)
		claim := func() string {
			t.Helper()
			c := h.enter("CARDIOLOGY", "STANDARD", "en")
			res := h.do("a", "POST", "/api/v1/assignments/claim/"+c, nil)
			if res.status != 201 {
				t.Fatalf("claim: %d %v", res.status, res.body)
			}
			return res.body["id"].(string)
		}
		start := h.clock.Now()
		at := func(d time.Duration) {
			t.Helper()
			h.clock.advance(start.Add(d).Sub(h.clock.Now()))
			h.svc.sweep(t.Context())
		}
		told := claim()
		delivered := claim()
		released := claim()

		at(75*time.Hour - time.Second)
		if evs := h.outbox("assignment.deadline_approaching"); len(evs) != 0 {
			t.Fatalf("told before 75 %%: %v", evs)
		}
		// Two end before their 75 %.
		ds, err := h.svc.store.Assignment(t.Context(), delivered)
		if err != nil {
			t.Fatal(err)
		}
		h.feed("opinion.submitted", ds.CaseID, map[string]any{"caseId": ds.CaseID, "opinionId": uuid.NewString(), "professionalId": a,
			"reviewRequired": false, "timestamp": h.clock.Now()})
		if res := h.do("a", "POST", "/api/v1/assignments/release/"+released, nil); res.status != 200 {
			t.Fatalf("release: %d %v", res.status, res.body)
		}
		at(75 * time.Hour)
		// Told at 75 %, nothing is to be looked at again before 90 %.
		if as, err := h.svc.store.Reminding(t.Context(), start.Add(90*time.Hour-time.Second), 100); err != nil || len(as) != 0 {
			t.Errorf("to remind before 90 %%: %+v %v", as, err)
		}
		at(80 * time.Hour)
		ta, err := h.svc.store.Assignment(t.Context(), told)
		if err != nil {
			t.Fatal(err)
		}
		evs := h.approaching(told)
		if len(evs) != 1 || evs[0]["percent"] != float64(75) || evs[0]["professionalId"] != a || evs[0]["caseId"] != ta.CaseID ||
			evs[0]["deadline"] != "2031-05-05T12:00:00Z" || evs[0]["timestamp"] != "2031-05-04T11:00:00Z" {
			t.Fatalf("at 75 %%: %v", evs)
		}
		at(90*time.Hour - time.Second)
		at(90 * time.Hour)
		at(99 * time.Hour)
		if got := percents(h.approaching(told)); !slices.Equal(got, []float64{75, 90}) {
			t.Errorf("told %v, want [75 90]", got)
		}
		for _, id := range []string{delivered, released} {
			if evs := h.approaching(id); len(evs) != 0 {
				t.Errorf("an ended assignment was told: %v", evs)
			}
		}
		// Past the deadline it expires, untold further.
		at(100 * time.Hour)
		at(200 * time.Hour)
		if got := percents(h.approaching(told)); !slices.Equal(got, []float64{75, 90}) {
			t.Errorf("after the deadline: told %v", got)
		}
		if evs := h.outbox("assignment.expired"); len(evs) != 1 || evs[0]["assignmentId"] != told {
			t.Errorf("assignment.expired: %v", evs)
		}

		// A sweep that comes after both shares tells the 90 % alone.
		late := claim()
		start = h.clock.Now()
		at(95 * time.Hour)
		at(96 * time.Hour)
		if got := percents(h.approaching(late)); !slices.Equal(got, []float64{90}) {
			t.Errorf("late sweep told %v, want [90]", got)
		}
	})
}

// Several replicas sweeping at once tell each share of each assignment
// once: the conditional update decides which one publishes.
func TestDeadlineApproachingRace(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{})
		h.pro("a", "SENIOR", cardio, en)
		const n = 30
		for range n {
			c := h.enter("CARDIOLOGY", "URGENT", "en")
			if res := h.do("a", "POST", "/api/v1/assignments/claim/"+c, nil); res.status != 201 {
				t.Fatalf("claim: %d %v", res.status, res.body)
			}
		}
		replicas := []*Service{h.svc, h.newService(Config{}), h.newService(Config{})}
		sweepAll := func() {
			done := make(chan struct{})
			for _, r := range replicas {
				go func() {
					defer func() { done <- struct{}{} }()
					r.sweep(t.Context())
				}()
			}
			for range replicas {
				<-done
			}
			for _, r := range replicas {
				r.sweep(t.Context()) // anything a failed attempt left is swept now
			}
		}
		h.clock.advance(18 * time.Hour) // 75 % of URGENT's 24 h
		sweepAll()
		h.clock.advance(216 * time.Minute) // 90 %
		sweepAll()
		evs := h.outbox("assignment.deadline_approaching")
		if len(evs) != 2*n || distinct(evs, "assignmentId") != n {
			t.Errorf("%d events for %d distinct assignments, want %d for %d", len(evs), distinct(evs, "assignmentId"), 2*n, n)
		}
		if got := percents(evs); len(got) == 2*n && (got[0] != 75 || got[2*n-1] != 90) {
			t.Errorf("percents %v", got)
		}
	})
}
