package credentialing

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// Who may call what: a professional reaches their own credentials and
// standing (another professional gets the 404 of a missing one), an admin
// reviews and sets levels, a patient nothing, anonymous callers 401.
func testAccess(t *testing.T, h *harness) {
	if missing := authz.Missing(h.svc.OpenAPI()); len(missing) != 0 {
		t.Errorf("operations without a policy: %v", missing)
	}
	creds := "/api/v1/professionals/" + h.pro + "/credentials"
	verify := "/api/v1/credentials/" + h.submit(start.Add(time.Hour)) + "/verify"
	reject := "/api/v1/credentials/" + h.submit(start.Add(time.Hour)) + "/reject"
	level := "/api/v1/professionals/" + h.pro + "/level"
	standing := "/api/v1/professionals/" + h.pro + "/standing"
	for _, r := range []struct {
		method, path string
		body         func() any
		want         map[string]int // by token
	}{
		{"POST", creds, func() any { return h.licence(start.Add(time.Hour)) },
			map[string]int{"": 401, "patient": 403, "admin": 403, "other": 404, "pro": 201}},
		{"GET", creds, nil, map[string]int{"": 401, "patient": 403, "other": 404, "pro": 200, "admin": 200}},
		{"POST", verify, nil, map[string]int{"": 401, "patient": 403, "other": 403, "pro": 403, "admin": 200}},
		{"POST", reject, func() any { return map[string]any{"reason": "expired scan"} },
			map[string]int{"": 401, "patient": 403, "other": 403, "pro": 403, "admin": 200}},
		{"POST", level, func() any { return map[string]any{"level": "EXPERT"} },
			map[string]int{"": 401, "patient": 403, "other": 403, "pro": 403, "admin": 200}},
		{"GET", standing, nil, map[string]int{"": 401, "patient": 403, "other": 404, "pro": 200, "admin": 200}},
	} {
		// Refusals first, so that the allowed call does not change what
		// a refused one would have met.
		for _, token := range []string{"", "patient", "other", "pro", "admin"} {
			want, ok := r.want[token]
			if !ok || want < 400 {
				continue
			}
			var body any
			if r.body != nil {
				body = r.body()
			}
			res := h.do(token, r.method, r.path, body)
			if res.status != want || res.body["licenseNumber"] != nil || res.body["level"] != nil || res.body["items"] != nil {
				t.Errorf("%s %s as %q: %d %v, want %d", r.method, r.path, token, res.status, res.body, want)
			}
		}
		for token, want := range r.want {
			if want >= 400 {
				continue
			}
			var body any
			if r.body != nil {
				body = r.body()
			}
			if res := h.do(token, r.method, r.path, body); res.status != want {
				t.Errorf("%s %s as %q: %d %v, want %d", r.method, r.path, token, res.status, res.body, want)
			}
		}
	}
	spec := h.svc.OpenAPI()
	for path, want := range map[string]string{
		"/api/v1/professionals/{id}/credentials": "authenticated:professional;owner",
		"/api/v1/credentials/{id}/verify":        "authenticated:admin",
		"/api/v1/credentials/{id}/reject":        "authenticated:admin",
		"/api/v1/professionals/{id}/level":       "authenticated:admin",
	} {
		if got := spec.Paths[path].Post.Extensions[authz.Extension]; got != want {
			t.Errorf("POST %s policy %v, want %s", path, got, want)
		}
	}
	for _, path := range []string{"/api/v1/professionals/{id}/credentials", "/api/v1/professionals/{id}/standing"} {
		if got := spec.Paths[path].Get.Extensions[authz.Extension]; got != "authenticated:professional,admin;owner" {
			t.Errorf("GET %s policy %v", path, got)
		}
	}
}

// testAdminAudit: every admin action is in the audit trail — changes
// committed with their entry, reads and refusals before the answer — and
// an admin read whose entry cannot be queued is not served.
func testAdminAudit(t *testing.T, h *harness) {
	verified, rejected := h.submit(start.Add(time.Hour)), h.submit(start.Add(time.Hour))
	h.verify(verified)
	h.do("admin", "POST", "/api/v1/credentials/"+rejected+"/reject", map[string]any{"reason": "wrong country"})
	h.do("admin", "POST", "/api/v1/credentials/"+verified+"/verify", nil) // 409
	h.do("admin", "POST", "/api/v1/professionals/"+h.pro+"/level", map[string]any{"level": "SENIOR"})
	unknown := uuid.NewString()
	h.do("admin", "POST", "/api/v1/professionals/"+unknown+"/level", map[string]any{"level": "SENIOR"}) // 404
	h.do("admin", "GET", "/api/v1/professionals/"+h.pro+"/credentials", nil)
	h.do("admin", "GET", "/api/v1/professionals/"+h.pro+"/standing", nil)
	h.do("pro", "GET", "/api/v1/professionals/"+h.pro+"/standing", nil) // not an admin action

	got := map[string]kitaudit.Entry{}
	for _, e := range h.auditEntries() {
		if e.ActorRole != "admin" || e.Actor != adminID || e.Purpose != "administration" || e.PatientID != "" ||
			e.RequestID == "" || e.ClientAddr != "127.0.0.1" {
			t.Errorf("entry %+v", e)
		}
		got[e.Action+" "+e.ResourceType+" "+e.ResourceID+" "+e.Outcome] = e
	}
	for _, key := range []string{
		"credential.verify credential " + verified + " allowed",
		"credential.reject credential " + rejected + " allowed",
		"credential.verify credential " + verified + " denied",
		"professional.level.set professional " + h.pro + " allowed",
		"professional.level.set professional " + unknown + " denied",
		"credential.list professional " + h.pro + " allowed",
		"professional.standing.read professional " + h.pro + " allowed",
	} {
		if _, ok := got[key]; !ok {
			t.Errorf("no audit entry %q", key)
		}
	}
	if len(got) != 7 {
		t.Errorf("%d distinct entries, want 7: %v", len(got), got)
	}

	if _, err := h.db.Exec(`ALTER TABLE outbox RENAME TO outbox_gone`); err != nil {
		t.Fatal(err)
	}
	res := h.do("admin", "GET", "/api/v1/professionals/"+h.pro+"/standing", nil)
	if _, err := h.db.Exec(`ALTER TABLE outbox_gone RENAME TO outbox`); err != nil {
		t.Fatal(err)
	}
	if res.status != http.StatusServiceUnavailable || res.body["level"] != nil {
		t.Errorf("unaudited read: %d %v, want 503", res.status, res.body)
	}
}

// auditEntries are the audit.recorded events in the outbox.
func (h *harness) auditEntries() []kitaudit.Entry {
	h.t.Helper()
	var out []kitaudit.Entry
	for _, ev := range testkit.Outbox(h.t, h.db) {
		if ev.Type != kitaudit.Recorded.Type {
			continue
		}
		var e kitaudit.Entry
		if err := json.Unmarshal(ev.Payload, &e); err != nil {
			h.t.Fatalf("audit event %s: %v", ev.Payload, err)
		}
		out = append(out, e)
	}
	return out
}
