package store_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/professional/professional-identity/store"
)

const service = "professional-identity"

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

func professional(email string) store.Professional {
	now := time.Now().UTC()
	return store.Professional{
		ID: uuid.NewString(), FirstName: "Gregory", LastName: "House", Email: email,
		Specialties: []vocab.Specialty{"NEPHROLOGY", "GENERAL_MEDICINE"}, Languages: []vocab.Language{"en"}, Country: "US",
		Bio: "Diagnostician.", Level: "JUNIOR", Status: "PENDING", CreatedAt: now, UpdatedAt: now,
	}
}

// numbers hands out the given pro numbers in turn.
func numbers(ns ...string) func() (string, error) {
	var mu sync.Mutex
	return func() (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if len(ns) == 0 {
			return "", errors.New("out of numbers")
		}
		n := ns[0]
		ns = ns[1:]
		return n, nil
	}
}

func registered(p store.Professional) ([]bus.Event, error) {
	e, err := bus.New(service, "professional.registered", p.ID, map[string]string{"professionalId": p.ID, "proNumber": p.ProNumber})
	return []bus.Event{e}, err
}

func outboxCount(t *testing.T, db *sqldb.DB, id string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM outbox WHERE aggregate_id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStore(t *testing.T) {
	testkit.ForEachEngine(t, service, func(t *testing.T, db *sqldb.DB) {
		s := migrated(t, db)
		t.Run("create and read", func(t *testing.T) { testCreate(t, s, db) })
		t.Run("number clash", func(t *testing.T) { testNumberClash(t, s, db) })
		t.Run("email is unique", func(t *testing.T) { testEmailTaken(t, s, db) })
		t.Run("update", func(t *testing.T) { testUpdate(t, s, db) })
		t.Run("standing", func(t *testing.T) { testStanding(t, s, db) })
	})
}

func testCreate(t *testing.T, s *store.Store, db *sqldb.DB) {
	ctx := context.Background()
	p := professional("house@example.org")
	created, err := s.Create(ctx, p, numbers("PRO-EU-222222"), registered)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ProNumber != "PRO-EU-222222" || created.ProNumber != got.ProNumber || got.Email != p.Email ||
		!slices.Equal(got.Specialties, p.Specialties) || !slices.Equal(got.Languages, p.Languages) ||
		got.Country != "US" || got.Bio != p.Bio || got.Level != "JUNIOR" || got.Status != "PENDING" ||
		!got.CreatedAt.Equal(p.CreatedAt.Truncate(time.Microsecond)) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("read back %+v", got)
	}
	if n := outboxCount(t, db, p.ID); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
	for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
		if _, err := s.Get(ctx, id); fault.KindOf(err) != fault.KindNotFound {
			t.Errorf("get %s: %v", id, err)
		}
	}
	// A failing event builder stores nothing.
	q := professional("wilson@example.org")
	if _, err := s.Create(ctx, q, numbers("PRO-EU-333333"), func(store.Professional) ([]bus.Event, error) {
		return nil, errors.New("boom")
	}); err == nil {
		t.Fatal("created despite the event failing")
	}
	if _, err := s.Get(ctx, q.ID); fault.KindOf(err) != fault.KindNotFound {
		t.Fatalf("half-created: %v", err)
	}
}

// A pro number that clashes is drawn again; the clash leaves nothing.
func testNumberClash(t *testing.T, s *store.Store, db *sqldb.DB) {
	ctx := context.Background()
	first := professional("cuddy@example.org")
	if _, err := s.Create(ctx, first, numbers("PRO-EU-444444"), registered); err != nil {
		t.Fatal(err)
	}
	second := professional("chase@example.org")
	got, err := s.Create(ctx, second, numbers("PRO-EU-444444", "PRO-EU-444444", "PRO-EU-555555"), registered)
	if err != nil || got.ProNumber != "PRO-EU-555555" {
		t.Fatalf("create after clashes: %+v %v", got, err)
	}
	if n := outboxCount(t, db, second.ID); n != 1 {
		t.Fatalf("%d events after two clashes, want 1", n)
	}
	third := professional("foreman@example.org")
	if _, err := s.Create(ctx, third, numbers("PRO-EU-444444", "PRO-EU-444444", "PRO-EU-444444", "PRO-EU-444444", "PRO-EU-444444", "PRO-EU-666666"), registered); err == nil {
		t.Fatal("five clashes in a row were not a fault")
	}
}

func testEmailTaken(t *testing.T, s *store.Store, db *sqldb.DB) {
	ctx := context.Background()
	p := professional("cameron@example.org")
	if _, err := s.Create(ctx, p, numbers("PRO-EU-777777"), registered); err != nil {
		t.Fatal(err)
	}
	dup := professional("cameron@example.org")
	if _, err := s.Create(ctx, dup, numbers("PRO-EU-888888", "PRO-EU-999999"), registered); !errors.Is(err, store.ErrEmailTaken) {
		t.Fatalf("duplicate email: %v", err)
	}
	if n := outboxCount(t, db, dup.ID); n != 0 {
		t.Fatalf("the refused duplicate left %d events", n)
	}
}

