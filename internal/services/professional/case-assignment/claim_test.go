package caseassignment

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/domain"
)

var (
	cardio = []string{"CARDIOLOGY"}
	en     = []string{"en"}
)

// Matching decides who may see and claim a case; the first matching
// claim wins, later ones get 409 with the plan's title.
func TestClaim(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{EarlyAccess: 10 * time.Minute})
		senior := h.pro("senior", "SENIOR", []string{"NEUROLOGY", "CARDIOLOGY"}, []string{"de", "en"})
		h.pro("expert", "EXPERT", cardio, en)
		h.pro("junior", "JUNIOR", cardio, en)
		h.pro("french", "SENIOR", cardio, []string{"fr"})
		h.pro("onco", "DISTINGUISHED", []string{"ONCOLOGY"}, en)
		pending := uuid.NewString()
		h.tokens.add("pending", tokenOf(pending))
		h.feed("professional.registered", pending, map[string]any{"professionalId": pending, "specialties": cardio,
			"languages": en, "level": "JUNIOR", "timestamp": h.clock.Now()})

		urgent := h.enter("CARDIOLOGY", "URGENT", "en")
		claim := "/api/v1/assignments/claim/" + urgent

		// In the early-access window only EXPERT and DISTINGUISHED see it.
		if got := caseIDs(h.do("senior", "GET", "/api/v1/assignments/available/"+senior, nil)); len(got) != 0 {
			t.Errorf("senior sees %v in the early-access window", got)
		}
		if res := h.do("senior", "POST", claim, nil); res.status != 403 || !strings.Contains(res.body["detail"].(string), "early-access") {
			t.Errorf("senior's early claim: %d %v", res.status, res.body)
		}
		h.clock.advance(10 * time.Minute)
		for token, why := range map[string]domain.Mismatch{
			"junior":  domain.LevelTooLow,
			"french":  domain.WrongLanguage,
			"onco":    domain.WrongSpecialty,
			"pending": domain.NotVerified,
		} {
			if res := h.do(token, "POST", claim, nil); res.status != 403 || res.body["detail"] != string(why) {
				t.Errorf("%s's claim: %d %v, want 403 %q", token, res.status, res.body, why)
			}
		}
		for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
			if res := h.do("senior", "POST", "/api/v1/assignments/claim/"+id, nil); res.status/100 != 4 || res.status == 403 {
				t.Errorf("claim of unknown case %s: %d %v", id, res.status, res.body)
			}
		}
		if res := h.do("senior", "POST", "/api/v1/assignments/claim/"+uuid.NewString(), nil); res.status != 404 {
			t.Errorf("claim of unknown case: %d %v", res.status, res.body)
		}

		av := h.do("senior", "GET", "/api/v1/assignments/available/"+senior, nil)
		if its := items(av); av.status != 200 || len(its) != 1 {
			t.Fatalf("available: %d %v", av.status, av.body)
		}
		sum := items(av)[0]
		want := map[string]any{"caseId": urgent, "caseNumber": "EU-2031-" + urgent[:6], "specialty": "CARDIOLOGY", "urgency": "URGENT",
			"language": "en", "ageBand": "40-49", "requiredLevel": "SENIOR", "waitingSince": "2031-05-01T08:00:00Z", "deadlineHours": float64(24)}
		if len(sum) != len(want) {
			t.Errorf("summary %v has other fields than %v", sum, want)
		}
		for k, v := range want {
			if sum[k] != v {
				t.Errorf("summary %s = %v, want %v", k, sum[k], v)
			}
		}

		res := h.do("senior", "POST", claim, nil)
		if res.status != 201 || res.body["status"] != "ACTIVE" || res.body["professionalId"] != senior || res.body["caseId"] != urgent ||
			res.body["deadline"] != "2031-05-02T08:10:00Z" || res.body["caseNumber"] != "EU-2031-"+urgent[:6] {
			t.Fatalf("claim: %d %v", res.status, res.body)
		}
		assignmentID := res.body["id"].(string)
		for _, token := range []string{"senior", "expert"} {
			if res := h.do(token, "POST", claim, nil); res.status != 409 || res.body["title"] != "Case already claimed" {
				t.Errorf("%s's late claim: %d %v", token, res.status, res.body)
			}
		}
		if got := caseIDs(h.do("expert", "GET", "/api/v1/assignments/available/"+h.tokens.m["expert"].Subject, nil)); len(got) != 0 {
			t.Errorf("a claimed case is still available: %v", got)
		}
		evs := h.outbox("case.assigned")
		if len(evs) != 1 || evs[0]["caseId"] != urgent || evs[0]["professionalId"] != senior || evs[0]["assignmentId"] != assignmentID ||
			evs[0]["deadline"] != "2031-05-02T08:10:00Z" || evs[0]["timestamp"] != "2031-05-01T08:10:00Z" {
			t.Errorf("case.assigned: %v", evs)
		}

		// The assignment is in the professional's list and the admin's.
		if res := h.do("senior", "GET", "/api/v1/assignments", nil); len(items(res)) != 1 || items(res)[0]["id"] != assignmentID {
			t.Errorf("own list: %d %v", res.status, res.body)
		}
		if res := h.do("expert", "GET", "/api/v1/assignments", nil); res.status != 200 || len(items(res)) != 0 {
			t.Errorf("other's list: %d %v", res.status, res.body)
		}
		if res := h.do("admin", "GET", "/api/v1/assignments?professionalId="+senior, nil); len(items(res)) != 1 {
			t.Errorf("admin's list: %d %v", res.status, res.body)
		}

		// A cancelled case leaves the pool and ends its assignment.
		other := h.enter("CARDIOLOGY", "STANDARD", "en")
		h.feed("case.cancelled", other, map[string]any{"caseId": other, "caseNumber": "EU-2031-X", "timestamp": h.clock.Now()})
		if res := h.do("expert", "POST", "/api/v1/assignments/claim/"+other, nil); res.status != 404 {
			t.Errorf("claim of a cancelled case: %d %v", res.status, res.body)
		}
		h.feed("case.completed", urgent, map[string]any{"caseId": urgent, "caseNumber": "EU-2031-X", "timestamp": h.clock.Now()})
		if a, err := h.svc.store.Assignment(t.Context(), assignmentID); err != nil || a.Status != "CLOSED" {
			t.Errorf("assignment of a completed case: %+v %v", a, err)
		}
		// A late entry event does not reopen a closed case.
		h.feed("case.awaiting_assignment", other, map[string]any{"caseId": other, "customerId": uuid.NewString(), "caseNumber": "EU-2031-X",
			"specialty": "CARDIOLOGY", "urgency": "STANDARD", "language": "en", "ageBand": "40-49", "timestamp": h.clock.Now()})
		if res := h.do("expert", "POST", "/api/v1/assignments/claim/"+other, nil); res.status != 404 {
			t.Errorf("claim of a reopened closed case: %d %v", res.status, res.body)
		}
	})
}

