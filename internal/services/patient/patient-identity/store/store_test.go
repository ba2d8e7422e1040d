package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/patient/patient-identity/store"
)

func migrated(t testing.TB, db *sqldb.DB) *store.Store {
	ctx := context.Background()
	if err := outbox.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	return store.New(db)
}

func patient(email string) store.Patient {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return store.Patient{
		ID: uuid.NewString(), FirstName: "Ada", LastName: "Lovelace", Email: email,
		DateOfBirth: time.Date(1990, 12, 10, 0, 0, 0, 0, time.UTC), PreferredChannel: "EMAIL",
		EmailNotifications: true, Metadata: json.RawMessage(`{"source":"web"}`), CreatedAt: now, UpdatedAt: now,
	}
}

func event(t testing.TB, id string) bus.Event {
	e, err := bus.New("patient-identity", "patient.registered", id, map[string]string{"patientId": id})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestStore(t *testing.T) {
	testkit.ForEachEngine(t, "patient-identity", func(t *testing.T, db *sqldb.DB) {
		s := migrated(t, db)
		t.Run("create and read", func(t *testing.T) { testCreate(t, s) })
		t.Run("email is unique", func(t *testing.T) { testUniqueEmail(t, s, db) })
		t.Run("update", func(t *testing.T) { testUpdate(t, s, db) })
		t.Run("concurrent updates", func(t *testing.T) { testConcurrentUpdates(t, s) })
		t.Run("no passwords", func(t *testing.T) { testNoCredentials(t, db) })
	})
}

// Passwords live in auth only: the migrations drop the credentials table
// the first registrations filled.
func testNoCredentials(t *testing.T, db *sqldb.DB) {
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM credentials`).Scan(&n); err == nil {
		t.Fatalf("the credentials table exists, with %d rows", n)
	}
}

func testCreate(t *testing.T, s *store.Store) {
	ctx := context.Background()
	p := patient("ada@example.org")
	if err := s.Create(ctx, p, event(t, p.ID)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != p.Email || !got.DateOfBirth.Equal(p.DateOfBirth) || !got.CreatedAt.Equal(p.CreatedAt) ||
		got.FirstName != "Ada" || got.MiddleName != "" || got.PreferredChannel != "EMAIL" ||
		!got.EmailNotifications || got.SMSNotifications || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("round trip: got %+v, want %+v", got, p)
	}
	var meta map[string]string
	if err := json.Unmarshal(got.Metadata, &meta); err != nil || meta["source"] != "web" {
		t.Fatalf("metadata %s", got.Metadata)
	}

	bare := patient("bare@example.org")
	bare.Metadata = nil
	if err := s.Create(ctx, bare, event(t, bare.ID)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, bare.ID); err != nil || got.Metadata != nil {
		t.Fatalf("absent metadata: %s %v", got.Metadata, err)
	}
	if _, err := s.Get(ctx, uuid.NewString()); fault.KindOf(err) != fault.KindNotFound {
		t.Fatalf("unknown patient: %v", err)
	}
}

// A duplicate email leaves nothing behind: no patient, no event.
func testUniqueEmail(t *testing.T, s *store.Store, db *sqldb.DB) {
	ctx := context.Background()
	p := patient("grace@example.org")
	if err := s.Create(ctx, p, event(t, p.ID)); err != nil {
		t.Fatal(err)
	}
	before := outboxRows(t, db)
	dup := patient("grace@example.org")
	if err := s.Create(ctx, dup, event(t, dup.ID)); !errors.Is(err, store.ErrEmailTaken) || fault.KindOf(err) != fault.KindConflict {
		t.Fatalf("duplicate email: %v", err)
	}
	if _, err := s.Get(ctx, dup.ID); fault.KindOf(err) != fault.KindNotFound {
		t.Fatalf("half-created patient is visible: %v", err)
	}
	if after := outboxRows(t, db); after != before {
		t.Fatalf("outbox grew from %d to %d on a refused registration", before, after)
	}
}

func testUpdate(t *testing.T, s *store.Store, db *sqldb.DB) {
	ctx := context.Background()
	p := patient("mary@example.org")
	if err := s.Create(ctx, p, event(t, p.ID)); err != nil {
		t.Fatal(err)
	}
	before := outboxRows(t, db)
	later := p.UpdatedAt.Add(time.Second)
	upd, err := s.Update(ctx, p.ID, func(cur store.Patient) (store.Patient, []bus.Event, error) {
		cur.Phone, cur.PreferredChannel, cur.SMSNotifications, cur.Metadata, cur.UpdatedAt = "+4915112345678", "SMS", true, nil, later
		return cur, []bus.Event{event(t, p.ID)}, nil
	})
	if err != nil || upd.Phone != "+4915112345678" {
		t.Fatalf("update: %+v %v", upd, err)
	}
	got, err := s.Get(ctx, p.ID)
	if err != nil || got.Phone != "+4915112345678" || got.PreferredChannel != "SMS" || !got.SMSNotifications ||
		got.Metadata != nil || !got.UpdatedAt.Equal(later) || !got.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("update not stored: %+v %v", got, err)
	}
	if after := outboxRows(t, db); after != before+1 {
		t.Fatalf("outbox: %d rows after the update, want %d", after, before+1)
	}

	boom := fault.Invalid("body.phone", "no")
	if _, err := s.Update(ctx, p.ID, func(cur store.Patient) (store.Patient, []bus.Event, error) {
		cur.Phone = ""
		return cur, nil, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("aborted update: %v", err)
	}
	if got, _ := s.Get(ctx, p.ID); got.Phone != "+4915112345678" {
		t.Fatalf("aborted update was stored: %+v", got)
	}
	if _, err := s.Update(ctx, uuid.NewString(), func(cur store.Patient) (store.Patient, []bus.Event, error) {
		t.Error("change called for an unknown patient")
		return cur, nil, nil
	}); fault.KindOf(err) != fault.KindNotFound {
		t.Fatalf("update of an unknown patient: %v", err)
	}
}

// Concurrent updates of one patient serialise: none is lost.
func testConcurrentUpdates(t *testing.T, s *store.Store) {
	ctx := context.Background()
	p := patient("katherine@example.org")
	if err := s.Create(ctx, p, event(t, p.ID)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, err := s.Update(ctx, p.ID, func(cur store.Patient) (store.Patient, []bus.Event, error) {
				cur.FirstName += "x"
				ev, err := bus.New("patient-identity", "patient.updated", p.ID, map[string]string{"patientId": p.ID})
				return cur, []bus.Event{ev}, err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, _ := s.Get(ctx, p.ID)
	if got.FirstName != "Ada"+"xxxxxxxxxx" {
		t.Fatalf("lost updates: %q", got.FirstName)
	}
}

func outboxRows(t *testing.T, db *sqldb.DB) int {
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func BenchmarkRegisterStore(b *testing.B) {
	for _, e := range testkit.Engines(b) {
		b.Run(string(e), func(b *testing.B) {
			ctx := context.Background()
			s := migrated(b, testkit.OpenDB(b, e, "patient-identity"))
			n := 0
			for b.Loop() {
				p := patient(uuid.NewString() + "@example.org")
				if err := s.Create(ctx, p, event(b, p.ID)); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "inserts/s")
		})
	}
}
