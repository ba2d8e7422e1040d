package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
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
		s := New(db).WithOffers(offers)
		t.Run("professionals", func(t *testing.T) { testProfessionals(t, s) })
		t.Run("pool entries", func(t *testing.T) { testEntries(t, s) })
		t.Run("consents", func(t *testing.T) { testConsents(t, s) })
		t.Run("held entries", func(t *testing.T) { testHeld(t, s) })
		t.Run("concurrent claims", func(t *testing.T) { testConcurrentClaims(t, s) })
		t.Run("claim of an entry not open", func(t *testing.T) { testClaimNotOpen(t, s) })
		t.Run("expire and release", func(t *testing.T) { testEnd(t, s) })
		t.Run("list", func(t *testing.T) { testList(t, s) })
		t.Run("active assignment", func(t *testing.T) { testActive(t, s) })
		t.Run("offers", func(t *testing.T) { testOffers(t, s) })
		t.Run("reminders", func(t *testing.T) { testReminders(t, s) })
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

// enter puts a case of a new patient, who consented to share it, into
// the pool at at.
func enter(t *testing.T, s *Store, at time.Time) Entry {
	t.Helper()
	patient := uuid.NewString()
	setConsent(t, s, patient, domain.Consent{Granted: true, Revision: 1, At: at})
	return enterOf(t, s, patient, at)
}

// enterOf puts a case of patient into the pool at at, whatever their
// consent.
func enterOf(t *testing.T, s *Store, patient string, at time.Time) Entry {
	t.Helper()
	e := Entry{CaseID: uuid.NewString(), PatientID: patient, CaseNumber: "EU-2026-ABCDEF", Specialty: "CARDIOLOGY", Urgency: "STANDARD",
		Language: "en", AgeBand: "30-39", RequiredLevel: vocab.Junior, OpenedAt: at}
	inTx(t, s, func(tx *sql.Tx) error { return s.Enter(context.Background(), tx, e) })
	return e
}