// Releasing gives a case back at once; expiry does too and keeps the
// late professional away from it; a delivered assignment never expires.
func TestReleaseAndExpiry(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{})
		a := h.pro("a", "SENIOR", cardio, en)
		b := h.pro("b", "SENIOR", cardio, en)
		c := h.enter("CARDIOLOGY", "STANDARD", "en")
		claim := "/api/v1/assignments/claim/" + c

		res := h.do("a", "POST", claim, nil)
		if res.status != 201 {
			t.Fatalf("claim: %d %v", res.status, res.body)
		}
		first := res.body["id"].(string)
		release := "/api/v1/assignments/release/" + first
		if res := h.do("b", "POST", release, nil); res.status != 404 {
			t.Errorf("other's release: %d %v", res.status, res.body)
		}
		h.clock.advance(time.Hour)
		if res := h.do("a", "POST", release, nil); res.status != 200 || res.body["status"] != "RELEASED" || res.body["endedAt"] != "2031-05-01T09:00:00Z" {
			t.Fatalf("release: %d %v", res.status, res.body)
		}
		if res := h.do("a", "POST", release, nil); res.status != 409 {
			t.Errorf("second release: %d %v", res.status, res.body)
		}
		if evs := h.outbox("assignment.released"); len(evs) != 1 || evs[0]["assignmentId"] != first || evs[0]["professionalId"] != a {
			t.Errorf("assignment.released: %v", evs)
		}
		// Back in the pool for a new stay: a releasing professional may
		// claim again.
		av := h.do("b", "GET", "/api/v1/assignments/available/"+b, nil)
		if its := items(av); len(its) != 1 || its[0]["waitingSince"] != "2031-05-01T09:00:00Z" {
			t.Fatalf("available after release: %v", av.body)
		}
		res = h.do("a", "POST", claim, nil)
		if res.status != 201 || res.body["deadline"] != "2031-05-04T09:00:00Z" {
			t.Fatalf("claim after release: %d %v", res.status, res.body)
		}
		second := res.body["id"].(string)

		// Not due yet: nothing expires.
		h.clock.advance(72*time.Hour - time.Second)
		h.svc.sweep(t.Context())
		if evs := h.outbox("assignment.expired"); len(evs) != 0 {
			t.Fatalf("expired before the deadline: %v", evs)
		}
		h.clock.advance(time.Second)
		h.svc.sweep(t.Context())
		evs := h.outbox("assignment.expired")
		if len(evs) != 1 || evs[0]["assignmentId"] != second || evs[0]["professionalId"] != a || evs[0]["caseId"] != c {
			t.Fatalf("assignment.expired: %v", evs)
		}
		if res := h.do("a", "GET", "/api/v1/assignments", nil); items(res)[0]["status"] != "EXPIRED" {
			t.Errorf("a's assignments: %v", res.body)
		}
		// a is excluded from the case for good; b gets it.
		if got := caseIDs(h.do("a", "GET", "/api/v1/assignments/available/"+a, nil)); len(got) != 0 {
			t.Errorf("excluded professional sees %v", got)
		}
		if res := h.do("a", "POST", claim, nil); res.status != 403 {
			t.Errorf("excluded professional's claim: %d %v", res.status, res.body)
		}
		res = h.do("b", "POST", claim, nil)
		if res.status != 201 {
			t.Fatalf("b's claim after expiry: %d %v", res.status, res.body)
		}
		// b delivers: the deadline no longer applies.
		h.feed("opinion.submitted", c, map[string]any{"caseId": c, "opinionId": uuid.NewString(), "professionalId": b,
			"reviewRequired": false, "timestamp": h.clock.Now()})
		h.clock.advance(100 * time.Hour)
		h.svc.sweep(t.Context())
		if evs := h.outbox("assignment.expired"); len(evs) != 1 {
			t.Errorf("a delivered assignment expired: %v", evs)
		}
		if res := h.do("b", "GET", "/api/v1/assignments", nil); items(res)[0]["status"] != "DELIVERED" {
			t.Errorf("b's assignments: %v", res.body)
		}
		if res := h.do("b", "POST", "/api/v1/assignments/release/"+items(h.do("b", "GET", "/api/v1/assignments", nil))[0]["id"].(string), nil); res.status != 409 {
			t.Errorf("release of a delivered assignment: %d %v", res.status, res.body)
		}
	})
}

