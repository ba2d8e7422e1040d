package audit

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	contracts "github.com/secondopinion/platform/api/events"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

var (
	admin    = authn.Principal{Subject: uuid.NewString(), Role: authn.RoleAdmin}
	patientA = authn.Principal{Subject: uuid.NewString(), Role: authn.RolePatient}
	patientB = authn.Principal{Subject: uuid.NewString(), Role: authn.RolePatient}
	pro      = authn.Principal{Subject: uuid.NewString(), Role: authn.RoleProfessional}
	tokens   = testkit.Tokens{"admin": admin, "patient-a": patientA, "patient-b": patientB, "pro": pro,
		"service:patient-identity": {Subject: "patient-identity", Role: authn.RoleService},
		"service:payouts":          {Subject: "payouts", Role: authn.RoleService}}
)

// checked is a bus that holds every event published through it to its
// contract; the test fails on a broken one.
type checked struct {
	bus.Transport
	mu     sync.Mutex
	broken []error
}

func (c *checked) Publish(ctx context.Context, events ...bus.Event) error {
	c.mu.Lock()
	for _, e := range events {
		if err := contracts.Check(e); err != nil {
			c.broken = append(c.broken, err)
		}
	}
	c.mu.Unlock()
	return c.Transport.Publish(ctx, events...)
}

func newService(t *testing.T, db *sqldb.DB, tr bus.Transport) (*Service, http.Handler) {
	t.Helper()
	return newServiceLogging(t, db, tr, slog.New(slog.DiscardHandler))
}

