package domain

import (
	"errors"
	"slices"
	"testing"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// want is the expected outcome of a trigger: the statuses passed through,
// nothing (ignored), or a refusal.
type want struct {
	path    []Status
	refused bool
}

var (
	ign = want{}
	ref = want{refused: true}
)

func to(s ...Status) want { return want{path: s} }

func check(t *testing.T, name string, from Status, steps []Step, err error, w want) {
	t.Helper()
	if w.refused {
		if !errors.Is(err, ErrInvalidTransition) || fault.KindOf(err) != fault.KindConflict {
			t.Errorf("%s on %s: got steps %v err %v, want a 409 refusal", name, from, steps, err)
		}
		return
	}
	if err != nil {
		t.Errorf("%s on %s: unexpected error %v", name, from, err)
		return
	}
	var path []Status
	at := from
	for _, s := range steps {
		if s.From != at {
			t.Errorf("%s on %s: step %v does not start at %s", name, from, s, at)
		}
		path, at = append(path, s.To), s.To
	}
	if !slices.Equal(path, w.path) {
		t.Errorf("%s on %s: went %v, want %v", name, from, path, w.path)
	}
}

// every makes sure a table names all statuses, so no pair goes untested.
func every(t *testing.T, name string, table map[Status]want) {
	t.Helper()
	for _, s := range Statuses {
		if _, ok := table[s]; !ok {
			t.Fatalf("%s: table misses status %s", name, s)
		}
	}
}

func TestCommands(t *testing.T) {
	allRefused := func(except Status, w want) map[Status]want {
		m := map[Status]want{}
		for _, s := range Statuses {
			m[s] = ref
		}
		m[except] = w
		return m
	}
	cancel := map[Status]want{}
	for _, s := range Statuses {
		cancel[s] = to(Cancelled)
	}
	cancel[Completed], cancel[Cancelled] = ref, ref

	tests := []struct {
		name  string
		p     Pipeline
		cmd   func(Pipeline, Status) ([]Step, error)
		table map[Status]want
	}{
		{"submit/none", Pipeline{}, Pipeline.Submit, allRefused(Draft, to(Submitted, AwaitingAssignment))},
		{"submit/ai", Pipeline{AI: true}, Pipeline.Submit, allRefused(Draft, to(Submitted))},
		{"submit/payment", Pipeline{Payment: true}, Pipeline.Submit, allRefused(Draft, to(AwaitingPayment))},
		{"submit/both", Pipeline{Payment: true, AI: true}, Pipeline.Submit, allRefused(Draft, to(AwaitingPayment))},
		{"cancel", Pipeline{}, Pipeline.Cancel, cancel},
	}
	for _, tt := range tests {
		every(t, tt.name, tt.table)
		for from, w := range tt.table {
			steps, err := tt.cmd(tt.p, from)
			check(t, tt.name, from, steps, err, w)
		}
	}
}

func TestEvents(t *testing.T) {
	// Columns: DRAFT, AWAITING_PAYMENT, SUBMITTED, AI_PROCESSING,
	// AWAITING_ASSIGNMENT, ASSIGNED, UNDER_REVIEW, COMPLETED, CANCELLED, ORPHANED.
	row := func(ws ...want) map[Status]want {
		m := map[Status]want{}
		for i, s := range Statuses {
			m[s] = ws[i]
		}
		return m
	}
	toPool := to(AwaitingAssignment)
	tests := []struct {
		name  string
		p     Pipeline
		e     Event
		table map[Status]want
	}{
		{"payment.succeeded/none", Pipeline{}, Event{Type: "payment.succeeded"},
			row(ref, to(Submitted, AwaitingAssignment), ign, ign, ign, ign, ign, ign, ign, ign)},
		{"payment.succeeded/ai", Pipeline{Payment: true, AI: true}, Event{Type: "payment.succeeded"},
			row(ref, to(Submitted), ign, ign, ign, ign, ign, ign, ign, ign)},
		{"ai.analysis.started", Pipeline{AI: true}, Event{Type: "ai.analysis.started"},
			row(ref, ref, to(AIProcessing), ign, ign, ign, ign, ign, ign, ign)},
		{"ai.analysis.completed", Pipeline{AI: true}, Event{Type: "ai.analysis.completed"},
			row(ref, ref, toPool, toPool, ign, ign, ign, ign, ign, toPool)},
		{"case.assigned", Pipeline{}, Event{Type: "case.assigned"},
			row(ref, ref, ref, ref, to(Assigned), ign, ign, ign, ign, ign)},
		{"assignment.expired", Pipeline{}, Event{Type: "assignment.expired"},
			row(ref, ref, ref, ref, ign, toPool, ign, ign, ign, ign)},
		{"assignment.released", Pipeline{}, Event{Type: "assignment.released"},
			row(ref, ref, ref, ref, ign, toPool, ign, ign, ign, ign)},
		{"opinion.submitted/review", Pipeline{}, Event{Type: "opinion.submitted", ReviewRequired: true},
			row(ref, ref, ref, ref, ref, to(UnderReview), ign, ign, ign, ign)},
		{"opinion.submitted/no review", Pipeline{}, Event{Type: "opinion.submitted"},
			row(ign, ign, ign, ign, ign, ign, ign, ign, ign, ign)},
		{"opinion.approved", Pipeline{}, Event{Type: "opinion.approved"},
			row(ref, ref, ref, ref, ref, to(Completed), to(Completed), ign, ign, ign)},
		{"case.orphaned", Pipeline{AI: true}, Event{Type: "case.orphaned"},
			row(ign, ign, to(Orphaned), to(Orphaned), ign, ign, ign, ign, ign, ign)},
		// Without the AI step a case passed the AI's statuses at
		// submission: a stray event of the AI changes nothing.
		{"ai.analysis.started/no ai", Pipeline{}, Event{Type: "ai.analysis.started"},
			row(ign, ign, ign, ign, ign, ign, ign, ign, ign, ign)},
		{"ai.analysis.completed/no ai", Pipeline{Payment: true}, Event{Type: "ai.analysis.completed"},
			row(ign, ign, ign, ign, ign, ign, ign, ign, ign, ign)},
		{"case.orphaned/no ai", Pipeline{}, Event{Type: "case.orphaned"},
			row(ign, ign, ign, ign, ign, ign, ign, ign, ign, ign)},
		{"payment.refunded", Pipeline{}, Event{Type: "payment.refunded"},
			row(to(Cancelled), to(Cancelled), to(Cancelled), to(Cancelled), to(Cancelled), to(Cancelled), to(Cancelled), ign, ign, to(Cancelled))},
		{"unknown", Pipeline{}, Event{Type: "patient.updated"},
			row(ign, ign, ign, ign, ign, ign, ign, ign, ign, ign)},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.e.Type] = true
		for from, w := range tt.table {
			steps, err := tt.p.On(from, tt.e)
			check(t, tt.name, from, steps, err, w)
		}
	}
	for _, typ := range EventTypes() {
		if !covered[typ] {
			t.Errorf("rule %s has no test row", typ)
		}
	}
}

