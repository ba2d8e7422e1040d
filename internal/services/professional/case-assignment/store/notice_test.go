package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/domain"
)

// offers records each offer as an event naming its stay and every
// candidate, for the tests to see when the store offers and to whom it
// leaves the choice.
func offers(e Entry, ps []domain.Professional) ([]bus.Event, error) {
	ids := []string{}
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	ev, err := bus.New("case-assignment", "assignment.case_offered", e.CaseID, offer{Stay: e.Stay, Candidates: ids})
	return []bus.Event{ev}, err
}

type offer struct {
	Stay       int      `json:"stay"`
	Candidates []string `json:"candidates"`
}

// offersOf returns the offers of a case in the outbox, oldest first.
func offersOf(t *testing.T, s *Store, caseID string) []offer {
	t.Helper()
	var out []offer
	for _, e := range testkit.Outbox(t, s.db) {
		if e.Type != "assignment.case_offered" || e.AggregateID != caseID {
			continue
		}
		var o offer
		if err := json.Unmarshal(e.Payload, &o); err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

// testOffers: an entry is offered, in the transaction of the change,
// each time it becomes claimable — entered with consent in force, joined
// by a grant, back after a release or an expiry — and never while held
// or when it merely stays open; the candidates are the verified
// professionals not excluded from it.
func testOffers(t *testing.T, s *Store) {
	ctx := context.Background()
	verified, suspended, pending := uuid.NewString(), uuid.NewString(), uuid.NewString()
	inTx(t, s, func(tx *sql.Tx) error {
		var errs []error
		for _, id := range []string{verified, suspended, pending} {
			errs = append(errs, s.SaveProfile(ctx, tx, Profile{ID: id, Specialties: []vocab.Specialty{"CARDIOLOGY"},
				Languages: []vocab.Language{"en"}, Level: vocab.Expert, At: now}))
		}
		return errors.Join(append(errs, s.SetStatus(ctx, tx, verified, domain.Verified, now),
			s.SetStatus(ctx, tx, suspended, domain.Suspended, now))...)
	})
	stays := func(caseID string) []int {
		t.Helper()
		var out []int
		for _, o := range offersOf(t, s, caseID) {
			out = append(out, o.Stay)
		}
		return out
	}

	e := enter(t, s, now)
	os := offersOf(t, s, e.CaseID)
	if len(os) != 1 || os[0].Stay != 1 || !slices.Contains(os[0].Candidates, verified) ||
		slices.Contains(os[0].Candidates, suspended) || slices.Contains(os[0].Candidates, pending) {
		t.Fatalf("offers of an entry: %+v", os)
	}
	// The entry event again refreshes the entry without a new offer.
	inTx(t, s, func(tx *sql.Tx) error { return s.Enter(ctx, tx, e) })
	if got := stays(e.CaseID); !slices.Equal(got, []int{1}) {
		t.Errorf("offers after the entry again: %v", got)
	}

	// Released: offered again, to the releasing professional too.
	a, err := s.Claim(ctx, Claim{AssignmentID: uuid.NewString(), CaseID: e.CaseID, ProfessionalID: verified, Stay: 1, At: now,
		Deadline: now.Add(time.Hour)}, event("case.assigned"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Release(ctx, a.ID, now, event("assignment.released")); err != nil {
		t.Fatal(err)
	}
	os = offersOf(t, s, e.CaseID)
	if len(os) != 2 || os[1].Stay != 2 || !slices.Contains(os[1].Candidates, verified) {
		t.Errorf("offers after a release: %+v", os)
	}
	// Expired: offered again, but no longer to its late professional.
	a, err = s.Claim(ctx, Claim{AssignmentID: uuid.NewString(), CaseID: e.CaseID, ProfessionalID: verified, Stay: 2, At: now,
		Deadline: now.Add(time.Hour)}, event("case.assigned"))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Expire(ctx, a.ID, now.Add(time.Hour), event("assignment.expired")); !ok || err != nil {
		t.Fatalf("expire: %v %v", ok, err)
	}
	os = offersOf(t, s, e.CaseID)
	if len(os) != 3 || os[2].Stay != 3 || slices.Contains(os[2].Candidates, verified) {
		t.Errorf("offers after an expiry: %+v", os)
	}

	// Held: no offer until the grant, which offers each joining entry
	// once; a claimed one released while the consent is withdrawn
	// returns held, unoffered.
	patient := uuid.NewString()
	held := enterOf(t, s, patient, now)
	if got := stays(held.CaseID); len(got) != 0 {
		t.Errorf("held entry offered: %v", got)
	}
	setConsent(t, s, patient, domain.Consent{Granted: true, Revision: 1, At: now})
	second := enterOf(t, s, patient, now)
	if got := stays(held.CaseID); !slices.Equal(got, []int{2}) {
		t.Errorf("offers of a held entry after the grant: %v", got)
	}
	c, err := s.Claim(ctx, Claim{AssignmentID: uuid.NewString(), CaseID: second.CaseID, ProfessionalID: verified, Stay: 1, At: now,
		Deadline: now.Add(time.Hour)}, event("case.assigned"))
	if err != nil {
		t.Fatal(err)
	}
	setConsent(t, s, patient, domain.Consent{Granted: false, Revision: 2, At: now})
	if _, err := s.Release(ctx, c.ID, now, event("assignment.released")); err != nil {
		t.Fatal(err)
	}
	if got := stays(second.CaseID); !slices.Equal(got, []int{1}) {
		t.Errorf("offers of an entry released while held: %v", got)
	}
	setConsent(t, s, patient, domain.Consent{Granted: true, Revision: 3, At: now})
	if got, want := [][]int{stays(held.CaseID), stays(second.CaseID)}, [][]int{{2, 3}, {1, 3}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("offers after the grant again: %v, want %v", got, want)
	}

	// An entry held for want of a consenting patient is offered when an
	// entry event names one whose consent is in force.
	stranger := enterOf(t, s, uuid.NewString(), now)
	consenting := stranger
	consenting.PatientID = patient
	inTx(t, s, func(tx *sql.Tx) error { return s.Enter(ctx, tx, consenting) })
	if got := stays(stranger.CaseID); !slices.Equal(got, []int{1}) {
		t.Errorf("offers of an entry named a consenting patient: %v", got)
	}
}

// testReminders: an ACTIVE assignment is listed once its reminder time
// has come; telling a share is decided by a conditional update, so two
// replicas reading the same row tell it once; an ended assignment is
// neither listed nor told.
func testReminders(t *testing.T, s *Store) {
	ctx := context.Background()
	listed := func(at time.Time, id string) (Assignment, bool) {
		t.Helper()
		as, err := s.Reminding(ctx, at, 10_000)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(as, func(a Assignment) bool { return a.ID == id })
		if i < 0 {
			return Assignment{}, false
		}
		return as[i], true
	}
	claim := func() Assignment {
		t.Helper()
		e := enter(t, s, now)
		a, err := s.Claim(ctx, Claim{AssignmentID: uuid.NewString(), CaseID: e.CaseID, ProfessionalID: uuid.NewString(), Stay: 1,
			At: now, Deadline: now.Add(100 * time.Minute), RemindAt: now.Add(75 * time.Minute)}, event("case.assigned"))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	told := func() int { t.Helper(); return outboxCount(t, s, "assignment.deadline_approaching") }

	a := claim()
	if _, ok := listed(now.Add(75*time.Minute-time.Microsecond), a.ID); ok {
		t.Error("listed before its reminder time")
	}
	read, ok := listed(now.Add(75*time.Minute), a.ID)
	if !ok || read.Reminded != 0 {
		t.Fatalf("at its reminder time: %+v %v", read, ok)
	}
	before := told()
	next := now.Add(90 * time.Minute)
	if done, err := s.Remind(ctx, read, 75, next, event("assignment.deadline_approaching")); !done || err != nil {
		t.Fatalf("remind: %v %v", done, err)
	}
	// Another replica that read the same row tells nothing.
	if done, err := s.Remind(ctx, read, 75, next, event("assignment.deadline_approaching")); done || err != nil {
		t.Errorf("second remind of the same read: %v %v", done, err)
	}
	if n := told() - before; n != 1 {
		t.Errorf("%d events for one share", n)
	}
	if _, ok := listed(next.Add(-time.Microsecond), a.ID); ok {
		t.Error("listed before its next reminder time")
	}
	read, ok = listed(next, a.ID)
	if !ok || read.Reminded != 75 {
		t.Fatalf("at its next reminder time: %+v %v", read, ok)
	}
	// Nothing due moves the next time without an event; the last share
	// leaves none.
	later := next.Add(time.Minute)
	if done, err := s.Remind(ctx, read, 75, later, event("assignment.deadline_approaching")); done || err != nil {
		t.Errorf("moving the next time: %v %v", done, err)
	}
	if _, ok := listed(next, a.ID); ok {
		t.Error("still listed at the old next time")
	}
	read, _ = listed(later, a.ID)
	if done, err := s.Remind(ctx, read, 90, time.Time{}, event("assignment.deadline_approaching")); !done || err != nil {
		t.Fatalf("remind 90: %v %v", done, err)
	}
	if got, err := s.Assignment(ctx, a.ID); err != nil || got.Reminded != 90 {
		t.Errorf("after the last share: %+v %v", got, err)
	}
	if _, ok := listed(now.Add(1000*time.Hour), a.ID); ok {
		t.Error("listed with no reminder left")
	}
	if n := told() - before; n != 2 {
		t.Errorf("%d events for two shares", n)
	}

	// Ended between the read and the update: not told.
	b := claim()
	read, _ = listed(now.Add(80*time.Minute), b.ID)
	if _, err := s.Release(ctx, b.ID, now.Add(80*time.Minute), event("assignment.released")); err != nil {
		t.Fatal(err)
	}
	if done, err := s.Remind(ctx, read, 75, next, event("assignment.deadline_approaching")); done || err != nil {
		t.Errorf("remind of an ended assignment: %v %v", done, err)
	}
	if _, ok := listed(now.Add(80*time.Minute), b.ID); ok {
		t.Error("an ended assignment is listed")
	}
	if n := told() - before; n != 2 {
		t.Errorf("an ended assignment was told: %d events", n)
	}
}
