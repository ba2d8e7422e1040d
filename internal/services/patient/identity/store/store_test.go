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
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/problem"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/patient/identity/store"
)

func open(t testing.TB, e sqldb.Engine) *store.Store {
	db := testkit.OpenDB(t, e, "patient-identity")
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
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			s := open(t, e)
			p := patient("ada@example.org")
			if err := s.Create(ctx, p, "hash-1", event(t, p.ID)); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Email != p.Email || !got.DateOfBirth.Equal(p.DateOfBirth) || !got.CreatedAt.Equal(p.CreatedAt) ||
				got.PreferredChannel != "EMAIL" || !got.EmailNotifications || got.SMSNotifications {
				t.Fatalf("round trip: got %+v, want %+v", got, p)
			}
			var meta map[string]string
			if err := json.Unmarshal(got.Metadata, &meta); err != nil || meta["source"] != "web" {
				t.Fatalf("metadata %s", got.Metadata)
			}
			if h, err := s.PasswordHash(ctx, p.ID); err != nil || h != "hash-1" {
				t.Fatalf("hash %q %v", h, err)
			}

			dup := patient("ada@example.org")
			if err := s.Create(ctx, dup, "h", event(t, dup.ID)); !errors.Is(err, store.ErrEmailTaken) {
				t.Fatalf("duplicate email: %v", err)
			}
			if _, err := s.Get(ctx, dup.ID); problem.StatusOf(err) != 404 {
				t.Fatalf("half-created patient is visible: %v", err)
			}
			if _, err := s.Get(ctx, uuid.NewString()); problem.StatusOf(err) != 404 {
				t.Fatalf("unknown: %v", err)
			}

			upd, err := s.Update(ctx, p.ID, func(cur store.Patient) (store.Patient, []bus.Event, error) {
				cur.Phone, cur.UpdatedAt = "+4915112345678", cur.UpdatedAt.Add(time.Second)
				return cur, []bus.Event{event(t, p.ID)}, nil
			})
			if err != nil || upd.Phone != "+4915112345678" {
				t.Fatalf("update: %+v %v", upd, err)
			}
			if got, _ := s.Get(ctx, p.ID); got.Phone != "+4915112345678" {
				t.Fatalf("update not stored: %+v", got)
			}
			boom := problem.Invalid("body.phone", "no")
			if _, err := s.Update(ctx, p.ID, func(cur store.Patient) (store.Patient, []bus.Event, error) {
				return cur, nil, boom
			}); !errors.Is(err, boom) {
				t.Fatalf("aborted update: %v", err)
			}
		})
	}
}

// Concurrent updates of one patient serialise: none is lost.
func TestConcurrentUpdates(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			s := open(t, e)
			p := patient("grace@example.org")
			if err := s.Create(ctx, p, "h", event(t, p.ID)); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					_, err := s.Update(ctx, p.ID, func(cur store.Patient) (store.Patient, []bus.Event, error) {
						cur.FirstName += "x"
						return cur, []bus.Event{event(t, p.ID)}, nil
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
		})
	}
}

func BenchmarkRegisterStore(b *testing.B) {
	for _, e := range testkit.Engines(b) {
		b.Run(string(e), func(b *testing.B) {
			ctx := context.Background()
			s := open(b, e)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				p := patient(uuid.NewString() + "@example.org")
				if err := s.Create(ctx, p, "hash", event(b, p.ID)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
		})
	}
}