func setConsent(t *testing.T, s *Store, patient string, c domain.Consent) {
	t.Helper()
	inTx(t, s, func(tx *sql.Tx) error { return s.SetConsent(context.Background(), tx, patient, c) })
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
	want.Status, want.Stay, want.OpenedAt, want.Consented = Open, 1, now.Truncate(time.Microsecond), true
	if err != nil || got != want || got.Held() {
		t.Errorf("entry %+v %v, want %+v", got, err, want)
	}
	// An entry must name its patient: without one it could never be offered.
	noPatient := e
	noPatient.CaseID, noPatient.PatientID = uuid.NewString(), ""
	if err := s.db.InTx(ctx, func(tx *sql.Tx) error { return s.Enter(ctx, tx, noPatient) }); err == nil {
		t.Error("an entry without its patient was accepted")
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

// testConsents holds the projection of consents to its order: the later
// change wins however the events arrive, by revision where both have one,
// else by time; the same news twice changes nothing.
func testConsents(t *testing.T, s *Store) {
	ctx := context.Background()
	get := func(patient string) domain.Consent {
		t.Helper()
		c, err := consent(ctx, s.db, patient)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, id := range []string{uuid.NewString(), "nope"} {
		if c := get(id); c != (domain.Consent{}) {
			t.Errorf("consent of an unknown patient %s: %+v", id, c)
		}
	}
	p := uuid.NewString()
	at := func(d time.Duration) time.Time { return now.Add(d).Truncate(time.Microsecond) }
	grant1 := domain.Consent{Granted: true, Revision: 1, At: at(0)}
	withdraw2 := domain.Consent{Granted: false, Revision: 2, At: at(time.Second)}
	for i, step := range []struct {
		news, want domain.Consent
	}{
		{withdraw2, withdraw2}, // the withdrawal overtook the grant
		{grant1, withdraw2},    // the grant, retried, changes nothing
		{withdraw2, withdraw2}, // nor does the same news again
		// A later revision wins even if patient-consent's clock went back.
		{domain.Consent{Granted: true, Revision: 3, At: at(-time.Hour)}, domain.Consent{Granted: true, Revision: 3, At: at(-time.Hour)}},
		// Without a revision on either side, the time decides.
		{domain.Consent{Granted: false, At: at(-2 * time.Hour)}, domain.Consent{Granted: true, Revision: 3, At: at(-time.Hour)}},
		{domain.Consent{Granted: false, At: at(time.Hour)}, domain.Consent{Granted: false, At: at(time.Hour)}},
	} {
		setConsent(t, s, p, step.news)
		if got := get(p); got != step.want {
			t.Errorf("step %d: consent %+v, want %+v", i, got, step.want)
		}
	}
	if err := s.db.InTx(ctx, func(tx *sql.Tx) error { return s.SetConsent(ctx, tx, "nope", grant1) }); err == nil {
		t.Error("the consent of a malformed patient id was recorded")
	}

	// News handled at once (a retry beside a delivery) ends at the newest:
	// a change that lost to a concurrent one fails, and its retry decides
	// again on what that left.
	racer := uuid.NewString()
	const n = 24
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			news := domain.Consent{Granted: i%2 == 0, Revision: 10 + i, At: at(time.Duration(i) * time.Second)}
			for try := 0; ; try++ {
				err := s.db.InTx(ctx, func(tx *sql.Tx) error { return s.SetConsent(ctx, tx, racer, news) })
				if err == nil {
					return
				}
				if try == 50 || !strings.Contains(err.Error(), "changed concurrently") && !IsBusy(err) {
					t.Errorf("revision %d: %v", news.Revision, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := get(racer); got.Revision != 10+n-1 || got.Granted {
		t.Errorf("after concurrent news: %+v, want revision %d withdrawn", got, 10+n-1)
	}
}

// testHeld: an open entry whose patient has no consent in force is held —
// not listed, not claimable, not overdue, not escalated — and joins the
// pool for a new stay when the consent comes into force; a claimed entry
// is not held by a withdrawal, and reopens held if its assignment ends
// while the consent is withdrawn.
func testHeld(t *testing.T, s *Store) {
	ctx := context.Background()
	patient, pro := uuid.NewString(), uuid.NewString()
	listed := func(caseID string) bool {
		t.Helper()
		es, err := s.OpenEntries(ctx, pro, page.Cursor{}, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(es, func(e Entry) bool { return e.CaseID == caseID })
	}
	overdue := func(caseID string) bool {
		t.Helper()
		es, err := s.Overdue(ctx, now.Add(24*time.Hour), 10_000)
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(es, func(e Entry) bool { return e.CaseID == caseID })
	}
	claim := func(e Entry) (Assignment, error) {
		return s.Claim(ctx, Claim{AssignmentID: uuid.NewString(), CaseID: e.CaseID, ProfessionalID: pro, Stay: e.Stay,
			At: now, Deadline: now.Add(time.Hour)}, event("case.assigned"))
	}
	esc := func(e Entry) ([]bus.Event, error) {
		ev, err := bus.New("case-assignment", "assignment.escalated", e.CaseID, map[string]string{})
		return []bus.Event{ev}, err
	}

	// Entered before any consent: held.
	held := enterOf(t, s, patient, now)
	e, _, err := s.EntryFor(ctx, held.CaseID, pro)
	if err != nil || !e.Held() || e.Consented || e.PatientID != patient {
		t.Fatalf("entry without consent %+v %v", e, err)
	}
	if listed(held.CaseID) || overdue(held.CaseID) {
		t.Error("a held entry is listed or overdue")
	}
	if _, err := claim(e); fault.KindOf(err) != fault.KindNotFound {
		t.Errorf("claim of a held entry: %v, want not found", err)
	}
	if ok, err := s.Escalate(ctx, e, now, esc); ok || err != nil {
		t.Errorf("escalation of a held entry: %v %v", ok, err)
	}

	// The grant, made after the entry, brings it in for a new stay from
	// the grant's time.
	grantedAt := now.Add(time.Minute)
	setConsent(t, s, patient, domain.Consent{Granted: true, Revision: 1, At: grantedAt})
	e, _ = s.Entry(ctx, held.CaseID)
	if e.Held() || e.Stay != 2 || !e.OpenedAt.Equal(grantedAt.Truncate(time.Microsecond)) || !listed(held.CaseID) || !overdue(held.CaseID) {
		t.Errorf("after the grant: %+v", e)
	}
	// A case entering while the consent is in force is offered at once.
	second := enterOf(t, s, patient, now.Add(2*time.Minute))
	e, _ = s.Entry(ctx, second.CaseID)
	if e.Held() || e.Stay != 1 || !listed(second.CaseID) {
		t.Errorf("entry with consent in force: %+v", e)
	}
	a, err := claim(e)
	if err != nil {
		t.Fatal(err)
	}

	// The withdrawal holds the open entry, not the claimed one.
	setConsent(t, s, patient, domain.Consent{Granted: false, Revision: 2, At: now.Add(3 * time.Minute)})
	if e, _ := s.Entry(ctx, held.CaseID); !e.Held() || listed(held.CaseID) || overdue(held.CaseID) {
		t.Errorf("open entry after the withdrawal: %+v", e)
	}
	if got, err := s.Active(ctx, second.CaseID); err != nil || got.ID != a.ID {
		t.Errorf("the claimed case after the withdrawal: %+v %v", got, err)
	}
	if e, _ := s.Entry(ctx, second.CaseID); e.Held() || e.Status != Claimed {
		t.Errorf("claimed entry after the withdrawal: %+v", e)
	}
	// Released while the consent is withdrawn, the case reopens held.
	if _, err := s.Release(ctx, a.ID, now.Add(4*time.Minute), event("assignment.released")); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Entry(ctx, second.CaseID); !e.Held() || e.Stay != 2 || listed(second.CaseID) {
		t.Errorf("released entry while withdrawn: %+v", e)
	}

	// The grant again: both join for a new stay, the escalation of an
	// earlier stay forgotten; a grant older than the entry keeps the
	// entry's own time.
	e, _ = s.Entry(ctx, held.CaseID)
	inTx(t, s, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE pool SET escalated_at = $1 WHERE case_id = $2`, now, held.CaseID)
		return err
	})
	setConsent(t, s, patient, domain.Consent{Granted: true, Revision: 3, At: now.Add(-time.Hour)})
	if got, _ := s.Entry(ctx, held.CaseID); got.Held() || got.Stay != e.Stay+1 || !got.EscalatedAt.IsZero() ||
		!got.OpenedAt.Equal(e.OpenedAt) || !listed(held.CaseID) {
		t.Errorf("re-granted entry %+v, was %+v", got, e)
	}
	if got, _ := s.Entry(ctx, second.CaseID); got.Held() || got.Stay != 3 || !listed(second.CaseID) {
		t.Errorf("re-granted released entry %+v", got)
	}
	// A grant of a new text while in force is no new stay.
	setConsent(t, s, patient, domain.Consent{Granted: true, Revision: 4, At: now.Add(time.Hour)})
	if got, _ := s.Entry(ctx, second.CaseID); got.Stay != 3 {
		t.Errorf("a grant while in force started a new stay: %+v", got)
	}
	// A claim decided before the entry was held loses even once it is back.
	if _, err := claim(e); !errors.Is(err, ErrTaken) {
		t.Errorf("claim of an earlier stay: %v", err)
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
