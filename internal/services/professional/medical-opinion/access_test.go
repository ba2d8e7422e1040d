package medicalopinion

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	contracts "github.com/secondopinion/platform/api/events"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// Every route against every kind of caller: anonymous 401, a role the
// route is not for 403, anyone the finer rules refuse 404 (as for a
// missing opinion), and the allowed callers through. Reads and refused
// reads are in the audit trail with the patient's id.
func testAccess(t *testing.T, h *harness) {
	f := h.newFixture("JUNIOR")
	author, patient := "pro:"+f.author, "patient:"+f.patient
	other := "patient:" + uuid.NewString()
	stranger := "pro:" + h.pro("DISTINGUISHED", "VERIFIED", "CARDIOLOGY", "ONCOLOGY")
	path := "/api/v1/cases/" + f.caseID + "/opinion"
	id := h.want(h.do(author, "PUT", path, draft()), 200, "save").body["id"].(string)
	h.want(h.do(author, "POST", path+"/submit", nil), 200, "submit")
	opinion := "/api/v1/opinions/" + id

	type route struct {
		method, path string
		body         any
		want         map[string]int // token → status; unlisted tokens get the default below
	}
	review := map[string]any{"decision": "APPROVE"}
	ask := map[string]any{"question": "Why?"}
	answer := map[string]any{"answer": "Because."}
	routes := []route{
		{"PUT", path, draft(), map[string]int{"": 401, patient: 403, other: 403, "admin": 403, stranger: 404, author: 409}},
		{"POST", path + "/submit", nil, map[string]int{"": 401, patient: 403, other: 403, "admin": 403, stranger: 404, author: 409}},
		{"GET", opinion, nil, map[string]int{"": 401, patient: 403, other: 403, "admin": 200, "pro:" + f.juniorPeer: 404, author: 200, "pro:" + f.reviewer: 200}},
		{"GET", path, nil, map[string]int{"": 401, patient: 404, other: 404, "admin": 200, stranger: 404, author: 200}},
		{"GET", opinion + "/report", nil, map[string]int{"": 401, patient: 404, other: 404, "admin": 200, stranger: 404, author: 200}},
		{"POST", path + "/questions", ask, map[string]int{"": 401, patient: 404, other: 404, "admin": 403, author: 403}},
		{"POST", opinion + "/questions/" + uuid.NewString() + "/answer", answer, map[string]int{"": 401, patient: 403, "admin": 403, stranger: 404, author: 404}},
		{"GET", "/api/v1/opinions/awaiting-review", nil, map[string]int{"": 401, patient: 403, other: 403, "admin": 200, author: 200, stranger: 200}},
		{"POST", opinion + "/review", review, map[string]int{"": 401, patient: 403, "admin": 403, author: 403, "pro:" + f.juniorPeer: 404, stranger: 200}},
	}
	for _, r := range routes {
		for token, want := range r.want {
			res := h.do(token, r.method, r.path, r.body)
			if res.status != want {
				t.Errorf("%s %s as %q: %d %s, want %d", r.method, r.path, token, res.status, res.raw, want)
			}
			if want >= 400 && (strings.Contains(string(res.raw), "bypass") || strings.Contains(string(res.raw), "angina")) {
				t.Errorf("%s %s as %q leaks the opinion: %s", r.method, r.path, token, res.raw)
			}
		}
	}
	// Approved by the stranger (an eligible reviewer), the patient reads.
	h.want(h.do(patient, "GET", path, nil), 200, "owner reads the approved opinion")
	h.want(h.do(patient, "GET", opinion+"/report", nil), 200, "owner's report")
	h.want(h.do(other, "GET", opinion+"/report", nil), 404, "another patient's report")

	got := map[string]kitaudit.Entry{}
	for _, e := range h.auditEntries(f.patient) {
		got[e.Action+" "+e.ActorRole+" "+e.Outcome] = e
	}
	for _, key := range []string{
		"opinion.read professional allowed", "opinion.read admin allowed", "opinion.read patient allowed",
		"opinion.read patient denied", "opinion.read professional denied",
		"opinion.report patient allowed", "opinion.report patient denied", "opinion.report professional allowed",
		"opinion.report professional denied", "opinion.report admin allowed",
	} {
		e, ok := got[key]
		if !ok {
			t.Errorf("no audit entry %q", key)
			continue
		}
		if e.ResourceType != "opinion" || e.PatientID != f.patient || e.RequestID == "" || e.ClientAddr != "127.0.0.1" ||
			(e.Outcome == kitaudit.Allowed && e.ResourceID != id) {
			t.Errorf("%s: %+v", key, e)
		}
	}

	// Peers down: 503, not 500.
	h.peers.mu.Lock()
	h.peers.down = true
	h.peers.mu.Unlock()
	res := h.do(patient, "GET", path, nil)
	h.peers.mu.Lock()
	h.peers.down = false
	h.peers.mu.Unlock()
	if res.status != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" {
		t.Errorf("case-management down: %d %s", res.status, res.raw)
	}

	// A read whose audit entry cannot be queued is not served.
	if _, err := h.db.Exec(`ALTER TABLE outbox RENAME TO outbox_gone`); err != nil {
		t.Fatal(err)
	}
	res = h.do(patient, "GET", path, nil)
	if _, err := h.db.Exec(`ALTER TABLE outbox_gone RENAME TO outbox`); err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusServiceUnavailable || strings.Contains(string(res.raw), "bypass") {
		t.Errorf("unaudited read: %d %s, want 503", res.status, res.raw)
	}
}

// auditEntries are the queued audit entries about a patient; none may
// carry health data.
func (h *harness) auditEntries(patientID string) []kitaudit.Entry {
	h.t.Helper()
	var out []kitaudit.Entry
	for _, ev := range testkit.Outbox(h.t, h.db) {
		if ev.Type != kitaudit.Recorded.Type {
			continue
		}
		var e kitaudit.Entry
		env, err := json.Marshal(ev)
		if err != nil || json.Unmarshal(ev.Payload, &e) != nil {
			h.t.Fatalf("audit event %s: %v", env, err)
		}
		if err := contracts.Check(ev); err != nil {
			h.t.Errorf("against its contract: %v", err)
		}
		if strings.Contains(string(env), "bypass") || strings.Contains(string(env), "angina") {
			h.t.Errorf("audit event carries health data: %s", env)
		}
		if e.PatientID == patientID {
			out = append(out, e)
		}
	}
	return out
}

// Every operation declares its policy, and Run stops with its context.
func TestSpecAndRun(t *testing.T) {
	h := newHarness(t, testkit.OpenDB(t, sqldb.SQLite, Name))
	if m := authz.Missing(h.svc.OpenAPI()); len(m) > 0 {
		t.Errorf("operations without a policy: %v", m)
	}
	for name, check := range h.svc.Checks() {
		if err := check(context.Background()); err != nil {
			t.Errorf("check %s: %v", name, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.svc.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}
