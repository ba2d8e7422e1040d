package medicalopinion

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	professionalv1 "github.com/secondopinion/platform/api/gen/professional/v1"
)

// claim has pro claim a case at case-assignment without delivering its
// case.assigned, and returns the event's payload for a later delivery.
func (h *harness) claim(caseID, pro string) map[string]any {
	h.t.Helper()
	id, deadline := uuid.NewString(), h.clock.now().Add(72*time.Hour)
	h.peers.mu.Lock()
	h.peers.claims[caseID] = &professionalv1.Assignment{Id: id, CaseId: caseID, ProfessionalId: pro,
		Deadline: deadline.Format(time.RFC3339), ClaimedAt: h.clock.now().Format(time.RFC3339)}
	h.peers.mu.Unlock()
	return map[string]any{"caseId": caseID, "professionalId": pro, "assignmentId": id, "deadline": deadline, "timestamp": h.clock.now()}
}

func (h *harness) setDown(down bool) {
	h.peers.mu.Lock()
	defer h.peers.mu.Unlock()
	h.peers.down = down
}

// projected returns the case's assignments in the projection as
// "assignment-id active|ended".
func (h *harness) projected(caseID string) []string {
	h.t.Helper()
	rows, err := h.db.Query(`SELECT assignment_id, ended_at IS NULL FROM opinion_assignments WHERE case_id = $1`, caseID)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		var active bool
		if err := rows.Scan(&id, &active); err != nil {
			h.t.Fatal(err)
		}
		state := " ended"
		if active {
			state = " active"
		}
		out = append(out, id+state)
	}
	if err := rows.Err(); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// A write right after a claim, before its case.assigned arrives, reads the
// assignment through from case-assignment, once; the projection path
// never asks it.
func testReadThrough(t *testing.T, h *harness) {
	// The assignee writes at once; the late event changes nothing.
	f := h.newCase("EXPERT")
	path := "/api/v1/cases/" + f.caseID + "/opinion"
	ev := h.claim(f.caseID, f.author)
	before := h.peers.lookUps()
	id := h.want(h.do("pro:"+f.author, "PUT", path, draft()), 200, "save before case.assigned").body["id"].(string)
	if n := h.peers.lookUps() - before; n != 1 {
		t.Errorf("look-ups for the first save: %d, want 1", n)
	}
	want := []string{ev["assignmentId"].(string) + " active"}
	if got := h.projected(f.caseID); len(got) != 1 || got[0] != want[0] {
		t.Errorf("projection after the read-through: %v, want %v", got, want)
	}
	h.deliver("case.assigned", f.caseID, ev)
	if got := h.projected(f.caseID); len(got) != 1 || got[0] != want[0] {
		t.Errorf("projection after the late case.assigned: %v, want %v", got, want)
	}
	if res := h.want(h.do("pro:"+f.author, "PUT", path, draft()), 200, "save again"); res.body["id"] != id {
		t.Errorf("second save wrote another opinion: %v", res.body)
	}
	h.want(h.do("pro:"+f.author, "POST", path+"/submit", nil), 200, "submit")
	if n := h.peers.lookUps() - before; n != 1 {
		t.Errorf("look-ups once the assignment is known: %d, want 1", n)
	}

	// Another professional is refused, whoever asks first.
	g := h.newCase("SENIOR")
	gpath := "/api/v1/cases/" + g.caseID + "/opinion"
	h.claim(g.caseID, g.author)
	before = h.peers.lookUps()
	h.want(h.do("pro:"+g.reviewer, "PUT", gpath, draft()), 404, "another professional saves")
	h.want(h.do("pro:"+g.reviewer, "POST", gpath+"/submit", nil), 404, "another professional submits")
	h.want(h.do("pro:"+g.author, "PUT", gpath, draft()), 200, "assignee saves")
	if n := h.peers.lookUps() - before; n != 1 {
		t.Errorf("look-ups: %d, want 1 (the first write records the assignment)", n)
	}

	// case-assignment down: 503 for the write, which succeeds once it is
	// back.
	d := h.newCase("SENIOR")
	dpath := "/api/v1/cases/" + d.caseID + "/opinion"
	h.claim(d.caseID, d.author)
	h.setDown(true)
	for _, w := range []struct {
		method, path string
		body         any
	}{{"PUT", dpath, draft()}, {"POST", dpath + "/submit", nil}} {
		res := h.do("pro:"+d.author, w.method, w.path, w.body)
		if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" {
			t.Errorf("%s with case-assignment down: %d %s, want 503", w.method, res.status, res.raw)
		}
	}
	h.setDown(false)
	h.want(h.do("pro:"+d.author, "PUT", dpath, draft()), 200, "save once case-assignment is back")

	// An assignment known to have ended stays ended, even when
	// case-assignment still names it.
	e := h.newCase("SENIOR")
	epath := "/api/v1/cases/" + e.caseID + "/opinion"
	eev := h.claim(e.caseID, e.author)
	h.deliver("assignment.released", e.caseID, map[string]any{"caseId": e.caseID, "professionalId": e.author, "assignmentId": eev["assignmentId"]})
	h.want(h.do("pro:"+e.author, "PUT", epath, draft()), 404, "save under an ended assignment")
	if got := h.projected(e.caseID); len(got) != 1 || got[0] != eev["assignmentId"].(string)+" ended" {
		t.Errorf("projection of the ended assignment: %v", got)
	}

	// With case.assigned delivered, writes never ask case-assignment.
	p := h.newFixture("JUNIOR")
	ppath := "/api/v1/cases/" + p.caseID + "/opinion"
	before = h.peers.lookUps()
	h.want(h.do("pro:"+p.author, "PUT", ppath, draft()), 200, "save")
	h.want(h.do("pro:"+p.reviewer, "PUT", ppath, draft()), 404, "another professional saves")
	h.want(h.do("pro:"+p.author, "POST", ppath+"/submit", nil), 200, "submit")
	if n := h.peers.lookUps() - before; n != 0 {
		t.Errorf("look-ups with the event delivered: %d, want 0", n)
	}
}
