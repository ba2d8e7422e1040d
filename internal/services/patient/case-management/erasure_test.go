package casemanagement

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	contracts "github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/patient/case-management/domain"
	"github.com/secondopinion/platform/internal/services/patient/case-management/store"
)

// patientErased is patient-identity's event erasing patient id.
func patientErased(t *testing.T, id string) bus.Event {
	t.Helper()
	e, err := contracts.PatientErasedV1.New(contracts.PatientIdentity, id, contracts.PatientErased{PatientID: id, Timestamp: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// erasedEvents are the case ids of the case.erased events in the outbox
// about one of ids, in order, each held to its contract.
func (h *harness) erasedEvents(ids ...string) []string {
	h.t.Helper()
	var out []string
	for _, e := range testkit.Outbox(h.t, h.db) {
		if e.Type != contracts.CaseErasedV1.Type {
			continue
		}
		if err := contracts.Check(e); err != nil {
			h.t.Errorf("case.erased off its contract: %v", err)
		}
		p, err := contracts.CaseErasedV1.Decode(e)
		if err != nil {
			h.t.Fatal(err)
		}
		if !slices.Contains(ids, p.CaseID) {
			continue
		}
		if e.AggregateID != p.CaseID || e.ServiceID != Name || p.Timestamp.IsZero() {
			h.t.Errorf("case.erased %+v: %s", e, e.Payload)
		}
		out = append(out, p.CaseID)
	}
	return out
}

// count is a count(*) query's answer.
func (h *harness) count(query string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.QueryRow(query, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// testErasure: patient.erased removes every case of the patient, whatever
// its status, with all that hangs off it, once; each goes with a
// case.erased; another patient's case stays; events that come later about
// an erased case change nothing and are not retried.
func testErasure(t *testing.T, h *harness) {
	ctx := context.Background()
	create := map[string]any{"customerId": h.patient, "specialty": "NEUROLOGY", "title": title, "question": question}
	theirs := h.doAs("patient:"+h.other, "POST", "/api/v1/cases", map[string]any{"customerId": h.other,
		"specialty": "NEUROLOGY", "title": title, "question": question}).body["id"].(string)
	h.doAs("patient:"+h.other, "POST", "/api/v1/cases/"+theirs+"/submit", nil)

	// A draft, opened with an Idempotency-Key whose cached answer holds
	// its title and question; a case in the pool, submitted by an admin
	// with a key; an assigned case; a cancelled one.
	res := h.send(h.token, "open-1", "POST", "/api/v1/cases", create)
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %v", res.status, res.body)
	}
	draft := res.body["id"].(string)
	pooled := h.newCase()["id"].(string)
	if res := h.send("admin", "submit-1", "POST", "/api/v1/cases/"+pooled+"/submit", nil); res.body["status"] != "AWAITING_ASSIGNMENT" {
		t.Fatalf("submit: %d %v", res.status, res.body)
	}
	assigned := h.newCase()["id"].(string)
	h.do("POST", "/api/v1/cases/"+assigned+"/submit", nil)
	if err := h.svc.Consume(ctx, event(t, "case.assigned", assigned, map[string]any{"professionalId": proID})); err != nil {
		t.Fatal(err)
	}
	cancelled := h.newCase()
	h.do("POST", "/api/v1/cases/"+cancelled["id"].(string)+"/cancel", map[string]any{"reason": "no longer needed"})
	ids := []string{draft, pooled, assigned, cancelled["id"].(string)}
	if res := h.doAs("pro", "GET", "/api/v1/cases/"+assigned, nil); res.status != 200 {
		t.Fatalf("the assignee reads the case: %d", res.status)
	}
	// And a request of the patient's in flight, whose record has no answer
	// yet to name a case.
	if _, err := h.db.Exec(`INSERT INTO idempotency_keys (key, fingerprint, token, owner, state, held_until, expires_at)
		VALUES ($1, 'f', 't', 'o', 'pending', $2, $2)`, "idem:"+Name+":patient:"+h.patient+":open-2", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	keys := `SELECT count(*) FROM idempotency_keys WHERE key LIKE $1 OR key LIKE $2`
	if n := h.count(keys, "%:"+h.patient+":open-%", "%:submit-1"); n != 3 {
		t.Fatalf("%d Idempotency-Key records, want 3", n)
	}

	erase := patientErased(t, h.patient)
	// Redelivered, and erased again by a repeated request: no second effect.
	for _, e := range []bus.Event{erase, erase, patientErased(t, h.patient)} {
		if err := h.svc.Consume(ctx, e); err != nil {
			t.Fatalf("patient.erased: %v", err)
		}
	}

	if got := h.erasedEvents(append(slices.Clone(ids), theirs)...); !slices.Equal(got, ids) {
		t.Errorf("case.erased for %v, want one for each of %v", got, ids)
	}
	for _, id := range ids {
		for _, tok := range []string{h.token, "admin", "pro"} {
			if res := h.doAs(tok, "GET", "/api/v1/cases/"+id, nil); res.status != http.StatusNotFound || res.body["caseNumber"] != nil {
				t.Errorf("GET an erased case as %q: %d %v", tok, res.status, res.body)
			}
		}
		// A command in flight finds no case to change.
		for _, cmd := range []string{"/submit", "/cancel"} {
			if res := h.do("POST", "/api/v1/cases/"+id+cmd, nil); res.status != http.StatusNotFound {
				t.Errorf("POST %s on an erased case: %d %v", cmd, res.status, res.body)
			}
		}
		if n := h.count(`SELECT count(*) FROM case_timeline WHERE case_id = $1`, id); n != 0 {
			t.Errorf("%d timeline entries of erased case %s left", n, id)
		}
	}
	if res := h.do("GET", "/api/v1/cases/"+cancelled["caseNumber"].(string)+"/status", nil); res.status != http.StatusNotFound {
		t.Errorf("status of an erased case by its number: %d", res.status)
	}
	if res := h.do("GET", "/api/v1/cases", nil); res.status != 200 || len(res.body["items"].([]any)) != 0 {
		t.Errorf("list after the erasure: %d %v", res.status, res.body)
	}
	if n := h.count(`SELECT count(*) FROM cases WHERE customer_id = $1`, h.patient); n != 0 {
		t.Errorf("%d cases of the erased patient left", n)
	}
	if n := h.count(keys, "%:"+h.patient+":open-%", "%:submit-1"); n != 0 {
		t.Errorf("%d Idempotency-Key records of the erased patient left", n)
	}
	if res := h.doAs("patient:"+h.other, "GET", "/api/v1/cases/"+theirs, nil); res.status != 200 ||
		res.body["status"] != "AWAITING_ASSIGNMENT" || len(res.body["timeline"].([]any)) != 3 {
		t.Errorf("another patient's case: %d %v", res.status, res.body)
	}

	// Every event the service consumes, about an erased case: done, not
	// retried, and no case reappears.
	for _, typ := range domain.EventTypes() {
		e := event(t, typ, assigned, map[string]any{"professionalId": proID, "reviewRequired": true})
		if err := h.svc.Consume(ctx, e); err != nil {
			t.Errorf("%s about an erased case: %v", typ, err)
		}
		var status string
		if err := h.db.QueryRow(`SELECT status FROM inbox WHERE event_id = $1`, e.ID).Scan(&status); err != nil || status != "done" {
			t.Errorf("%s about an erased case: inbox %q, %v; want done", typ, status, err)
		}
	}
	if n := h.count(`SELECT count(*) FROM cases WHERE customer_id = $1 OR id = $2`, h.patient, assigned); n != 0 {
		t.Errorf("events brought back %d cases", n)
	}
	logs := h.logs.String()
	if strings.Contains(logs, "event for an unknown case") || !strings.Contains(logs, "event for an erased case ignored") {
		t.Errorf("events about an erased case are not logged as such:\n%s", logs)
	}
	if strings.Contains(logs, title) || strings.Contains(logs, question) {
		t.Errorf("the logs carry a case's title or question:\n%s", logs)
	}
	// An event about a case that never was is still told apart.
	if err := h.svc.Consume(ctx, event(t, "case.assigned", uuid.NewString(), map[string]any{})); err != nil ||
		!strings.Contains(h.logs.String(), "event for an unknown case") {
		t.Errorf("event about an unknown case: %v", err)
	}

	// A case opened for the patient while their erasure went through
	// (patient-identity still vouched for them here) is refused; so is the
	// retry of the keyed request, which is run again, not replayed.
	for _, key := range []string{"", "open-1"} {
		if res := h.send(h.token, key, "POST", "/api/v1/cases", create); res.status != http.StatusUnprocessableEntity ||
			fieldOf(res) != "body.customerId" {
			t.Errorf("create for an erased patient (key %q): %d %v", key, res.status, res.body)
		}
	}
	if n := h.count(`SELECT count(*) FROM cases WHERE customer_id = $1`, h.patient); n != 0 {
		t.Errorf("%d cases opened for the erased patient", n)
	}
}

// testErasureRace: a case whose creation is in flight when the erasure
// comes is erased with the others, not left behind: the erasure waits for
// it.
func testErasureRace(t *testing.T, h *harness) {
	ctx := context.Background()
	kept := h.newCase()["id"].(string)
	inserted, release := make(chan struct{}), make(chan struct{})
	created := make(chan error, 1)
	var late store.Case
	go func() {
		var err error
		late, err = h.svc.store.Create(ctx, store.Case{ID: uuid.NewString(), CustomerID: h.patient, Specialty: "NEUROLOGY",
			Urgency: "STANDARD", Title: title, Question: question, Language: "en", CreatedAt: h.svc.now()}, h.svc.newNumber,
			func(c store.Case) ([]bus.Event, error) {
				close(inserted) // the case is inserted, its transaction open
				<-release
				return createdEvents(c)
			})
		created <- err
	}()
	<-inserted
	erased := make(chan error, 1)
	go func() { erased <- h.svc.Consume(ctx, patientErased(t, h.patient)) }()
	// Time for an erasure that does not wait to finish without the case.
	time.Sleep(300 * time.Millisecond)
	close(release)
	if err := <-created; err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := <-erased; err != nil {
		t.Fatalf("erase: %v", err)
	}
	if n := h.count(`SELECT count(*) FROM cases WHERE customer_id = $1`, h.patient); n != 0 {
		t.Errorf("%d cases outlived the erasure", n)
	}
	if got := h.erasedEvents(kept, late.ID); !slices.Equal(got, []string{kept, late.ID}) {
		t.Errorf("case.erased for %v, want for %v", got, []string{kept, late.ID})
	}
}
