package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/patient/case-management/domain"
)

func TestStore(t *testing.T) {
	testkit.ForEachEngine(t, "case-management", func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := outbox.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		s := New(db)
		t.Run("create and read", func(t *testing.T) { testCreate(t, s) })
		t.Run("number clash", func(t *testing.T) { testClash(t, s) })
		t.Run("move", func(t *testing.T) { testMove(t, s) })
		t.Run("concurrent moves", func(t *testing.T) { testConcurrentMoves(t, s) })
		t.Run("list", func(t *testing.T) { testList(t, s) })
	})
}

var now = time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)

func newCase(customer string, at time.Time) Case {
	return Case{ID: uuid.NewString(), CustomerID: customer, Specialty: "ONCOLOGY", Urgency: "URGENT",
		Title: "Biopsy result", Question: "Is surgery the right next step?", CreatedAt: at}
}

func fixed(n string) func() (string, error) { return func() (string, error) { return n, nil } }

func counter() func() (string, error) {
	var mu sync.Mutex
	i := 0
	return func() (string, error) {
		mu.Lock()
		defer mu.Unlock()
		i++
		return fmt.Sprintf("EU-2026-%06d", i), nil
	}
}

func created(c Case) ([]bus.Event, error) {
	e, err := bus.New("case-management", "case.created", c.ID, map[string]string{"caseId": c.ID})
	return []bus.Event{e}, err
}

func outboxCount(t *testing.T, s *Store, caseID string) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(context.Background(), `SELECT count(*) FROM outbox WHERE aggregate_id = $1`, caseID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func testCreate(t *testing.T, s *Store) {
	ctx := context.Background()
	in := newCase(uuid.NewString(), now)
	c, err := s.Create(ctx, in, fixed("EU-2026-CREATE"), created)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.CaseNumber, want.Status = "EU-2026-CREATE", domain.Draft
	want.CreatedAt = now.Truncate(time.Microsecond)
	want.UpdatedAt = want.CreatedAt
	if c != want {
		t.Errorf("created %+v, want %+v", c, want)
	}
	for _, get := range []func() (Case, error){
		func() (Case, error) { return s.Get(ctx, c.ID) },
		func() (Case, error) { return s.ByNumber(ctx, c.CaseNumber) },
	} {
		got, err := get()
		if err != nil || got != want {
			t.Errorf("read %+v, %v; want %+v", got, err, want)
		}
	}
	tl, err := s.Timeline(ctx, c.ID)
	if err != nil || len(tl) != 1 || tl[0] != (Entry{To: domain.Draft, Reason: "create", At: want.CreatedAt}) {
		t.Errorf("timeline %+v, %v", tl, err)
	}
	if n := outboxCount(t, s, c.ID); n != 1 {
		t.Errorf("%d outbox events, want 1", n)
	}
	for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
		if _, err := s.Get(ctx, id); fault.KindOf(err) != fault.KindNotFound {
			t.Errorf("get %s: %v, want 404", id, err)
		}
	}
	if _, err := s.ByNumber(ctx, "EU-2026-NOPE99"); fault.KindOf(err) != fault.KindNotFound {
		t.Errorf("by unknown number: %v, want 404", err)
	}
}

func testClash(t *testing.T, s *Store) {
	ctx := context.Background()
	if _, err := s.Create(ctx, newCase(uuid.NewString(), now), fixed("EU-2026-TAKEN1"), created); err != nil {
		t.Fatal(err)
	}
	numbers := []string{"EU-2026-TAKEN1", "EU-2026-TAKEN1", "EU-2026-FRESH1"}
	next := func() (string, error) { n := numbers[0]; numbers = numbers[1:]; return n, nil }
	in := newCase(uuid.NewString(), now)
	c, err := s.Create(ctx, in, next, created)
	if err != nil || c.CaseNumber != "EU-2026-FRESH1" {
		t.Fatalf("created %q, %v; want the fresh number", c.CaseNumber, err)
	}
	if n := outboxCount(t, s, c.ID); n != 1 {
		t.Errorf("%d outbox events after retries, want 1", n)
	}
	stuck := newCase(uuid.NewString(), now)
	if _, err := s.Create(ctx, stuck, fixed("EU-2026-TAKEN1"), created); err == nil {
		t.Error("endless clash accepted")
	}
	if _, err := s.Get(ctx, stuck.ID); fault.KindOf(err) != fault.KindNotFound {
		t.Errorf("failed create left a case: %v", err)
	}
}

func move(s *Store, c Case, ch Change) (Case, error) {
	var out Case
	err := s.db.InTx(context.Background(), func(tx *sql.Tx) error {
		var err error
		out, err = s.Move(context.Background(), tx, c, ch)
		return err
	})
	return out, err
}

