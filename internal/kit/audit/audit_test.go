package audit_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

func TestRecordQueuesEvent(t *testing.T) {
	testkit.ForEachEngine(t, "case-management", func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := outbox.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		in := audit.Entry{
			Actor: uuid.NewString(), ActorRole: "patient", Action: "case.read", ResourceType: "case",
			ResourceID: uuid.NewString(), PatientID: uuid.NewString(), Purpose: "patient-self-access",
			ClientAddr: "203.0.113.9", UserAgent: "test/1.0", RequestID: "req-1", Outcome: audit.Allowed,
			At: time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600)),
		}
		if err := audit.Record(ctx, db, in); err != nil {
			t.Fatal(err)
		}
		var typ, agg, env string
		if err := db.QueryRowContext(ctx, `SELECT event_type, aggregate_id, envelope FROM outbox`).Scan(&typ, &agg, &env); err != nil {
			t.Fatal(err)
		}
		var e bus.Event
		if err := json.Unmarshal([]byte(env), &e); err != nil {
			t.Fatal(err)
		}
		if typ != audit.Recorded.Type || e.Type != audit.Recorded.Type || agg != in.ResourceID || e.AggregateID != in.ResourceID ||
			e.ServiceID != "case-management" || e.Version != 1 {
			t.Fatalf("outbox row %s %s, envelope %+v", typ, agg, e)
		}
		if _, err := uuid.Parse(e.ID); err != nil {
			t.Fatalf("event id %q: %v", e.ID, err)
		}
		var got audit.Entry
		if err := json.Unmarshal(e.Payload, &got); err != nil {
			t.Fatal(err)
		}
		want := in
		want.At = in.At.UTC()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("payload %+v, want %+v", got, want)
		}
		// The payload is the entry's fields and nothing else.
		var fields map[string]any
		if err := json.Unmarshal(e.Payload, &fields); err != nil {
			t.Fatal(err)
		}
		if len(fields) != reflect.TypeFor[audit.Entry]().NumField() {
			t.Fatalf("payload fields %v", fields)
		}
	})
}

func TestRecordRefusesBadEntries(t *testing.T) {
	db := testkit.OpenDB(t, sqldb.SQLite, "case-management")
	ctx := context.Background()
	if err := outbox.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	for _, e := range []audit.Entry{{Outcome: audit.Allowed}, {Action: "case.read", Outcome: "maybe"}} {
		if err := audit.Record(ctx, db, e); err == nil {
			t.Errorf("entry %+v was recorded", e)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("outbox rows %d (%v), want 0", n, err)
	}
}

func TestRecordFailureIsUnavailable(t *testing.T) {
	// A store without an outbox table stands for one that cannot write.
	db := testkit.OpenDB(t, sqldb.SQLite, "case-management")
	err := audit.Record(context.Background(), db, audit.Entry{Action: "case.read", Outcome: audit.Allowed})
	if err == nil || fault.KindOf(err) != fault.KindUnavailable {
		t.Fatalf("err %v (status %d), want 503", err, httpapi.StatusOf(err))
	}
}

func TestFromContext(t *testing.T) {
	patient := authn.Principal{Subject: uuid.NewString(), Role: authn.RolePatient}
	var fromCtx audit.Entry
	h := httpapi.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fromCtx = audit.FromContext(r.Context())
	}), httpapi.Options{Service: "test", Verifier: testkit.Tokens{"pat": patient},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})

	for _, tc := range []struct {
		name, xff, remote, want string
	}{
		{"forwarded", "198.51.100.4, 10.0.0.1", "10.0.0.2:5555", "198.51.100.4"},
		{"direct", "", "192.0.2.8:41000", "192.0.2.8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			r.Header.Set("Authorization", "Bearer pat")
			r.Header.Set("User-Agent", "browser/2")
			r.Header.Set(httpapi.RequestIDHeader, "req-42")
			h.ServeHTTP(httptest.NewRecorder(), r)
			if e := fromCtx; e.Actor != patient.Subject || e.ActorRole != "patient" || e.ClientAddr != tc.want ||
				e.UserAgent != "browser/2" || e.RequestID != "req-42" || e.At.IsZero() {
				t.Errorf("%+v", e)
			}
		})
	}
}
