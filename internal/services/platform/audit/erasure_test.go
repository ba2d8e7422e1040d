package audit

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/audit/store"
)

// read is the audit.recorded event of who reading resource, a record of
// patient, from addr.
func read(t *testing.T, who authn.Principal, patient, resource, addr, outcome string) bus.Event {
	t.Helper()
	e, err := kitaudit.Recorded.New("case-management", uuid.NewString(), kitaudit.Entry{
		Actor: who.Subject, ActorRole: string(who.Role), Action: "case.read", ResourceType: "case",
		ResourceID: resource, PatientID: patient, Purpose: "treatment", ClientAddr: addr,
		UserAgent: "agent-of-" + who.Subject, RequestID: uuid.NewString(), Outcome: outcome, At: time.Now().UTC(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// lockedBuffer is a log sink that the service's goroutines may share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestErasure follows patient.erased into the trail: the patient's
// entries stay and verify, naming them by pseudonym only, and so do the
// entries about them that arrive later.
func TestErasure(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		var logs lockedBuffer
		s, h := newServiceLogging(t, db, inproc.New(), slog.New(slog.NewTextHandler(&logs, nil)))
		a := patientA.Subject
		updated, err := events.PatientUpdatedV1.New("patient-identity", a, events.PatientUpdated{PatientID: a,
			ChangedFields: []string{"phone"}, Timestamp: time.Now().UTC()})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range []bus.Event{
			read(t, pro, a, uuid.NewString(), "198.51.100.20", kitaudit.Allowed),
			read(t, patientA, a, uuid.NewString(), "192.0.2.10", kitaudit.Allowed),
			updated,
			read(t, pro, patientB.Subject, uuid.NewString(), "198.51.100.20", kitaudit.Allowed),
		} {
			if err := s.Consume(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		// An Idempotency-Key record of the patient's, which the erasure
		// forgets with the rest.
		now := time.Now().UTC()
		if _, err := db.ExecContext(ctx, `INSERT INTO idempotency_keys
			(key, fingerprint, token, owner, state, held_until, expires_at, status, header, body)
			VALUES ($1, 'f', 't', 'o', 'done', $2, $3, 200, '{}', $4)`,
			"idem:"+Name+":POST:"+a+":"+uuid.NewString(), now, now.Add(time.Hour), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}

		erased, err := events.PatientErasedV1.New("patient-identity", a, events.PatientErased{PatientID: a, Timestamp: now})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // a redelivery does nothing more
			if err := s.Consume(ctx, erased); err != nil {
				t.Fatal(err)
			}
		}
		// An access to the patient's data still on its way.
		if err := s.Consume(ctx, read(t, pro, a, uuid.NewString(), "198.51.100.20", kitaudit.Allowed)); err != nil {
			t.Fatal(err)
		}

		var v AuditVerification
		if get(t, h, "admin", "/api/v1/audit/verify", &v) != 200 || !v.OK || v.Entries != 6 {
			t.Fatalf("verify after the erasure: %+v", v)
		}
		p := store.Pseudonym(a)
		var raw listBody
		if get(t, h, "admin", "/api/v1/audit?patientId="+a, &raw); len(raw.Items) != 0 {
			t.Errorf("the erased patient's id still finds %d entries", len(raw.Items))
		}
		var about listBody
		if get(t, h, "admin", "/api/v1/audit?patientId="+p, &about) != 200 || len(about.Items) != 3 {
			t.Fatalf("by pseudonym: %+v", about)
		}
		masked := func(it map[string]any) []string {
			var out []string
			for _, f := range it["pseudonymised"].([]any) {
				out = append(out, f.(string))
			}
			return out
		}
		for i, want := range [][]string{
			{"resourceId", "patientId"},                                     // the late access
			{"actor", "resourceId", "patientId", "clientAddr", "userAgent"}, // the patient's own read
			{"resourceId", "patientId"},                                     // the professional's read
		} {
			if it := about.Items[i]; !slices.Equal(masked(it), want) || it["patientId"] != p {
				t.Errorf("entry %d: %v, want %v pseudonymised", i, it, want)
			}
		}
		if own := about.Items[1]; own["actor"] != p || own["clientAddr"] == "192.0.2.10" || own["userAgent"] == "agent-of-"+a {
			t.Errorf("the patient's own read still tells who and where from: %v", own)
		}
		if it := about.Items[2]; it["actor"] != pro.Subject || it["clientAddr"] != "198.51.100.20" {
			t.Errorf("the professional's read lost its actor: %v", it)
		}
		// The profile's change and the erasure itself name the patient by
		// pseudonym as their resource.
		var changes listBody
		get(t, h, "admin", "/api/v1/audit?resourceId="+p, &changes)
		if len(changes.Items) != 2 || changes.Items[0]["action"] != "patient.erased" || changes.Items[1]["action"] != "patient.updated" {
			t.Errorf("changes of the erased patient: %+v", changes.Items)
		}

		var left int
		if err := db.QueryRowContext(ctx, `SELECT
			(SELECT count(*) FROM audit_entries WHERE actor = $1 OR resource_id = $1 OR patient_id = $1 OR client_addr = '192.0.2.10')
			+ (SELECT count(*) FROM idempotency_keys WHERE key LIKE $2)`, a, "%"+a+"%").Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("%d rows still name the erased patient", left)
		}
		if strings.Contains(logs.String(), a) {
			t.Errorf("the logs name the erased patient:\n%s", logs.String())
		}
		if !strings.Contains(logs.String(), "erased patient pseudonymised") {
			t.Errorf("the erasure was not logged:\n%s", logs.String())
		}
	})
}

// An erasure of something that is not a patient id is refused, not
// carried out on whatever entries happen to hold it.
func TestErasureOfNoPatient(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		s, _ := newService(t, db, inproc.New())
		for _, id := range []string{"", "case-management"} {
			e, err := bus.New("patient-identity", events.PatientErasedV1.Type, uuid.NewString(), map[string]any{"patientId": id})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.InTx(context.Background(), func(tx *sql.Tx) error {
				return s.onErased(context.Background(), tx, e, events.PatientErased{PatientID: id})
			}); err == nil {
				t.Errorf("erasure of %q carried out", id)
			}
		}
	})
}