func testMove(t *testing.T, s *Store) {
	ctx := context.Background()
	c, err := s.Create(ctx, newCase(uuid.NewString(), now), counter(), created)
	if err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Minute).Truncate(time.Microsecond)
	steps := []domain.Step{{From: domain.Draft, To: domain.Submitted}, {From: domain.Submitted, To: domain.AwaitingAssignment}}
	moved, err := move(s, c, Change{Steps: steps, Reason: "submit", At: later})
	if err != nil {
		t.Fatal(err)
	}
	if moved.Status != domain.AwaitingAssignment || !moved.UpdatedAt.Equal(later) {
		t.Errorf("moved to %s at %v", moved.Status, moved.UpdatedAt)
	}
	got, _ := s.Get(ctx, c.ID)
	if got != moved {
		t.Errorf("stored %+v, want %+v", got, moved)
	}
	eventID := uuid.NewString()
	if _, err := move(s, moved, Change{Steps: []domain.Step{{From: domain.AwaitingAssignment, To: domain.Cancelled}},
		Reason: "payment.refunded", EventID: eventID, Note: "changed my mind", At: later}); err != nil {
		t.Fatal(err)
	}
	tl, err := s.Timeline(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{To: domain.Draft, Reason: "create", At: now.Truncate(time.Microsecond)},
		{From: domain.Draft, To: domain.Submitted, Reason: "submit", At: later},
		{From: domain.Submitted, To: domain.AwaitingAssignment, Reason: "submit", At: later},
		{From: domain.AwaitingAssignment, To: domain.Cancelled, Reason: "payment.refunded", EventID: eventID, Note: "changed my mind", At: later},
	}
	if fmt.Sprint(tl) != fmt.Sprint(want) {
		t.Errorf("timeline\n%v\nwant\n%v", tl, want)
	}
	if _, err := move(s, moved, Change{Steps: []domain.Step{{From: domain.AwaitingAssignment, To: domain.Assigned}}, Reason: "case.assigned", At: later}); !errors.Is(err, ErrStale) {
		t.Errorf("move from an old status: %v, want ErrStale", err)
	}
}

func testConcurrentMoves(t *testing.T, s *Store) {
	ctx := context.Background()
	for range 5 {
		c, err := s.Create(ctx, newCase(uuid.NewString(), now), func() (string, error) { return "EU-2026-" + uuid.NewString()[:6], nil }, created)
		if err != nil {
			t.Fatal(err)
		}
		targets := []domain.Status{domain.Cancelled, domain.AwaitingPayment}
		errs := make([]error, len(targets))
		var wg sync.WaitGroup
		for i, to := range targets {
			wg.Go(func() {
				_, errs[i] = move(s, c, Change{Steps: []domain.Step{{From: domain.Draft, To: to}}, Reason: "race", At: now})
			})
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, ErrStale):
				t.Fatalf("loser failed with %v, want ErrStale", err)
			}
		}
		tl, err := s.Timeline(ctx, c.ID)
		if wins != 1 || err != nil || len(tl) != 2 {
			t.Fatalf("%d winners, %d timeline entries (%v), want exactly one change", wins, len(tl), err)
		}
	}
}

func testList(t *testing.T, s *Store) {
	ctx := context.Background()
	customer := uuid.NewString()
	seen := map[string]bool{}
	// Three share a creation time, so the id alone orders them.
	for i, at := range []time.Time{now, now, now, now.Add(time.Second), now.Add(2 * time.Second)} {
		c, err := s.Create(ctx, newCase(customer, at), fixed(fmt.Sprintf("EU-2026-LIST%02d", i)), created)
		if err != nil {
			t.Fatal(err)
		}
		seen[c.ID] = false
	}
	if _, err := s.Create(ctx, newCase(uuid.NewString(), now), fixed("EU-2026-OTHER1"), created); err != nil {
		t.Fatal(err)
	}
	var all []Case
	var cursor page.Cursor
	for n := 1; ; n++ {
		items, next, err := s.List(ctx, customer, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, items...)
		if next == "" {
			if n != 3 {
				t.Errorf("%d pages, want 3", n)
			}
			break
		}
		if cursor, err = page.Decode(next); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range all {
		if done, ok := seen[c.ID]; !ok || done {
			t.Errorf("unexpected or repeated case %s", c.ID)
		}
		seen[c.ID] = true
		if i > 0 {
			p := all[i-1]
			if p.CreatedAt.Before(c.CreatedAt) || (p.CreatedAt.Equal(c.CreatedAt) && p.ID < c.ID) {
				t.Errorf("out of order at %d", i)
			}
		}
	}
	if len(all) != 5 {
		t.Errorf("listed %d cases, want 5", len(all))
	}
	if _, _, err := s.List(ctx, customer, page.Cursor{Time: now, ID: "x"}, 2); fault.KindOf(err) != fault.KindInvalid {
		t.Errorf("forged cursor: %v, want 422", err)
	}
}
