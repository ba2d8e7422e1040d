package store

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
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/professional/credentialing/domain"
)

func TestStore(t *testing.T) {
	testkit.ForEachEngine(t, "credentialing", func(t *testing.T, db *sqldb.DB) {
		if err := Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		s := New(db)
		t.Run("professionals", func(t *testing.T) { testProfessionals(t, s) })
		t.Run("credentials", func(t *testing.T) { testCredentials(t, s) })
		t.Run("review", func(t *testing.T) { testReview(t, s) })
		t.Run("list", func(t *testing.T) { testList(t, s) })
		t.Run("expire", func(t *testing.T) { testExpire(t, s) })
		t.Run("concurrent expire", func(t *testing.T) { testConcurrentExpire(t, s) })
	})
}

var now = time.Date(2030, 3, 1, 10, 0, 0, 123456789, time.UTC)

func inTx(t *testing.T, s *Store, fn func(tx *sql.Tx) error) error {
	t.Helper()
	return s.db.InTx(context.Background(), fn)
}

func register(t *testing.T, s *Store) Professional {
	t.Helper()
	p := Professional{ID: uuid.NewString(), Specialties: []vocab.Specialty{"CARDIOLOGY", "ONCOLOGY"}, RegisteredAt: now}
	if err := inTx(t, s, func(tx *sql.Tx) error { _, err := s.Register(context.Background(), tx, p); return err }); err != nil {
		t.Fatal(err)
	}
	return p
}

