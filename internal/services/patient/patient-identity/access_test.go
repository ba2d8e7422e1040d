package patientidentity_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	identity "github.com/secondopinion/platform/internal/services/patient/patient-identity"
)

// A profile is its patient's and the admins': others are refused before
// the store is read (401 anonymous, 403 wrong role, 404 another patient),
// and every read and every refusal of a signed-in caller is in the trail.
func testAccess(t *testing.T, f fixture, id string) {
	const other = "patient:0190a0a0-0000-7000-8000-00000000000b"
	url := f.url + "/api/v1/patients/" + id
	for _, method := range []string{http.MethodGet, http.MethodPatch} {
		for token, want := range map[string]int{"": 401, "pro": 403, other: 404, "admin": 200, "patient:" + id: 200} {
			r := callAs(t, token, method, url, `{"smsNotifications":false}`)
			if r.status != want {
				t.Errorf("%s as %q: %d, want %d: %s", method, token, r.status, want, r.raw)
			}
			if want != 200 && strings.Contains(r.raw, "Ada") {
				t.Errorf("%s as %q: refusal shows the profile", method, token)
			}
		}
	}

	got := map[string]kitaudit.Entry{}
	for _, e := range auditEntries(t, f.db, id) {
		for _, secret := range adaSecrets {
			if strings.Contains(e.raw, secret) {
				t.Errorf("audit entry carries %q", secret)
			}
		}
		got[e.Action+" "+e.ActorRole+" "+e.Outcome] = e.Entry
	}
	for key, purpose := range map[string]string{
		"patient.read patient allowed":     "self-service",
		"patient.read admin allowed":       "administration",
		"patient.read patient denied":      "self-service",
		"patient.update patient denied":    "self-service",
		"patient.read professional denied": "",
	} {
		e, ok := got[key]
		switch {
		case purpose == "" && ok:
			t.Errorf("a refusal by role was recorded as ownership: %+v", e)
		case purpose == "":
		case !ok:
			t.Errorf("no audit entry %q in %v", key, got)
		case e.Purpose != purpose || e.PatientID != id || e.ResourceType != "patient" || e.RequestID == "" ||
			e.ClientAddr != "127.0.0.1" || !strings.HasPrefix(e.UserAgent, "Go-http-client"):
			t.Errorf("%s: %+v", key, e)
		}
	}
	if e := got["patient.read patient denied"]; e.Actor == id {
		t.Errorf("the denied read names the owner as actor: %+v", e)
	}
}

type auditEntry struct {
	kitaudit.Entry
	raw string
}

// auditEntries are the audit.recorded events queued about a resource.
func auditEntries(t *testing.T, db *sqldb.DB, resource string) []auditEntry {
	t.Helper()
	var out []auditEntry
	for _, ev := range testkit.Outbox(t, db) {
		if ev.AggregateID != resource || ev.Type != kitaudit.Recorded.Type {
			continue
		}
		var e kitaudit.Entry
		env, err := json.Marshal(ev)
		if err != nil || json.Unmarshal(ev.Payload, &e) != nil {
			t.Fatalf("audit event %s: %v", env, err)
		}
		out = append(out, auditEntry{e, string(env)})
	}
	return out
}

// A read whose audit entry cannot be queued is not served.
func TestReadNotServedUnaudited(t *testing.T) {
	f := start(t, testkit.OpenDB(t, sqldb.SQLite, identity.Name))
	id := register(t, f)
	if _, err := f.db.Exec(`ALTER TABLE outbox RENAME TO outbox_gone`); err != nil {
		t.Fatal(err)
	}
	r := callAs(t, "patient:"+id, http.MethodGet, f.url+"/api/v1/patients/"+id, "")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || strings.Contains(r.raw, "Ada") {
		t.Fatalf("unaudited read: %d %s, want 503 with Retry-After and no profile", r.status, r.raw)
	}
}

// A patient reads their own profile without knowing its id; nobody else
// has a "me" here.
func TestOwnProfile(t *testing.T) {
	f := start(t, testkit.OpenDB(t, sqldb.SQLite, identity.Name))
	id := register(t, f)
	r := callAs(t, "patient:"+id, http.MethodGet, f.url+"/api/v1/patients/me", "")
	if r.status != http.StatusOK || r.doc["id"] != id || r.doc["email"] != "ada.lovelace@example.org" {
		t.Fatalf("own profile: %d %s", r.status, r.raw)
	}
	if n := len(auditEntries(t, f.db, id)); n == 0 {
		t.Error("reading one's own profile left no audit entry")
	}
	for token, want := range map[string]int{"": 401, "admin": 403, "pro": 403} {
		if r := callAs(t, token, http.MethodGet, f.url+"/api/v1/patients/me", ""); r.status != want {
			t.Errorf("as %q: %d, want %d", token, r.status, want)
		}
	}
}
