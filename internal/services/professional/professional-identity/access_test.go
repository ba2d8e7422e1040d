package professionalidentity_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/secondopinion/platform/api/events"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	identity "github.com/secondopinion/platform/internal/services/professional/professional-identity"
)

// A profile is its professional's and the admins': anonymous callers get
// 401, services 403, other professionals and patients the 404 of a
// missing profile; the admin's reads and changes are in the audit trail.
func testAccess(t *testing.T, f fixture, id string) {
	const otherPro = "pro:0190a0a0-0000-7000-8000-00000000000b"
	const patient = "patient:" + "0190a0a0-0000-7000-8000-00000000000c"
	url := f.url + "/api/v1/professionals/" + id
	before := len(auditEntries(t, f.db, id))
	for _, method := range []string{http.MethodGet, http.MethodPatch} {
		for token, want := range map[string]int{
			"": 401, "service:case-assignment": 403, otherPro: 404, patient: 404,
			"patient:" + id: 404, "admin": 200, "pro:" + id: 200,
		} {
			r := callAs(t, token, method, url, `{"bio":"Diagnostician."}`)
			if r.status != want {
				t.Errorf("%s as %q: %d, want %d: %s", method, token, r.status, want, r.raw)
			}
			if want != 200 && strings.Contains(r.raw, "House") {
				t.Errorf("%s as %q: refusal shows the profile", method, token)
			}
		}
	}

	entries := auditEntries(t, f.db, id)[before:]
	var got []string
	for _, e := range entries {
		for _, secret := range houseSecrets {
			if strings.Contains(e.raw, secret) {
				t.Errorf("audit entry carries %q", secret)
			}
		}
		if e.Actor != adminID || e.ResourceType != "professional" || e.ResourceID != id || e.Purpose != "administration" ||
			e.RequestID == "" || e.ClientAddr != "127.0.0.1" || e.PatientID != "" {
			t.Errorf("audit entry %+v", e.Entry)
		}
		got = append(got, e.Action+" "+e.Outcome)
	}
	if strings.Join(got, ",") != "professional.read allowed,professional.update allowed" {
		t.Errorf("audit entries %v: want the admin's read and update only", got)
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
		if err := events.Check(ev); err != nil {
			t.Errorf("queued an audit entry its contract does not describe: %v", err)
		}
		out = append(out, auditEntry{e, string(env)})
	}
	return out
}

// An admin's read whose audit entry cannot be queued is not served; nor
// is an admin's change applied without its entry.
func TestAdminAccessNotServedUnaudited(t *testing.T) {
	f := start(t, testkit.OpenDB(t, sqldb.SQLite, identity.Name))
	id := register(t, f, house)
	if _, err := f.db.Exec(`ALTER TABLE outbox RENAME TO outbox_gone`); err != nil {
		t.Fatal(err)
	}
	r := callAs(t, "admin", http.MethodGet, f.url+"/api/v1/professionals/"+id, "")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || strings.Contains(r.raw, "House") {
		t.Fatalf("unaudited read: %d %s, want 503 with Retry-After and no profile", r.status, r.raw)
	}
	if r := callAs(t, "admin", http.MethodPatch, f.url+"/api/v1/professionals/"+id, `{"country":"GB"}`); r.status < 500 {
		t.Fatalf("unaudited change: %d %s", r.status, r.raw)
	}
	var country string
	if err := f.db.QueryRow(`SELECT country FROM professionals WHERE id = $1`, id).Scan(&country); err != nil || country != "US" {
		t.Fatalf("the unaudited change was applied: %q %v", country, err)
	}
}
