package casemanagement

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// A case is its patient's and the admins': others are refused (401
// anonymous, 403 a professional's commands, 404 another patient's or an
// unassigned professional's access, as for a missing case), and every read
// and every refusal of a signed-in caller is in the audit trail.
func testAccess(t *testing.T, h *harness) {
	c := h.newCase()
	id, number := c["id"].(string), c["caseNumber"].(string)
	other := "patient:" + uuid.NewString()
	create := map[string]any{"customerId": h.patient, "specialty": "NEUROLOGY", "title": title, "question": question}
	type req struct {
		method, path string
		body         any
	}
	reqs := []req{
		{"GET", "/api/v1/cases/" + id, nil},
		{"GET", "/api/v1/cases/" + number + "/status", nil},
		{"GET", "/api/v1/cases?customerId=" + h.patient, nil},
		{"POST", "/api/v1/cases", create},
		{"POST", "/api/v1/cases/" + id + "/submit", nil},
		{"POST", "/api/v1/cases/" + id + "/cancel", nil},
	}
	for i, r := range reqs {
		// A professional may read a case assigned to them: any other is
		// missing to them, as to another patient.
		pro := 403
		if i < 2 {
			pro = 404
		}
		for token, want := range map[string]int{"": 401, "pro": pro, other: 404} {
			if res := h.doAs(token, r.method, r.path, r.body); res.status != want || res.body["caseNumber"] != nil {
				t.Errorf("%s %s as %q: %d %v, want %d", r.method, r.path, token, res.status, res.body, want)
			}
		}
	}
	for _, token := range []string{h.token, "admin"} {
		for _, r := range reqs[:4] {
			if res := h.doAs(token, r.method, r.path, r.body); res.status/100 != 2 {
				t.Errorf("%s %s as %q: %d %v", r.method, r.path, token, res.status, res.body)
			}
		}
	}
	if res := h.do("POST", "/api/v1/cases/"+id+"/submit", nil); res.status != 200 {
		t.Errorf("owner's submit: %d %v", res.status, res.body)
	}
	if res := h.doAs("admin", "POST", "/api/v1/cases/"+id+"/cancel", nil); res.status != 200 {
		t.Errorf("admin's cancel: %d %v", res.status, res.body)
	}

	// A patient's list defaults to their own cases; an admin names whose.
	if res := h.do("GET", "/api/v1/cases", nil); res.status != 200 || len(res.body["items"].([]any)) != 3 {
		t.Errorf("own list: %d %v", res.status, res.body)
	}
	if res := h.doAs("admin", "GET", "/api/v1/cases", nil); res.status != 422 || fieldOf(res) != "query.customerId" {
		t.Errorf("admin's list without customer: %d %v", res.status, res.body)
	}

	got := map[string]kitaudit.Entry{}
	for _, e := range h.auditEntries() {
		got[e.Action+" "+e.ActorRole+" "+e.Outcome] = e
	}
	for key, want := range map[string]string{
		"case.read patient allowed":        id,
		"case.read admin allowed":          id,
		"case.read patient denied":         id,
		"case.status.read patient allowed": id,
		"case.status.read patient denied":  id,
		"case.list patient allowed":        "",
		"case.list patient denied":         "",
		"case.create patient denied":       "",
		"case.submit patient denied":       id,
		"case.cancel patient denied":       id,
	} {
		e, ok := got[key]
		if !ok {
			t.Errorf("no audit entry %q", key)
			continue
		}
		purpose := "self-service"
		if e.ActorRole == "admin" {
			purpose = "administration"
		}
		if e.ResourceID != want || e.PatientID != h.patient || e.ResourceType != "case" || e.Purpose != purpose ||
			e.RequestID == "" || e.ClientAddr != "127.0.0.1" || e.UserAgent == "" {
			t.Errorf("%s: %+v", key, e)
		}
	}
	for key := range got {
		if strings.Contains(key, "professional") && !strings.HasPrefix(key, "case.read ") && !strings.HasPrefix(key, "case.status.read ") {
			t.Errorf("a refusal by role was recorded as ownership: %s", key)
		}
	}

	// A read whose audit entry cannot be queued is not served.
	if _, err := h.db.Exec(`ALTER TABLE outbox RENAME TO outbox_gone`); err != nil {
		t.Fatal(err)
	}
	res := h.do("GET", "/api/v1/cases/"+id, nil)
	if _, err := h.db.Exec(`ALTER TABLE outbox_gone RENAME TO outbox`); err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusServiceUnavailable || res.body["title"] != "Service unavailable" || res.body["caseNumber"] != nil {
		t.Errorf("unaudited read: %d %v, want 503", res.status, res.body)
	}
}

// auditEntries are the audit.recorded events in the outbox about the
// harness's patient; none may carry the case's title or question.
func (h *harness) auditEntries() []kitaudit.Entry {
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
		if strings.Contains(string(env), title) || strings.Contains(string(env), question) {
			h.t.Errorf("audit event carries health data: %s", env)
		}
		if e.PatientID == h.patient {
			out = append(out, e)
		}
	}
	return out
}
