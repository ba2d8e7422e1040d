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
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/domain"
)

// The contract both engines keep: history comes back as appended (purpose,
// then revision; times in UTC to the microsecond), a revision is taken
// once, concurrent appenders of one revision see exactly one win, and rows
// are never changed.
func TestStore(t *testing.T) {
	testkit.ForEachEngine(t, "patient-consent", func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := Migrate(ctx, db); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		s := New(db)
		t.Run("history", func(t *testing.T) { testHistory(t, s) })
		t.Run("stale revision", func(t *testing.T) { testStale(t, s) })
		t.Run("concurrent append", func(t *testing.T) { testConcurrent(t, s) })
	})
}

var now = time.Date(2030, 3, 1, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))

func change(patient string, p vocab.ConsentPurpose, rev int, k domain.Kind, at time.Time) Change {
	return Change{PatientID: patient, ClientAddr: "192.0.2.7",
		Change: domain.Change{Purpose: p, Revision: rev, Kind: k, Version: "2026-12-01", At: at}}
}

func appendAll(t *testing.T, s *Store, cs ...Change) error {
	t.Helper()
	return s.db.InTx(context.Background(), func(tx *sql.Tx) error {
		for _, c := range cs {
			if err := s.Append(context.Background(), tx, c); err != nil {
				return err
			}
		}
		return nil
	})
}

func testHistory(t *testing.T, s *Store) {
	ctx := context.Background()
	a, b := uuid.NewString(), uuid.NewString()
	if err := appendAll(t, s,
		change(a, vocab.ConsentResearch, 1, domain.Granted, now),
		change(a, vocab.ConsentAIProcessing, 1, domain.Granted, now.Add(time.Minute)),
		change(a, vocab.ConsentResearch, 2, domain.Withdrawn, now.Add(time.Hour)),
		change(b, vocab.ConsentResearch, 1, domain.Granted, now),
	); err != nil {
		t.Fatal(err)
	}
	got, err := s.History(ctx, nil, a)
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		change(a, vocab.ConsentAIProcessing, 1, domain.Granted, now.Add(time.Minute)),
		change(a, vocab.ConsentResearch, 1, domain.Granted, now),
		change(a, vocab.ConsentResearch, 2, domain.Withdrawn, now.Add(time.Hour)),
	}
	if len(got) != len(want) {
		t.Fatalf("history %+v, want %+v", got, want)
	}
	for i := range want {
		w := want[i]
		w.At = w.At.UTC().Truncate(time.Microsecond)
		if got[i] != w || got[i].At.Location() != time.UTC {
			t.Errorf("change %d: %+v, want %+v", i, got[i], w)
		}
	}
	var inTx []Change
	if err := s.db.InTx(ctx, func(tx *sql.Tx) error { inTx, err = s.History(ctx, tx, b); return err }); err != nil || len(inTx) != 1 {
		t.Errorf("history within a transaction: %v, %v", inTx, err)
	}
	for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
		if h, err := s.History(ctx, nil, id); err != nil || len(h) != 0 {
			t.Errorf("history of %q: %v, %v", id, h, err)
		}
	}
}

func testStale(t *testing.T, s *Store) {
	a := uuid.NewString()
	first := change(a, vocab.ConsentShareWithProfessionals, 1, domain.Granted, now)
	if err := appendAll(t, s, first); err != nil {
		t.Fatal(err)
	}
	again := change(a, vocab.ConsentShareWithProfessionals, 1, domain.Withdrawn, now.Add(time.Hour))
	if err := appendAll(t, s, again); !errors.Is(err, ErrStale) {
		t.Fatalf("a taken revision: %v, want ErrStale", err)
	}
	h, err := s.History(context.Background(), nil, a)
	if err != nil || len(h) != 1 || h[0].Kind != domain.Granted {
		t.Errorf("history after a stale append: %+v, %v", h, err)
	}
}

func testConcurrent(t *testing.T, s *Store) {
	a := uuid.NewString()
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() { errs <- appendAll(t, s, change(a, vocab.ConsentResearch, 1, domain.Granted, now)) })
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrStale):
			t.Errorf("append: %v, want ErrStale for every loser", err)
		}
	}
	h, err := s.History(context.Background(), nil, a)
	if won != 1 || err != nil || len(h) != 1 {
		t.Errorf("%d appenders won, history %+v (%v); want exactly one", won, h, err)
	}
}