// A case erased with its patient: the changes recorded under the case's
// id alone name it by pseudonym, the chain still verifies, and another
// case's entries stay as they were.
func TestCaseErasure(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, h := newService(t, db, inproc.New())
		erasedCase, otherCase := uuid.NewString(), uuid.NewString()
		now := time.Now().UTC()
		var evs []bus.Event
		for _, id := range []string{erasedCase, otherCase} {
			e, err := bus.New("case-management", "case.submitted", id, map[string]any{"caseId": id})
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, e)
		}
		erased, err := events.CaseErasedV1.New("case-management", erasedCase, events.CaseErased{CaseID: erasedCase, Timestamp: now})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range append(evs, erased, erased) {
			if err := s.Consume(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		var v AuditVerification
		if get(t, h, "admin", "/api/v1/audit/verify", &v) != 200 || !v.OK || v.Entries != 3 {
			t.Fatalf("verify after the case's erasure: %+v", v)
		}
		if n := testkit.CountContaining(t, db, "audit_entries", erasedCase); n != 0 {
			t.Errorf("%d entries still name the erased case", n)
		}
		var about listBody
		if get(t, h, "admin", "/api/v1/audit?resourceId="+store.Pseudonym(erasedCase), &about); len(about.Items) != 2 {
			t.Errorf("the erased case's entries by pseudonym: %+v", about.Items)
		}
		if n := testkit.CountContaining(t, db, "audit_entries", otherCase); n != 1 {
			t.Errorf("%d entries name the other case, want 1", n)
		}
	})
}