// newServiceLogging is newService logging to log.
func newServiceLogging(t *testing.T, db *sqldb.DB, tr bus.Transport, log *slog.Logger) (*Service, http.Handler) {
	t.Helper()
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	b := &checked{Transport: tr}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, err := range b.broken {
			t.Errorf("published an event its contract does not describe: %v", err)
		}
	})
	s, err := New(Config{}, service.Deps{DB: db, Bus: b, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return s, httpapi.Wrap(s.Handler(), httpapi.Options{Service: Name, Verifier: tokens})
}

// accessEvent is what a service's kitaudit.Record puts on the bus.
func accessEvent(t *testing.T, who authn.Principal, patient string) bus.Event {
	t.Helper()
	e, err := kitaudit.Recorded.New("case-management", uuid.NewString(), kitaudit.Entry{
		Actor: who.Subject, ActorRole: string(who.Role), Action: "case.read", ResourceType: "case",
		ResourceID: uuid.NewString(), PatientID: patient, Purpose: "treatment", ClientAddr: "203.0.113.5",
		UserAgent: "test/1.0", RequestID: "req-1", Outcome: kitaudit.Allowed, At: time.Now().UTC(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func get(t *testing.T, h http.Handler, token, path string, into any) int {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code == http.StatusOK && into != nil {
		if err := json.Unmarshal(w.Body.Bytes(), into); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, w.Body)
		}
	}
	return w.Code
}

type listBody struct {
	Items      []map[string]any `json:"items"`
	NextCursor string           `json:"nextCursor"`
}

func TestAPI(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, h := newService(t, db, inproc.New())
		for _, e := range []bus.Event{
			accessEvent(t, pro, patientA.Subject), accessEvent(t, admin, patientA.Subject),
			accessEvent(t, pro, patientB.Subject),
		} {
			if err := s.Consume(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		change, err := bus.New("case-management", "case.created", uuid.NewString(), map[string]string{"caseId": "x"})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // a redelivery appends nothing
			if err := s.Consume(ctx, change); err != nil {
				t.Fatal(err)
			}
		}

		t.Run("verify", func(t *testing.T) {
			for token, want := range map[string]int{"": 401, "patient-a": 403, "pro": 403, "admin": 200} {
				var body struct {
					OK               bool   `json:"ok"`
					Entries          int    `json:"entries"`
					FirstBrokenEntry *int64 `json:"firstBrokenEntry"`
				}
				if got := get(t, h, token, "/api/v1/audit/verify", &body); got != want {
					t.Errorf("%q: status %d, want %d", token, got, want)
				}
				if want == 200 && (!body.OK || body.Entries != 4 || body.FirstBrokenEntry != nil) {
					t.Errorf("verify body %+v", body)
				}
			}
		})

		t.Run("list", func(t *testing.T) {
			for token, want := range map[string]int{"": 401, "patient-a": 403, "patient-b": 403, "pro": 403} {
				if got := get(t, h, token, "/api/v1/audit", nil); got != want {
					t.Errorf("%q: status %d, want %d", token, got, want)
				}
			}
			var all listBody
			if get(t, h, "admin", "/api/v1/audit", &all) != 200 || len(all.Items) != 4 {
				t.Fatalf("admin list: %+v", all)
			}
			if c := all.Items[0]; c["action"] != "case.created" || c["actor"] != "case-management" ||
				c["actorRole"] != "service" || c["resourceId"] != change.AggregateID || c["sourceEventId"] != change.ID {
				t.Errorf("domain event entry %v", c)
			}
			var a listBody
			get(t, h, "admin", "/api/v1/audit?patientId="+patientA.Subject, &a)
			if len(a.Items) != 2 {
				t.Errorf("patient filter: %d items, want 2", len(a.Items))
			}
			var byPro listBody
			get(t, h, "admin", "/api/v1/audit?actor="+pro.Subject+"&from="+url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339)), &byPro)
			if len(byPro.Items) != 2 {
				t.Errorf("actor and time filter: %d items, want 2", len(byPro.Items))
			}
			seen := map[float64]bool{}
			for path := "/api/v1/audit?limit=3"; ; {
				var p listBody
				if get(t, h, "admin", path, &p) != 200 {
					t.Fatalf("page %s", path)
				}
				for _, it := range p.Items {
					seen[it["seq"].(float64)] = true
				}
				if p.NextCursor == "" {
					break
				}
				path = "/api/v1/audit?limit=3&cursor=" + p.NextCursor
			}
			if len(seen) != 4 {
				t.Errorf("pages held %d distinct entries, want 4", len(seen))
			}
			if got := get(t, h, "admin", "/api/v1/audit?cursor=nonsense", nil); got != 422 {
				t.Errorf("bad cursor: status %d, want 422", got)
			}
		})

		t.Run("access log", func(t *testing.T) {
			path := "/api/v1/patients/" + patientA.Subject + "/access-log"
			// Another patient's log answers as a missing patient (authz).
			for token, want := range map[string]int{"": 401, "patient-b": 404, "pro": 403} {
				if got := get(t, h, token, path, nil); got != want {
					t.Errorf("%q: status %d, want %d", token, got, want)
				}
			}
			for _, token := range []string{"patient-a", "admin"} {
				var b listBody
				if get(t, h, token, path, &b) != 200 || len(b.Items) != 2 {
					t.Fatalf("%s: %+v", token, b)
				}
				it := b.Items[1]
				if it["actor"] != pro.Subject || it["actorRole"] != "professional" || it["action"] != "case.read" ||
					it["purpose"] != "treatment" || it["at"] == nil {
					t.Errorf("%s: item %v", token, it)
				}
				if _, leaked := it["clientAddr"]; leaked {
					t.Errorf("%s: the actor's address is shown to the patient: %v", token, it)
				}
			}
		})

		t.Run("reads of the trail are recorded", func(t *testing.T) {
			// A store of its own: the subtest counts its own reads, then
			// takes the outbox away.
			db := testkit.OpenDB(t, db.Engine, Name)
			s, h := newService(t, db, inproc.New())
			if err := s.Consume(ctx, accessEvent(t, pro, patientA.Subject)); err != nil {
				t.Fatal(err)
			}
			log := "/api/v1/patients/" + patientA.Subject + "/access-log"
			for _, r := range []struct {
				token, path string
				want        int
			}{
				{"admin", "/api/v1/audit", 200}, {"admin", "/api/v1/audit?patientId=" + patientA.Subject, 200},
				{"admin", log, 200}, {"patient-a", log, 200},
				{"pro", "/api/v1/audit", 403}, {"patient-b", log, 404}, {"admin", "/api/v1/audit?cursor=nonsense", 422},
			} {
				if got := get(t, h, r.token, r.path, nil); got != r.want {
					t.Fatalf("%s %s: status %d, want %d", r.token, r.path, got, r.want)
				}
			}
			var n int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE event_type = $1`, kitaudit.Recorded.Type).Scan(&n); err != nil {
				t.Fatal(err)
			}
			// Each of the 4 answered reads queued one entry; refusals none.
			if n != 4 {
				t.Fatalf("%d audit.recorded events in the outbox, want one per read", n)
			}
			if _, err := db.ExecContext(ctx, `DROP TABLE outbox`); err != nil {
				t.Fatal(err)
			}
			if got := get(t, h, "admin", "/api/v1/audit", nil); got != http.StatusServiceUnavailable {
				t.Fatalf("list without a writable outbox: status %d, want 503", got)
			}
		})
	})
}

func TestVerifyEndpointFindsTampering(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s, h := newService(t, db, inproc.New())
		for range 3 {
			if err := s.Consume(ctx, accessEvent(t, pro, patientA.Subject)); err != nil {
				t.Fatal(err)
			}
		}
		disable := []string{`DROP TRIGGER audit_entries_no_update`}
		if db.Engine == sqldb.Postgres {
			disable = []string{`ALTER TABLE audit_entries DISABLE TRIGGER ALL`}
		}
		for _, q := range append(disable, `UPDATE audit_entries SET purpose = 'research' WHERE seq = 2`) {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		var body AuditVerification
		if get(t, h, "admin", "/api/v1/audit/verify", &body) != 200 {
			t.Fatal("verify failed")
		}
		if body.OK || body.FirstBrokenEntry == nil || *body.FirstBrokenEntry != 2 || body.Entries != 3 {
			t.Fatalf("verify after an edit of entry 2: %+v", body)
		}
	})
}