// A case waiting past the escalation age raises one event per pool stay.
func TestEscalation(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{EscalateAfter: 2 * time.Hour})
		h.pro("a", "SENIOR", cardio, en)
		c := h.enter("CARDIOLOGY", "STANDARD", "en")
		h.clock.advance(2*time.Hour - time.Second)
		h.svc.sweep(t.Context())
		if evs := h.outbox("assignment.escalated"); len(evs) != 0 {
			t.Fatalf("escalated early: %v", evs)
		}
		h.clock.advance(time.Second)
		h.svc.sweep(t.Context())
		h.clock.advance(time.Hour)
		h.svc.sweep(t.Context())
		evs := h.outbox("assignment.escalated")
		if len(evs) != 1 || evs[0]["caseId"] != c || evs[0]["waitingSince"] != "2031-05-01T08:00:00Z" || evs[0]["timestamp"] != "2031-05-01T10:00:00Z" {
			t.Fatalf("assignment.escalated: %v", evs)
		}
		// A new stay after a release escalates again.
		res := h.do("a", "POST", "/api/v1/assignments/claim/"+c, nil)
		if res.status != 201 {
			t.Fatalf("claim: %d %v", res.status, res.body)
		}
		h.do("a", "POST", "/api/v1/assignments/release/"+res.body["id"].(string), nil)
		h.clock.advance(2 * time.Hour)
		h.svc.sweep(t.Context())
		if evs := h.outbox("assignment.escalated"); len(evs) != 2 {
			t.Errorf("second stay: %v", evs)
		}
	})
}

