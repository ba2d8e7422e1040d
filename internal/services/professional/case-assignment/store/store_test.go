package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/domain"
)

func TestStore(t *testing.T) {
	testkit.ForEachEngine(t, "case-assignment", func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := outbox.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		s := New(db)
		t.Run("professionals", func(t *testing.T) { testProfessionals(t, s) })
		t.Run("pool entries", func(t *testing.T) { testEntries(t, s) })
		t.Run("concurrent claims", func(t *testing.T) { testConcurrentClaims(t, s) })
		t.Run("claim of an entry not open", func(t *testing.T) { testClaimNotOpen(t, s) })
		t.Run("expire and release", func(t *testing.T) { testEnd(t, s) })
		t.Run("list", func(t *testing.T) { testList(t, s) })
		t.Run("active assignment", func(t *testing.T) { testActive(t, s) })
	})
}

var now = time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)

func inTx(t *testing.T, s *Store, fn func(tx *sql.Tx) error) {
	t.Helper()
	if err := s.db.InTx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func event(typ string) Events {
	return func(a Assignment) ([]bus.Event, error) {
		e, err := bus.New("case-assignment", typ, a.CaseID, map[string]string{"assignmentId": a.ID})
		return []bus.Event{e}, err
	}
}

func outboxCount(t *testing.T, s *Store, typ string) int {
	t.Helper()
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM outbox WHERE event_type = $1`, typ).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func enter(t *testing.T, s *Store, at time.Time) Entry {
	t.Helper()
	e := Entry{CaseID: uuid.NewString(), CaseNumber: "EU-2026-ABCDEF", Specialty: "CARDIOLOGY", Urgency: "STANDARD",
		Language: "en", AgeBand: "30-39", RequiredLevel: vocab.Junior, OpenedAt: at}
	inTx(t, s, func(tx *sql.Tx) error { return s.Enter(context.Background(), tx, e) })
	return e
}

func testProfessionals(t *testing.T, s *Store) {
	ctx := context.Background()
	id := uuid.NewString()
	if p, err := s.Professional(ctx, id); err != nil || p.Status != domain.Pending || len(p.Specialties) != 0 {
		t.Errorf("unknown professional: %+v %v", p, err)
	}
	inTx(t, s, func(tx *sql.Tx) error {
		return errors.Join(
			s.SaveProfile(ctx, tx, Profile{ID: id, Specialties: []vocab.Specialty{"ONCOLOGY", "NEUROLOGY"}, Languages: []vocab.Language{"de"}, Level: vocab.Junior, At: now}),
			s.SetLevel(ctx, tx, id, vocab.Expert, now),
			s.SetStatus(ctx, tx, id, domain.Verified, now),
			// Older news changes nothing.
			s.SaveProfile(ctx, tx, Profile{ID: id, Specialties: []vocab.Specialty{"UROLOGY"}, Languages: []vocab.Language{"fr"}, Level: vocab.Junior, At: now.Add(-time.Second)}),
			s.SetLevel(ctx, tx, id, vocab.Senior, now.Add(-time.Second)),
			s.SetStatus(ctx, tx, id, domain.Suspended, now.Add(-time.Second)),
		)
	})
	p, err := s.Professional(ctx, id)
	if err != nil || p.Status != domain.Verified || p.Level != vocab.Expert || len(p.Specialties) != 2 || p.Languages[0] != "de" {
		t.Errorf("professional %+v %v", p, err)
	}
	// A new profile does not reset the level credentialing set.
	inTx(t, s, func(tx *sql.Tx) error {
		return s.SaveProfile(ctx, tx, Profile{ID: id, Specialties: []vocab.Specialty{"UROLOGY"}, Languages: []vocab.Language{"fr"}, Level: vocab.Junior, At: now.Add(time.Second)})
	})
	if p, _ := s.Professional(ctx, id); p.Level != vocab.Expert || p.Specialties[0] != "UROLOGY" {
		t.Errorf("after update %+v", p)
	}
}

func testEntries(t *testing.T, s *Store) {
	ctx := context.Background()
	e := enter(t, s, now)
	got, err := s.Entry(ctx, e.CaseID)
	want := e
	want.Status, want.Stay, want.OpenedAt = Open, 1, now.Truncate(time.Microsecond)
	if err != nil || got != want {
		t.Errorf("entry %+v %v, want %+v", got, err, want)
	}
	for _, id := range []string{uuid.NewString(), "nope"} {
		if _, err := s.Entry(ctx, id); fault.KindOf(err) != fault.KindNotFound {
			t.Errorf("entry %s: %v", id, err)
		}
	}
	inTx(t, s, func(tx *sql.Tx) error { return s.Close(ctx, tx, e.CaseID, e.CaseNumber, now) })
	inTx(t, s, func(tx *sql.Tx) error { return s.Enter(ctx, tx, e) })
	if got, _ := s.Entry(ctx, e.CaseID); got.Status != Closed {
		t.Errorf("closed entry reopened: %+v", got)
	}
	// A case closed before it was ever seen stays closed.
	early := uuid.NewString()
	inTx(t, s, func(tx *sql.Tx) error { return s.Close(ctx, tx, early, "EU-2026-EARLY1", now) })
	e.CaseID = early
	inTx(t, s, func(tx *sql.Tx) error { return s.Enter(ctx, tx, e) })
	if got, _ := s.Entry(ctx, early); got.Status != Closed {
		t.Errorf("early-closed entry opened: %+v", got)
	}
}

func testConcurrentClaims(t *testing.T, s *Store) {
	ctx := context.Background()
	e := enter(t, s, now)
	const n = 200 // as many racers as the API race test, all reaching the conditional update
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, taken := 0, 0
	for range n {
		wg.Go(func() {
			_, err := s.Claim(ctx, Claim{AssignmentID: uuid.NewString(), CaseID: e.CaseID, ProfessionalID: uuid.NewString(),
				Stay: 1, At: now, Deadline: now.Add(time.Hour)}, event("case.assigned"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrTaken):
				taken++
			default:
				t.Errorf("claim: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 || taken != n-1 {
		t.Errorf("%d won, %d taken", won, taken)
	}
	// A claim decided on an earlier stay loses even when the case is open.
	other := enter(t, s, now)
	if _, err := s.Claim(ctx, Claim{AssignmentID: uuid.NewString(), CaseID: other.CaseID, ProfessionalID: uuid.NewString(),
		Stay: 0, At: now, Deadline: now}, event("case.assigned")); !errors.Is(err, ErrTaken) {
		t.Errorf("claim of another stay: %v", err)
	}
}

// testClaimNotOpen takes the claim's own status condition as the only
// guard: no ACTIVE assignment exists for the unique index to refuse, and
// the claim names the entry's current stay.
func testClaimNotOpen(t *testing.T, s *Store) {
	ctx := context.Background()
	assignments := func(caseID string) int {
		t.Helper()
		var n int
		if err := s.db.QueryRow(`SELECT count(*) FROM assignments WHERE case_id = $1`, caseID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	claim := func(caseID string) error {
		_, err := s.Claim(ctx, Claim{AssignmentID: uuid.NewString(), CaseID: caseID, ProfessionalID: uuid.NewString(),
			Stay: 1, At: now, Deadline: now.Add(time.Hour)}, event("case.assigned"))
		return err
	}

	closed := enter(t, s, now)
	inTx(t, s, func(tx *sql.Tx) error { return s.Close(ctx, tx, closed.CaseID, closed.CaseNumber, now) })
	before := outboxCount(t, s, "case.assigned")
	if err := claim(closed.CaseID); fault.KindOf(err) != fault.KindNotFound {
		t.Errorf("claim of a closed case: %v, want not found", err)
	}
	if got, _ := s.Entry(ctx, closed.CaseID); got.Status != Closed {
		t.Errorf("closed entry after a claim: %+v", got)
	}
	if n := assignments(closed.CaseID); n != 0 {
		t.Errorf("%d assignments of a closed case", n)
	}
	if n := outboxCount(t, s, "case.assigned") - before; n != 0 {
		t.Errorf("%d events of a claim on a closed case", n)
	}

	// A delivered opinion leaves the entry CLAIMED with no ACTIVE
	// assignment: only the status condition turns a second claim away.
	delivered := enter(t, s, now)
	if err := claim(delivered.CaseID); err != nil {
		t.Fatal(err)
	}
	a, err := s.Active(ctx, delivered.CaseID)
	if err != nil {
		t.Fatal(err)
	}
	inTx(t, s, func(tx *sql.Tx) error {
		ok, err := s.Deliver(ctx, tx, delivered.CaseID, a.ProfessionalID)
		if err == nil && !ok {
			err = errors.New("assignment not delivered")
		}
		return err
	})
	if err := claim(delivered.CaseID); !errors.Is(err, ErrTaken) {
		t.Errorf("claim of a case whose opinion was delivered: %v, want taken", err)
	}
	if n := assignments(delivered.CaseID); n != 1 {
		t.Errorf("%d assignments of a delivered case, want 1", n)
	}
}

func testEnd(t *testing.T, s *Store) {
	ctx := context.Background()
	e := enter(t, s, now)
	pro := uuid.NewString()
	a, err := s.Claim(ctx, Claim{AssignmentID: uuid.NewString(), CaseID: e.CaseID, ProfessionalID: pro, Stay: 1, At: now,
		Deadline: now.Add(time.Hour)}, event("case.assigned"))
	if err != nil {
		t.Fatal(err)
	}
	before := outboxCount(t, s, "assignment.expired")
	if ok, err := s.Expire(ctx, a.ID, now.Add(time.Hour-time.Microsecond), event("assignment.expired")); ok || err != nil {
		t.Errorf("expired before the deadline: %v %v", ok, err)
	}
	if ok, err := s.Expire(ctx, a.ID, now.Add(time.Hour), event("assignment.expired")); !ok || err != nil {
		t.Fatalf("expire: %v %v", ok, err)
	}
	if ok, err := s.Expire(ctx, a.ID, now.Add(2*time.Hour), event("assignment.expired")); ok || err != nil {
		t.Errorf("second expiry: %v %v", ok, err)
	}
	if n := outboxCount(t, s, "assignment.expired") - before; n != 1 {
		t.Errorf("%d expiry events", n)
	}
	got, ex, _ := s.EntryFor(ctx, e.CaseID, uuid.NewString())
	if ex || got.Status != Open || got.Stay != 2 || !got.OpenedAt.Equal(now.Add(time.Hour).Truncate(time.Microsecond)) {
		t.Errorf("reopened entry %+v", got)
	}
	if _, ex, err := s.EntryFor(ctx, e.CaseID, pro); !ex || err != nil {
		t.Errorf("expired professional not excluded: %v %v", ex, err)
	}
	if _, err := s.Claim(ctx, Claim{AssignmentID: uuid.NewString(), CaseID: e.CaseID, ProfessionalID: pro, Stay: 2, At: now,
		Deadline: now}, event("case.assigned")); !errors.Is(err, ErrExcluded) {
		t.Errorf("excluded professional's claim: %v", err)
	}
	b, err := s.Claim(ctx, Claim{AssignmentID: uuid.NewString(), CaseID: e.CaseID, ProfessionalID: uuid.NewString(), Stay: 2, At: now,
		Deadline: now}, event("case.assigned"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.Release(ctx, b.ID, now, event("assignment.released")); err != nil || r.Status != Released {
		t.Errorf("release: %+v %v", r, err)
	}
	if _, err := s.Release(ctx, b.ID, now, event("assignment.released")); !errors.Is(err, ErrNotActive) {
		t.Errorf("second release: %v", err)
	}
	if _, err := s.Release(ctx, uuid.NewString(), now, event("assignment.released")); fault.KindOf(err) != fault.KindNotFound {
		t.Errorf("release of unknown: %v", err)
	}
	// Escalation happens once per stay.
	got, _ = s.Entry(ctx, e.CaseID)
	esc := func(e Entry) ([]bus.Event, error) {
		ev, err := bus.New("case-assignment", "assignment.escalated", e.CaseID, map[string]string{})
		return []bus.Event{ev}, err
	}
	if ok, err := s.Escalate(ctx, got, now, esc); !ok || err != nil {
		t.Errorf("escalate: %v %v", ok, err)
	}
	if ok, err := s.Escalate(ctx, got, now, esc); ok || err != nil {
		t.Errorf("second escalation: %v %v", ok, err)
	}
}

func testList(t *testing.T, s *Store) {
	ctx := context.Background()
	pro := uuid.NewString()
	var ids []string
	for i := range 5 {
		e := enter(t, s, now)
		a, err := s.Claim(ctx, Claim{AssignmentID: uuid.NewString(), CaseID: e.CaseID, ProfessionalID: pro, Stay: 1,
			At: now.Add(time.Duration(i) * time.Minute), Deadline: now.Add(time.Hour)}, event("case.assigned"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append([]string{a.ID}, ids...)
	}
	var got []string
	after := page.Cursor{}
	for {
		items, next, err := s.List(ctx, pro, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range items {
			got = append(got, a.ID)
		}
		if next == "" {
			break
		}
		if after, err = page.Decode(next); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 5 || got[0] != ids[0] || got[4] != ids[4] {
		t.Errorf("pages %v, want %v", got, ids)
	}
	if all, _, err := s.List(ctx, "", page.Cursor{}, 100); err != nil || len(all) < 5 {
		t.Errorf("all: %d %v", len(all), err)
	}
}

func testActive(t *testing.T, s *Store) {
	ctx := context.Background()
	for _, id := range []string{uuid.NewString(), "nope"} {
		if a, err := s.Active(ctx, id); fault.KindOf(err) != fault.KindNotFound {
			t.Errorf("active of unknown case %s: %+v %v", id, a, err)
		}
	}
	e := enter(t, s, now)
	if a, err := s.Active(ctx, e.CaseID); fault.KindOf(err) != fault.KindNotFound {
		t.Errorf("active of an open case: %+v %v", a, err)
	}
	claim := func(stay int) Assignment {
		t.Helper()
		a, err := s.Claim(ctx, Claim{AssignmentID: uuid.NewString(), CaseID: e.CaseID, ProfessionalID: uuid.NewString(), Stay: stay,
			At: now, Deadline: now.Add(time.Hour)}, event("case.assigned"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Active(ctx, e.CaseID); err != nil || got != a {
			t.Errorf("active after claim: %+v %v, want %+v", got, err, a)
		}
		return a
	}
	a := claim(1)
	if _, err := s.Release(ctx, a.ID, now, event("assignment.released")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Active(ctx, e.CaseID); fault.KindOf(err) != fault.KindNotFound {
		t.Errorf("active after release: %+v %v", got, err)
	}
	b := claim(2)
	if ok, err := s.Expire(ctx, b.ID, now.Add(time.Hour), event("assignment.expired")); !ok || err != nil {
		t.Fatalf("expire: %v %v", ok, err)
	}
	if got, err := s.Active(ctx, e.CaseID); fault.KindOf(err) != fault.KindNotFound {
		t.Errorf("active after expiry: %+v %v", got, err)
	}
}