func testUpdate(t *testing.T, s *store.Store, db *sqldb.DB) {
	ctx := context.Background()
	p := professional("taub@example.org")
	if _, err := s.Create(ctx, p, numbers("PRO-EU-AAAAAA"), registered); err != nil {
		t.Fatal(err)
	}
	later := p.CreatedAt.Add(time.Hour)
	ev := func(typ string) []bus.Event {
		e, err := bus.New(service, typ, p.ID, map[string]string{"professionalId": p.ID})
		if err != nil {
			t.Fatal(err)
		}
		return []bus.Event{e}
	}
	got, err := s.Update(ctx, p.ID, func(cur store.Professional) (store.Professional, bool, []bus.Event, error) {
		cur.FirstName, cur.Languages, cur.Specialties, cur.Country, cur.Bio = "Chris", []vocab.Language{"en", "de"}, []vocab.Specialty{"CARDIOLOGY"}, "DE", ""
		cur.UpdatedAt = later
		return cur, true, ev("professional.updated"), nil
	})
	if err != nil || got.FirstName != "Chris" {
		t.Fatalf("update: %+v %v", got, err)
	}
	read, err := s.Get(ctx, p.ID)
	if err != nil || read.FirstName != "Chris" || !slices.Equal(read.Languages, []vocab.Language{"en", "de"}) || read.Country != "DE" ||
		read.Bio != "" || !read.UpdatedAt.Equal(later.Truncate(time.Microsecond)) || read.Email != p.Email || read.ProNumber != "PRO-EU-AAAAAA" {
		t.Fatalf("read back %+v %v", read, err)
	}
	// Unchanged: the row stays, the events are still written.
	if _, err := s.Update(ctx, p.ID, func(cur store.Professional) (store.Professional, bool, []bus.Event, error) {
		return cur, false, ev("audit.recorded"), nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := outboxCount(t, db, p.ID); n != 3 {
		t.Fatalf("%d events, want 3", n)
	}
	// An error aborts everything.
	if _, err := s.Update(ctx, p.ID, func(cur store.Professional) (store.Professional, bool, []bus.Event, error) {
		cur.FirstName = "Nope"
		return cur, true, ev("professional.updated"), fault.Invalid("firstName", "no")
	}); fault.KindOf(err) != fault.KindInvalid {
		t.Fatalf("aborted update: %v", err)
	}
	if read, _ := s.Get(ctx, p.ID); read.FirstName != "Chris" || outboxCount(t, db, p.ID) != 3 {
		t.Fatalf("the aborted update left %+v", read)
	}
	if _, err := s.Update(ctx, uuid.NewString(), func(cur store.Professional) (store.Professional, bool, []bus.Event, error) {
		return cur, true, nil, nil
	}); fault.KindOf(err) != fault.KindNotFound {
		t.Fatalf("update of an unknown professional: %v", err)
	}
}

// Standing changes apply in event-time order: an older event handled late
// does not undo a newer one.
func testStanding(t *testing.T, s *store.Store, db *sqldb.DB) {
	ctx := context.Background()
	p := professional("thirteen@example.org")
	if _, err := s.Create(ctx, p, numbers("PRO-EU-BBBBBB"), registered); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2031, 1, 1, 10, 0, 0, 500000000, time.UTC)
	set := func(fn func(tx *sql.Tx) (bool, error)) bool {
		t.Helper()
		var applied bool
		if err := db.InTx(ctx, func(tx *sql.Tx) (err error) {
			applied, err = fn(tx)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return applied
	}
	steps := []struct {
		column, value string
		at            time.Time
		applied       bool
	}{
		{"status", "VERIFIED", t0, true},
		{"status", "SUSPENDED", t0.Add(time.Hour), true},
		{"status", "VERIFIED", t0.Add(time.Minute), false}, // older, late
		{"status", "SUSPENDED", t0.Add(time.Hour), true},   // the same again: harmless
		{"level", "EXPERT", t0.Add(2 * time.Second), true},
		{"level", "SENIOR", t0.Add(time.Second), false},
	}
	for _, st := range steps {
		applied := set(func(tx *sql.Tx) (bool, error) {
			if st.column == "status" {
				return s.SetStatus(ctx, tx, p.ID, st.value, st.at)
			}
			return s.SetLevel(ctx, tx, p.ID, vocab.Level(st.value), st.at)
		})
		if applied != st.applied {
			t.Errorf("%s %s at %s: applied %v", st.column, st.value, st.at, applied)
		}
	}
	got, err := s.Get(ctx, p.ID)
	if err != nil || got.Status != "SUSPENDED" || got.Level != "EXPERT" {
		t.Fatalf("standing %s/%s, %v", got.Status, got.Level, err)
	}
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := s.SetStatus(ctx, tx, uuid.NewString(), "VERIFIED", t0)
		return err
	})
	if fault.KindOf(err) != fault.KindNotFound {
		t.Fatalf("standing of an unknown professional: %v", err)
	}
}