func TestOpen(t *testing.T) {
	for _, s := range Statuses {
		if got, want := s.Open(), s != Completed && s != Cancelled; got != want {
			t.Errorf("%s.Open() = %v", s, got)
		}
	}
}

func TestAssigneeMayRead(t *testing.T) {
	may := map[Status]bool{Assigned: true, UnderReview: true, Completed: true}
	for _, s := range []Status{Draft, AwaitingPayment, Submitted, AIProcessing, AwaitingAssignment, Assigned, UnderReview, Completed, Cancelled, Orphaned} {
		if AssigneeMayRead(s) != may[s] {
			t.Errorf("%s: the assignee may read: %v, want %v", s, !may[s], may[s])
		}
	}
}

func TestPipelineFromConfiguration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Pipeline
	}{
		{"", Pipeline{}}, {"ai", Pipeline{AI: true}}, {" payment , AI ", Pipeline{Payment: true, AI: true}}, {"payment", Pipeline{Payment: true}},
	} {
		var p Pipeline
		if err := p.UnmarshalText([]byte(c.in)); err != nil || p != c.want {
			t.Errorf("%q: %+v, %v", c.in, p, err)
		}
		var back Pipeline
		if err := back.UnmarshalText([]byte(p.String())); err != nil || back != p {
			t.Errorf("%q does not read back: %+v", p.String(), back)
		}
	}
	var p Pipeline
	if err := p.UnmarshalText([]byte("ai,review")); err == nil {
		t.Error("an unknown step was accepted")
	}
}
