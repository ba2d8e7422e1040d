package store

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/domain"
)

func TestStore(t *testing.T) {
	testkit.ForEachEngine(t, "medical-opinion", func(t *testing.T, db *sqldb.DB) {
		if err := Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		s := New(db)
		t.Run("assignments", func(t *testing.T) { testAssignments(t, s) })
		t.Run("opinions", func(t *testing.T) { testOpinions(t, s) })
		t.Run("questions", func(t *testing.T) { testQuestions(t, s) })
		t.Run("review queue", func(t *testing.T) { testQueue(t, s) })
	})
}

var now = time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.UTC)

func inTx(t *testing.T, s *Store, fn func(tx *sql.Tx) error) error {
	t.Helper()
	return s.db.InTx(context.Background(), fn)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testAssignments(t *testing.T, s *Store) {
	ctx := context.Background()
	caseID, pro := uuid.NewString(), uuid.NewString()
	a := domain.Assignment{ID: uuid.NewString(), CaseID: caseID, ProfessionalID: pro, Deadline: now.Add(72 * time.Hour), Active: true}
	if got, err := s.Active(ctx, s.DB(), caseID); err != nil || got.Active {
		t.Fatalf("before any: %+v %v", got, err)
	}
	for range 2 { // a redelivery changes nothing
		must(t, inTx(t, s, func(tx *sql.Tx) error { return s.Assign(ctx, tx, a, now) }))
	}
	want := a
	want.Deadline = a.Deadline.Truncate(time.Microsecond)
	if got, err := s.Active(ctx, s.DB(), caseID); err != nil || got != want {
		t.Fatalf("active: %+v %v, want %+v", got, err, want)
	}
	must(t, inTx(t, s, func(tx *sql.Tx) error { return s.End(ctx, tx, a, now) }))
	if got, err := s.Active(ctx, s.DB(), caseID); err != nil || got.Active {
		t.Fatalf("after end: %+v %v", got, err)
	}
	// A replayed case.assigned does not revive the ended assignment.
	must(t, inTx(t, s, func(tx *sql.Tx) error { return s.Assign(ctx, tx, a, now) }))
	if got, _ := s.Active(ctx, s.DB(), caseID); got.Active {
		t.Fatalf("revived: %+v", got)
	}

	// An expiry seen before its case.assigned keeps the assignment ended.
	b := domain.Assignment{ID: uuid.NewString(), CaseID: caseID, ProfessionalID: uuid.NewString(), Deadline: now.Add(time.Hour)}
	must(t, inTx(t, s, func(tx *sql.Tx) error { return s.End(ctx, tx, b, now) }))
	must(t, inTx(t, s, func(tx *sql.Tx) error { return s.Assign(ctx, tx, b, now) }))
	if got, _ := s.Active(ctx, s.DB(), caseID); got.Active {
		t.Fatalf("late assigned made active: %+v", got)
	}

	// A new assignment of the case ends the previous one.
	c1 := domain.Assignment{ID: uuid.NewString(), CaseID: caseID, ProfessionalID: uuid.NewString(), Deadline: now.Add(time.Hour)}
	c2 := domain.Assignment{ID: uuid.NewString(), CaseID: caseID, ProfessionalID: uuid.NewString(), Deadline: now.Add(time.Minute)}
	must(t, inTx(t, s, func(tx *sql.Tx) error { return s.Assign(ctx, tx, c1, now) }))
	must(t, inTx(t, s, func(tx *sql.Tx) error { return s.Assign(ctx, tx, c2, now) }))
	if got, _ := s.Active(ctx, s.DB(), caseID); got.ID != c2.ID {
		t.Fatalf("active after reassignment: %+v", got)
	}
	// A replayed older case.assigned does not end the newer assignment.
	must(t, inTx(t, s, func(tx *sql.Tx) error { return s.Assign(ctx, tx, c1, now) }))
	if got, _ := s.Active(ctx, s.DB(), caseID); got.ID != c2.ID {
		t.Fatalf("active after a replayed older assignment: %+v", got)
	}
	if got, _ := s.Active(ctx, s.DB(), "not-a-uuid"); got.Active {
		t.Fatalf("malformed id: %+v", got)
	}
}

func newOpinion(caseID, pro string, at time.Time) Opinion {
	return Opinion{ID: uuid.NewString(), CaseID: caseID, AssignmentID: uuid.NewString(), ProfessionalID: pro,
		Status: domain.Draft, Content: domain.Content{Summary: "Stable", Diagnoses: []domain.Diagnosis{{Code: "I20.9", Description: "Angina"}},
			Recommendations: []string{"Rest"}, Confidence: "HIGH", Answer: "No", References: []string{"ESC 2024"},
			AIFindings: []domain.Finding{
				{ID: "f-1", Label: "EF 55%", Decision: domain.FindingAccepted, Citation: domain.Citation{DocumentID: doc, Page: 1, Start: 0, End: 6}},
				{ID: "f:2", Label: "Stenosis", Decision: domain.FindingEdited, Text: "Mild stenosis", Citation: domain.Citation{DocumentID: doc, Page: 3, Start: 120, End: 180}},
				{ID: "f.3", Label: "Nodule", Decision: domain.FindingRejected, Citation: domain.Citation{DocumentID: doc, Page: 2, Start: 7, End: 9}},
			}},
		CreatedAt: at}
}

// doc is the record the findings of newOpinion cite.
const doc = "0190f5a8-7b1c-7d2e-9f00-1234567890ab"

func testOpinions(t *testing.T, s *Store) {
	ctx := context.Background()
	caseID, pro := uuid.NewString(), uuid.NewString()
	o := newOpinion(caseID, pro, now)
	var err error
	must(t, inTx(t, s, func(tx *sql.Tx) error { o, err = s.Insert(ctx, tx, o); return err }))
	got, err := s.Get(ctx, s.DB(), o.ID)
	if err != nil || !reflect.DeepEqual(got, o) {
		t.Fatalf("get:\n%+v %v\nwant\n%+v", got, err, o)
	}
	if got, err := s.ForAssignment(ctx, s.DB(), o.AssignmentID); err != nil || got.ID != o.ID {
		t.Fatalf("for assignment: %+v %v", got, err)
	}
	// Empty lists read back as empty, not nil-vs-null surprises.
	empty := Opinion{ID: uuid.NewString(), CaseID: uuid.NewString(), AssignmentID: uuid.NewString(), ProfessionalID: pro, Status: domain.Draft, CreatedAt: now}
	must(t, inTx(t, s, func(tx *sql.Tx) error { _, err := s.Insert(ctx, tx, empty); return err }))
	if got, err := s.Get(ctx, s.DB(), empty.ID); err != nil || got.Diagnoses == nil || len(got.References) != 0 || got.AIFindings == nil {
		t.Fatalf("empty lists: %+v %v", got, err)
	}

	// One opinion per assignment.
	dup := newOpinion(caseID, pro, now)
	dup.AssignmentID = o.AssignmentID
	if err := inTx(t, s, func(tx *sql.Tx) error { _, err := s.Insert(ctx, tx, dup); return err }); !errors.Is(err, ErrStale) {
		t.Fatalf("second opinion for an assignment: %v", err)
	}

	// Updates are conditional on the version.
	next := o
	next.Status, next.SubmittedAt, next.ApprovedAt = domain.Approved, now.Add(time.Hour), now.Add(time.Hour)
	// The AI review changes with the rest of the content: reordered, one
	// finding dropped, another decided anew.
	next.AIFindings = []domain.Finding{o.AIFindings[2], o.AIFindings[1]}
	next.AIFindings[0].Decision, next.AIFindings[0].Text = domain.FindingEdited, "A small nodule"
	var updated Opinion
	must(t, inTx(t, s, func(tx *sql.Tx) error { updated, err = s.Update(ctx, tx, next, now.Add(time.Hour)); return err }))
	if updated.Version != 2 {
		t.Fatalf("version: %d", updated.Version)
	}
	if got, _ := s.Get(ctx, s.DB(), o.ID); !reflect.DeepEqual(got, updated) {
		t.Fatalf("after update:\n%+v\nwant\n%+v", got, updated)
	}
	if err := inTx(t, s, func(tx *sql.Tx) error { _, err := s.Update(ctx, tx, next, now); return err }); !errors.Is(err, ErrStale) {
		t.Fatalf("stale update: %v", err)
	}

	// Latest and approved.
	later := newOpinion(caseID, uuid.NewString(), now.Add(2*time.Hour))
	must(t, inTx(t, s, func(tx *sql.Tx) error { _, err := s.Insert(ctx, tx, later); return err }))
	if got, err := s.Latest(ctx, caseID, ""); err != nil || got.ID != later.ID {
		t.Errorf("latest: %s %v", got.ID, err)
	}
	if got, err := s.Latest(ctx, caseID, pro); err != nil || got.ID != o.ID {
		t.Errorf("latest of author: %s %v", got.ID, err)
	}
	if got, err := s.Approved(ctx, caseID); err != nil || got.ID != o.ID {
		t.Errorf("approved: %s %v", got.ID, err)
	}
	for name, err := range map[string]error{
		"missing":     func() error { _, err := s.Get(ctx, s.DB(), uuid.NewString()); return err }(),
		"malformed":   func() error { _, err := s.Get(ctx, s.DB(), "x"); return err }(),
		"no approved": func() error { _, err := s.Approved(ctx, uuid.NewString()); return err }(),
		"no latest":   func() error { _, err := s.Latest(ctx, uuid.NewString(), pro); return err }(),
	} {
		if fault.KindOf(err) != fault.KindNotFound {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func testQuestions(t *testing.T, s *Store) {
	ctx := context.Background()
	o := newOpinion(uuid.NewString(), uuid.NewString(), now)
	must(t, inTx(t, s, func(tx *sql.Tx) error { _, err := s.Insert(ctx, tx, o); return err }))
	ask := func(seq int) error {
		return inTx(t, s, func(tx *sql.Tx) error {
			_, err := s.Ask(ctx, tx, Question{ID: uuid.NewString(), OpinionID: o.ID, Seq: seq, Question: "Why?", AskedAt: now})
			return err
		})
	}
	for seq := 1; seq <= 3; seq++ {
		must(t, ask(seq))
	}
	if err := ask(2); !errors.Is(err, ErrStale) {
		t.Errorf("same number twice: %v", err)
	}
	if err := ask(4); err == nil {
		t.Error("a fourth question was stored")
	}
	qs, err := s.Questions(ctx, s.DB(), o.ID)
	if err != nil || len(qs) != 3 || qs[0].Seq != 1 || qs[2].Seq != 3 || qs[0].Answer != "" || !qs[0].AnsweredAt.IsZero() {
		t.Fatalf("questions: %+v %v", qs, err)
	}
	q, err := s.Question(ctx, s.DB(), o.ID, qs[1].ID)
	if err != nil || q != qs[1] {
		t.Fatalf("question: %+v %v", q, err)
	}
	must(t, inTx(t, s, func(tx *sql.Tx) error { _, err := s.Answer(ctx, tx, q, "Because.", now.Add(time.Hour)); return err }))
	if err := inTx(t, s, func(tx *sql.Tx) error { _, err := s.Answer(ctx, tx, q, "Again.", now); return err }); !errors.Is(err, ErrStale) {
		t.Errorf("second answer: %v", err)
	}
	if q, _ := s.Question(ctx, s.DB(), o.ID, q.ID); q.Answer != "Because." || !q.AnsweredAt.Equal(now.Add(time.Hour).Truncate(time.Microsecond)) {
		t.Errorf("answered: %+v", q)
	}
	if _, err := s.Question(ctx, s.DB(), uuid.NewString(), q.ID); fault.KindOf(err) != fault.KindNotFound {
		t.Errorf("question of another opinion: %v", err)
	}
}

func testQueue(t *testing.T, s *Store) {
	ctx := context.Background()
	// Specialties of this test only: the store is shared with the others.
	x, y := "X-"+uuid.NewString(), "Y-"+uuid.NewString()
	a, b := uuid.NewString(), uuid.NewString()
	at := now.Add(24 * time.Hour)
	add := func(id, pro, specialty string, status domain.Status, submitted time.Time) Opinion {
		t.Helper()
		o := newOpinion(uuid.NewString(), pro, now)
		o.ID, o.Status, o.Specialty, o.SubmittedAt = id, status, specialty, submitted
		var err error
		must(t, inTx(t, s, func(tx *sql.Tx) error { o, err = s.Insert(ctx, tx, o); return err }))
		return o
	}
	// o1 and o2 were submitted at the same instant: the id orders them.
	first, second := uuid.NewString(), uuid.NewString()
	if second < first {
		first, second = second, first
	}
	o2 := add(second, b, x, domain.Submitted, at)
	o1 := add(first, a, x, domain.Submitted, at)
	o3 := add(uuid.NewString(), a, y, domain.Submitted, at.Add(time.Hour))
	add(uuid.NewString(), b, x, domain.Draft, time.Time{})
	add(uuid.NewString(), b, x, domain.Approved, at)
	// Submitting through Update records the specialty.
	o4 := add(uuid.NewString(), b, "", domain.Draft, time.Time{})
	o4.Status, o4.Specialty, o4.SubmittedAt = domain.Submitted, y, at.Add(2*time.Hour)
	must(t, inTx(t, s, func(tx *sql.Tx) error { _, err := s.Update(ctx, tx, o4, now); return err }))
	if got, err := s.Get(ctx, s.DB(), o4.ID); err != nil || got.Specialty != y {
		t.Fatalf("specialty after update: %q %v", got.Specialty, err)
	}

	ids := func(f QueueFilter, limit int) []string {
		t.Helper()
		var out []string
		var after page.Cursor
		for n := 0; ; n++ {
			items, next, err := s.AwaitingReview(ctx, f, after, limit)
			if err != nil || len(items) > limit || n > 10 {
				t.Fatalf("queue %+v: %d items, %v", f, len(items), err)
			}
			for _, it := range items {
				if it.SubmittedAt.IsZero() || it.CaseID == "" || it.ProfessionalID == "" {
					t.Errorf("queue item: %+v", it)
				}
				out = append(out, it.ID)
			}
			if next == "" {
				return out
			}
			if after, err = page.Decode(next); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, tc := range map[string]struct {
		f    QueueFilter
		want []string
	}{
		"one specialty, not the author's": {QueueFilter{Specialties: []string{x}, NotBy: a}, []string{o2.ID}},
		"both specialties":                {QueueFilter{Specialties: []string{x, y}}, []string{o1.ID, o2.ID, o3.ID, o4.ID}},
		"both, not b's":                   {QueueFilter{Specialties: []string{y, x}, NotBy: b}, []string{o1.ID, o3.ID}},
		"another specialty":               {QueueFilter{Specialties: []string{"Z"}}, nil},
		"no specialties":                  {QueueFilter{NotBy: a}, nil},
	} {
		for _, limit := range []int{1, 2, 100} {
			if got := ids(tc.f, limit); !slices.Equal(got, tc.want) {
				t.Errorf("%s, limit %d: %v, want %v", name, limit, got, tc.want)
			}
		}
	}
	// Every specialty: this test's opinions in order among any others.
	var ours []string
	for _, id := range ids(QueueFilter{AllSpecialties: true}, 2) {
		if slices.Contains([]string{o1.ID, o2.ID, o3.ID, o4.ID}, id) {
			ours = append(ours, id)
		}
	}
	if !slices.Equal(ours, []string{o1.ID, o2.ID, o3.ID, o4.ID}) {
		t.Errorf("every specialty: %v", ours)
	}
	if _, _, err := s.AwaitingReview(ctx, QueueFilter{AllSpecialties: true}, page.Cursor{ID: "x"}, 10); fault.KindOf(err) != fault.KindInvalid {
		t.Errorf("malformed cursor: %v", err)
	}
}
