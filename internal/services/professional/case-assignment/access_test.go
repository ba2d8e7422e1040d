package caseassignment

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"

	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
)

// Every route declares its policy; each is walked as anonymous, patient,
// the professional concerned, another professional and an admin. Admin
// reads and actions are audited; professionals' reads of the
// de-identified pool are not.
func TestAccess(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db, Config{})
		if missing := authz.Missing(h.svc.OpenAPI()); len(missing) != 0 {
			t.Errorf("operations without a policy: %v", missing)
		}
		self := h.pro("self", "SENIOR", cardio, en)
		h.pro("other", "SENIOR", cardio, en)
		c1, c2 := h.enter("CARDIOLOGY", "STANDARD", "en"), h.enter("CARDIOLOGY", "STANDARD", "en")

		// Claims are professionals' only.
		for token, want := range map[string]int{"": 401, "patient": 403, "admin": 403} {
			if res := h.do(token, "POST", "/api/v1/assignments/claim/"+c1, nil); res.status != want {
				t.Errorf("claim as %q: %d %v, want %d", token, res.status, res.body, want)
			}
		}
		res := h.do("self", "POST", "/api/v1/assignments/claim/"+c1, nil)
		if res.status != 201 {
			t.Fatalf("claim: %d %v", res.status, res.body)
		}
		mine := res.body["id"].(string)
		res = h.do("self", "POST", "/api/v1/assignments/claim/"+c2, nil)
		if res.status != 201 {
			t.Fatalf("claim: %d %v", res.status, res.body)
		}
		adminReleases := res.body["id"].(string)

		type req struct{ method, path string }
		for _, c := range []struct {
			r    req
			want map[string]int
		}{
			{req{"GET", "/api/v1/assignments/available/" + self}, map[string]int{"": 401, "patient": 403, "other": 404, "self": 200, "admin": 200}},
			{req{"GET", "/api/v1/assignments"}, map[string]int{"": 401, "patient": 403, "other": 200, "self": 200, "admin": 200}},
			{req{"GET", "/api/v1/assignments?professionalId=" + self}, map[string]int{"other": 404, "self": 200, "admin": 200}},
			{req{"POST", "/api/v1/assignments/release/" + mine}, map[string]int{"": 401, "patient": 403, "other": 404}},
		} {
			for token, want := range c.want {
				if res := h.do(token, c.r.method, c.r.path, nil); res.status != want {
					t.Errorf("%s %s as %q: %d %v, want %d", c.r.method, c.r.path, token, res.status, res.body, want)
				}
			}
		}
		// Another professional's list is empty, not theirs.
		if res := h.do("other", "GET", "/api/v1/assignments", nil); len(items(res)) != 0 {
			t.Errorf("other's list shows %v", res.body)
		}
		if res := h.do("admin", "GET", "/api/v1/assignments", nil); len(items(res)) != 2 {
			t.Errorf("admin's list: %v", res.body)
		}
		if res := h.do("self", "POST", "/api/v1/assignments/release/"+mine, nil); res.status != 200 {
			t.Errorf("assignee's release: %d %v", res.status, res.body)
		}
		if res := h.do("admin", "POST", "/api/v1/assignments/release/"+adminReleases, nil); res.status != 200 {
			t.Errorf("admin's release: %d %v", res.status, res.body)
		}

		got := map[string]kitaudit.Entry{}
		for _, e := range auditEntries(t, h) {
			if e.ActorRole != "admin" {
				t.Errorf("non-admin access audited: %+v", e)
			}
			got[e.Action] = e
		}
		for action, id := range map[string]string{
			"assignment.available.read": self,
			"assignment.list":           "",
			"assignment.release":        adminReleases,
		} {
			e, ok := got[action]
			if !ok {
				t.Errorf("no audit entry for the admin's %s", action)
				continue
			}
			if e.ResourceID != id && !(action == "assignment.list" && e.ResourceID == self) || e.Purpose != "administration" ||
				e.Outcome != "allowed" || e.Actor != adminID || e.RequestID == "" {
				t.Errorf("%s: %+v", action, e)
			}
		}

		// An admin's read whose audit entry cannot be queued is not served.
		if _, err := db.Exec(`ALTER TABLE outbox RENAME TO outbox_gone`); err != nil {
			t.Fatal(err)
		}
		res = h.do("admin", "GET", "/api/v1/assignments", nil)
		if _, err := db.Exec(`ALTER TABLE outbox_gone RENAME TO outbox`); err != nil {
			t.Fatal(err)
		}
		if res.status != http.StatusServiceUnavailable || res.body["items"] != nil {
			t.Errorf("unaudited admin read: %d %v, want 503", res.status, res.body)
		}
	})
}

func auditEntries(t *testing.T, h *harness) []kitaudit.Entry {
	t.Helper()
	var out []kitaudit.Entry
	for _, ev := range testkit.Outbox(t, h.db) {
		if ev.Type != kitaudit.Recorded.Type {
			continue
		}
		var e kitaudit.Entry
		if err := json.Unmarshal(ev.Payload, &e); err != nil {
			t.Fatalf("audit event %s: %v", ev.Payload, err)
		}
		out = append(out, e)
	}
	return out
}