func addCredential(t *testing.T, s *Store, professionalID string, expires time.Time) Credential {
	t.Helper()
	var c Credential
	err := inTx(t, s, func(tx *sql.Tx) error {
		var err error
		c, err = s.AddCredential(context.Background(), tx, Credential{ID: uuid.NewString(), ProfessionalID: professionalID,
			LicenseNumber: uuid.NewString()[:12], IssuingAuthority: "Landesärztekammer Berlin", Country: "DE",
			Specialty: "CARDIOLOGY", ExpiresAt: expires, SubmittedAt: now})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func review(t *testing.T, s *Store, c Credential, to domain.CredentialStatus) (Credential, error) {
	t.Helper()
	var out Credential
	err := inTx(t, s, func(tx *sql.Tx) error {
		var err error
		out, err = s.Review(context.Background(), tx, c, to, "", uuid.NewString(), now)
		return err
	})
	return out, err
}

func testProfessionals(t *testing.T, s *Store) {
	ctx := context.Background()
	p := register(t, s)
	var again bool
	if err := inTx(t, s, func(tx *sql.Tx) error {
		var err error
		again, err = s.Register(ctx, tx, Professional{ID: p.ID, Specialties: []vocab.Specialty{"UROLOGY"}, RegisteredAt: now})
		return err
	}); err != nil || again {
		t.Errorf("second register: %v, %v", again, err)
	}
	got, err := s.Professional(ctx, p.ID)
	want := Professional{ID: p.ID, Specialties: p.Specialties, Level: "JUNIOR", Status: domain.StandingPending,
		RegisteredAt: now.Truncate(time.Microsecond), UpdatedAt: now.Truncate(time.Microsecond)}
	if err != nil || !equalProfessional(got, want) {
		t.Fatalf("got %+v, %v; want %+v", got, err, want)
	}
	for _, id := range []string{uuid.NewString(), "nobody"} {
		if _, err := s.Professional(ctx, id); fault.KindOf(err) != fault.KindNotFound {
			t.Errorf("professional %s: %v", id, err)
		}
	}
	later := now.Add(time.Hour)
	err = inTx(t, s, func(tx *sql.Tx) error {
		locked, err := s.Lock(ctx, tx, p.ID, later)
		if err != nil || !locked.UpdatedAt.Equal(later.Truncate(time.Microsecond)) {
			t.Errorf("lock: %+v, %v", locked, err)
		}
		if err := s.SetStatus(ctx, tx, p.ID, domain.StandingPending, domain.StandingVerified, later); err != nil {
			return err
		}
		if err := s.SetStatus(ctx, tx, p.ID, domain.StandingPending, domain.StandingSuspended, later); !errors.Is(err, ErrStale) {
			t.Errorf("stale status change: %v", err)
		}
		if err := s.SetLevel(ctx, tx, p.ID, "JUNIOR", "EXPERT", later); err != nil {
			return err
		}
		if err := s.SetLevel(ctx, tx, p.ID, "JUNIOR", "SENIOR", later); !errors.Is(err, ErrStale) {
			t.Errorf("stale level change: %v", err)
		}
		if _, err := s.Lock(ctx, tx, uuid.NewString(), later); fault.KindOf(err) != fault.KindNotFound {
			t.Errorf("lock of an unknown professional: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Professional(ctx, p.ID); got.Status != domain.StandingVerified || got.Level != "EXPERT" {
		t.Errorf("after changes: %+v", got)
	}
}

func equalProfessional(a, b Professional) bool {
	return a.ID == b.ID && slices.Equal(a.Specialties, b.Specialties) && a.Level == b.Level && a.Status == b.Status &&
		a.RegisteredAt.Equal(b.RegisteredAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func testCredentials(t *testing.T, s *Store) {
	ctx := context.Background()
	p := register(t, s)
	c := addCredential(t, s, p.ID, now.Add(365*24*time.Hour))
	got, err := s.Credential(ctx, nil, c.ID)
	if err != nil || got != c || c.Status != domain.Pending || !c.SubmittedAt.Equal(now.Truncate(time.Microsecond)) {
		t.Fatalf("got %+v, %v; want %+v", got, err, c)
	}
	for _, id := range []string{uuid.NewString(), "nothing"} {
		if _, err := s.Credential(ctx, nil, id); fault.KindOf(err) != fault.KindNotFound {
			t.Errorf("credential %s: %v", id, err)
		}
	}
	// The same licence cannot be pending twice, even for someone else.
	dup := c
	dup.ID, dup.ProfessionalID = uuid.NewString(), register(t, s).ID
	err = inTx(t, s, func(tx *sql.Tx) error { _, err := s.AddCredential(ctx, tx, dup); return err })
	if p, ok := fault.As(err); !ok || p.Kind != fault.KindConflict {
		t.Errorf("duplicate licence: %v", err)
	}
	// Once rejected, it may be submitted again.
	if _, err := review(t, s, c, domain.Rejected); err != nil {
		t.Fatal(err)
	}
	if err := inTx(t, s, func(tx *sql.Tx) error { _, err := s.AddCredential(ctx, tx, dup); return err }); err != nil {
		t.Errorf("resubmission after rejection: %v", err)
	}
	all, err := s.Credentials(ctx, nil, p.ID)
	if err != nil || len(all) != 1 || all[0].Status != domain.Rejected {
		t.Errorf("credentials %+v, %v", all, err)
	}
}

func testReview(t *testing.T, s *Store) {
	ctx := context.Background()
	c := addCredential(t, s, register(t, s).ID, now.Add(time.Hour))
	var by string
	err := inTx(t, s, func(tx *sql.Tx) error {
		by = uuid.NewString()
		var err error
		c, err = s.Review(ctx, tx, c, domain.Rejected, "illegible scan", by, now)
		return err
	})
	if err != nil || c.Status != domain.Rejected || c.Reason != "illegible scan" || c.ReviewedBy != by {
		t.Fatalf("review: %+v, %v", c, err)
	}
	got, _ := s.Credential(ctx, nil, c.ID)
	if got != c {
		t.Errorf("stored %+v, want %+v", got, c)
	}
	if _, err := review(t, s, got, domain.Verified); !errors.Is(err, ErrStale) {
		t.Errorf("second review: %v", err)
	}

	// Of concurrent reviews exactly one applies.
	c = addCredential(t, s, register(t, s).ID, now.Add(time.Hour))
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, stale := 0, 0
	for range 8 {
		wg.Go(func() {
			_, err := review(t, s, c, domain.Verified)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrStale):
				stale++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if won != 1 || stale != 7 {
		t.Errorf("%d won, %d stale", won, stale)
	}
}

func testList(t *testing.T, s *Store) {
	ctx := context.Background()
	p := register(t, s)
	var made []string
	for i := range 5 {
		c := addCredential(t, s, p.ID, now.Add(time.Hour))
		// Two share a submission time: the id orders them.
		at := now.Add(time.Duration(min(i, 3)) * time.Minute)
		if _, err := s.db.ExecContext(ctx, `UPDATE credentials SET submitted_at = $1 WHERE id = $2`, at.Truncate(time.Microsecond), c.ID); err != nil {
			t.Fatal(err)
		}
		made = append(made, c.ID)
	}
	slices.Reverse(made)
	if made[0] < made[1] {
		made[0], made[1] = made[1], made[0]
	}
	var listed []string
	after := page.Cursor{}
	for pages := 1; ; pages++ {
		cs, next, err := s.List(ctx, p.ID, after, 2)
		if err != nil || pages > 3 {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, c := range cs {
			listed = append(listed, c.ID)
		}
		if next == "" {
			break
		}
		if after, err = page.Decode(next); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(listed, made) {
		t.Errorf("listed %v, want %v", listed, made)
	}
	if _, _, err := s.List(ctx, p.ID, page.Cursor{ID: "x"}, 2); fault.KindOf(err) != fault.KindInvalid {
		t.Errorf("bad cursor: %v", err)
	} else if f, _ := fault.As(err); f.Field != "cursor" {
		t.Errorf("bad cursor blamed on %q", f.Field)
	}
}

func status(t *testing.T, s *Store, id string) domain.CredentialStatus {
	t.Helper()
	c, err := s.Credential(context.Background(), nil, id)
	if err != nil {
		t.Fatal(err)
	}
	return c.Status
}

func expire(s *Store, at time.Time) ([]string, error) {
	var ids []string
	err := s.db.InTx(context.Background(), func(tx *sql.Tx) error {
		var err error
		ids, err = s.Expire(context.Background(), tx, at)
		return err
	})
	return ids, err
}

func testExpire(t *testing.T, s *Store) {
	// Earlier subtests left credentials expiring an hour after now.
	if _, err := expire(s, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	a, b := register(t, s), register(t, s)
	at := now.Add(24 * time.Hour)
	aOld := addCredential(t, s, a.ID, at) // verified, expires at the check
	aNew := addCredential(t, s, a.ID, at.Add(time.Microsecond))
	bOld := addCredential(t, s, b.ID, at.Add(-time.Minute))
	bPending := addCredential(t, s, b.ID, at.Add(-time.Minute))
	bRejected := addCredential(t, s, b.ID, at.Add(-time.Minute))
	for c, to := range map[Credential]domain.CredentialStatus{aOld: domain.Verified, aNew: domain.Verified, bOld: domain.Verified, bRejected: domain.Rejected} {
		if _, err := review(t, s, c, to); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := expire(s, at)
	want := []string{a.ID, b.ID}
	slices.Sort(want)
	if err != nil || !slices.Equal(ids, want) {
		t.Fatalf("expired for %v, %v; want %v", ids, err, want)
	}
	for c, st := range map[Credential]domain.CredentialStatus{aOld: domain.Expired, aNew: domain.Verified, bOld: domain.Expired,
		bPending: domain.Expired, bRejected: domain.Rejected} {
		if got := status(t, s, c.ID); got != st {
			t.Errorf("credential %s: %s, want %s", c.ID, got, st)
		}
	}
	if ids, err := expire(s, at); err != nil || len(ids) != 0 {
		t.Errorf("second check expired for %v, %v", ids, err)
	}
}

// Several checkers at once: each verified credential is expired, and its
// professional returned, by exactly one of them.
func testConcurrentExpire(t *testing.T, s *Store) {
	at := now.Add(48 * time.Hour)
	// Earlier subtests left credentials expiring before.
	if _, err := expire(s, at.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	var want []string
	for range 20 {
		p := register(t, s)
		for range 2 {
			if _, err := review(t, s, addCredential(t, s, p.ID, at.Add(-time.Second)), domain.Verified); err != nil {
				t.Fatal(err)
			}
		}
		want = append(want, p.ID)
	}
	slices.Sort(want)
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			ids, err := expire(s, at)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			got = append(got, ids...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("returned %d professionals %v, want each of %d once", len(got), got, len(want))
	}
}