// Two replicas sweeping at once expire and escalate each row once: the
// conditional update decides which one publishes.
func TestSchedulersRace(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{EscalateAfter: time.Hour})
		h.pro("a", "SENIOR", cardio, en)
		const n = 30
		for range n {
			c := h.enter("CARDIOLOGY", "URGENT", "en")
			if res := h.do("a", "POST", "/api/v1/assignments/claim/"+c, nil); res.status != 201 {
				t.Fatalf("claim: %d %v", res.status, res.body)
			}
			h.enter("CARDIOLOGY", "STANDARD", "en") // stays unclaimed
		}
		h.clock.advance(24 * time.Hour)
		replicas := []*Service{h.svc, h.newService(Config{EscalateAfter: time.Hour}), h.newService(Config{EscalateAfter: time.Hour})}
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
		if evs := h.outbox("assignment.expired"); len(evs) != n || distinct(evs, "assignmentId") != n {
			t.Errorf("%d expiry events for %d distinct assignments, want %d", len(evs), distinct(evs, "assignmentId"), n)
		}
		// Expired cases reopened now, so only the unclaimed ones escalate.
		if evs := h.outbox("assignment.escalated"); len(evs) != n || distinct(evs, "caseId") != n {
			t.Errorf("%d escalations for %d distinct cases, want %d", len(evs), distinct(evs, "caseId"), n)
		}
	})
}

func distinct(evs []map[string]any, key string) int {
	seen := map[any]bool{}
	for _, e := range evs {
		seen[e[key]] = true
	}
	return len(seen)
}

// The projection of professionals holds whatever order their events
// arrive in: a later change is never rolled back by an older event.
func TestProjectionOrder(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{})
		id := uuid.NewString()
		t0 := h.clock.Now()
		h.feed("professional.verified", id, map[string]any{"professionalId": id, "timestamp": t0.Add(time.Minute)})
		h.feed("professional.level_changed", id, map[string]any{"professionalId": id, "from": "JUNIOR", "to": "EXPERT", "timestamp": t0.Add(2 * time.Minute)})
		h.feed("professional.updated", id, map[string]any{"professionalId": id, "specialties": []string{"ONCOLOGY"}, "languages": en, "timestamp": t0.Add(3 * time.Minute)})
		h.feed("professional.registered", id, map[string]any{"professionalId": id, "specialties": cardio, "languages": en, "level": "JUNIOR", "timestamp": t0})
		h.feed("professional.suspended", id, map[string]any{"professionalId": id, "reason": "licence expired", "timestamp": t0})
		p, err := h.svc.store.Professional(t.Context(), id)
		if err != nil || p.Status != domain.Verified || p.Level != vocab.Expert || len(p.Specialties) != 1 || p.Specialties[0] != "ONCOLOGY" {
			t.Errorf("projection %+v %v", p, err)
		}
		h.feed("professional.suspended", id, map[string]any{"professionalId": id, "reason": "licence expired", "timestamp": t0.Add(time.Hour)})
		if p, _ := h.svc.store.Professional(t.Context(), id); p.Status != domain.Suspended {
			t.Errorf("suspension ignored: %+v", p)
		}
	})
}

// The available list pages by cursor, oldest first.
func TestAvailablePages(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{})
		a := h.pro("a", "JUNIOR", cardio, en)
		var want []string
		for i := range 7 {
			want = append(want, h.enter("CARDIOLOGY", "STANDARD", "en"))
			h.enter("CARDIOLOGY", "URGENT", "en") // needs a SENIOR
			if i%2 == 0 {
				h.clock.advance(time.Minute)
			}
		}
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			res := h.do("a", "GET", "/api/v1/assignments/available/"+a+"?limit=3&cursor="+cursor, nil)
			if res.status != 200 || pages > 3 {
				t.Fatalf("page %d: %d %v", pages, res.status, res.body)
			}
			got = append(got, caseIDs(res)...)
			next, _ := res.body["nextCursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		if strings.Join(got, ",") != strings.Join(sortedByEntry(h, want), ",") {
			t.Errorf("pages %v, want %v", got, want)
		}
		if res := h.do("a", "GET", "/api/v1/assignments/available/"+a+"?cursor=bogus", nil); res.status != 422 {
			t.Errorf("bad cursor: %d", res.status)
		}
	})
}

// sortedByEntry orders case ids as the pool does: by entry time, then id.
func sortedByEntry(h *harness, ids []string) []string {
	h.t.Helper()
	type key struct {
		at time.Time
		id string
	}
	var ks []key
	for _, id := range ids {
		e, err := h.svc.store.Entry(h.t.Context(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		ks = append(ks, key{e.OpenedAt, id})
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j].at.Before(ks[i].at) || (ks[j].at.Equal(ks[i].at) && ks[j].id < ks[i].id) {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.id
	}
	return out
}
