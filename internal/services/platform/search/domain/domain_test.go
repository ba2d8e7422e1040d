package domain

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/secondopinion/platform/api/vocab"
)

var t0 = time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

// A case's life, in the order its producers emitted it.
func life() []Change {
	return []Change{
		{At: at(0), PatientID: "pat", Number: "EU-2030-AAAAAA", Status: vocab.Draft},
		{At: at(1), Status: vocab.AwaitingPayment},
		// Two steps of one change share their instant.
		{At: at(2), Status: vocab.Submitted, PatientID: "pat", Specialty: "CARDIOLOGY", Urgency: "URGENT"},
		{At: at(2), Status: vocab.AIProcessing},
		{At: at(3), Status: vocab.AwaitingAssignment, Language: "en", AgeBand: "30-39"},
		{At: at(4), Assignment: &Assignment{ID: "as1", ProfessionalID: "pro1"}},
		{At: at(4), Status: vocab.Assigned},
		{At: at(5), Assignment: &Assignment{ID: "as1", ProfessionalID: "pro1", Ended: true}},
		{At: at(5), Status: vocab.AwaitingAssignment, Language: "en", AgeBand: "40-49"},
		{At: at(6), Assignment: &Assignment{ID: "as2", ProfessionalID: "pro2"}},
		{At: at(6), Status: vocab.Assigned},
	}
}

func fold(chs []Change) Case {
	c := Case{ID: "case"}
	for _, ch := range chs {
		c = c.Apply(ch)
	}
	return c
}

func TestApplyInOrder(t *testing.T) {
	c := fold(life())
	want := Case{ID: "case", PatientID: "pat", Number: "EU-2030-AAAAAA", Specialty: "CARDIOLOGY", Urgency: "URGENT",
		Language: "en", AgeBand: "40-49", PooledAt: at(5), Status: vocab.Assigned, StatusAt: at(6),
		AssigneeID: "pro2", AssignmentID: "as2", AssignmentAt: at(6), CreatedAt: at(0), UpdatedAt: at(6)}
	if c != want {
		t.Errorf("folded\n%+v\nwant\n%+v", c, want)
	}
}

// Any order, and any event twice, folds to the same row: what lets a
// retried event come late and a rebuild run beside the live consumer.
func TestApplyOrderProof(t *testing.T) {
	want := fold(life())
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		chs := slices.Clone(life())
		// Some events twice.
		for range rng.IntN(4) {
			chs = append(chs, chs[rng.IntN(len(chs))])
		}
		rng.Shuffle(len(chs), func(a, b int) { chs[a], chs[b] = chs[b], chs[a] })
		if got := fold(chs); got != want {
			t.Fatalf("shuffle %d folded\n%+v\nwant\n%+v", i, got, want)
		}
	}
}

// The steps of one change share their instant: the one further in the
// lifecycle holds, whichever comes last.
func TestApplySameInstant(t *testing.T) {
	a, b := Change{At: at(2), Status: vocab.Submitted}, Change{At: at(2), Status: vocab.AIProcessing}
	for _, chs := range [][]Change{{a, b}, {b, a}} {
		if c := fold(chs); c.Status != vocab.AIProcessing {
			t.Errorf("%v then %v: %s", chs[0].Status, chs[1].Status, c.Status)
		}
	}
}

func TestApplyEndOfAssignmentFirst(t *testing.T) {
	// The release comes before the claim it ends: the claim, older, does
	// not bring the assignee back.
	c := fold([]Change{
		{At: at(5), Assignment: &Assignment{ID: "as1", ProfessionalID: "pro1", Ended: true}},
		{At: at(4), Assignment: &Assignment{ID: "as1", ProfessionalID: "pro1"}},
	})
	if c.AssigneeID != "" {
		t.Errorf("assignee %q after the end of their assignment", c.AssigneeID)
	}
	// At one instant, the end of the running assignment wins.
	c = fold([]Change{
		{At: at(4), Assignment: &Assignment{ID: "as1", ProfessionalID: "pro1", Ended: true}},
		{At: at(4), Assignment: &Assignment{ID: "as1", ProfessionalID: "pro1"}},
	})
	if c.AssigneeID != "" {
		t.Errorf("assignee %q after the end of their assignment at the same instant", c.AssigneeID)
	}
}

func TestWords(t *testing.T) {
	c := Case{Number: "EU-2030-AAAAAA", Specialty: "GENERAL_MEDICINE", Urgency: "URGENT", Language: "de", AgeBand: "80+",
		Status: vocab.AwaitingAssignment, PatientID: "pat", AssigneeID: "pro"}
	if got, want := c.Words(), "eu 2030 aaaaaa general medicine urgent de 80 awaiting assignment"; got != want {
		t.Errorf("words %q, want %q", got, want)
	}
}

func TestConsentBefore(t *testing.T) {
	for _, c := range []struct {
		cur, next Consent
		want      bool
	}{
		{Consent{Revision: 1, At: at(5)}, Consent{Revision: 2, At: at(1)}, true}, // revisions decide over times
		{Consent{Revision: 2, At: at(1)}, Consent{Revision: 1, At: at(5)}, false},
		{Consent{Revision: 2, At: at(1)}, Consent{Revision: 2, At: at(1)}, false}, // the same event again
		{Consent{At: at(1)}, Consent{At: at(2)}, true},                            // without revisions, times decide
		{Consent{At: at(2)}, Consent{Revision: 3, At: at(1)}, false},
	} {
		if got := c.cur.Before(c.next); got != c.want {
			t.Errorf("%+v before %+v: %v, want %v", c.cur, c.next, got, c.want)
		}
	}
}

func TestAccess(t *testing.T) {
	pooled := Case{PatientID: "pat", Status: vocab.AwaitingAssignment, PooledAt: at(1), Shared: true}
	assigned := func(s vocab.CaseStatus) Case {
		return Case{PatientID: "pat", Status: s, AssigneeID: "pro", PooledAt: at(1), Shared: true}
	}
	patient, pro, other := Viewer{Patient, "pat"}, Viewer{Professional, "pro"}, Viewer{Professional, "other"}
	admin := Viewer{Admin, "adm"}
	for _, c := range []struct {
		name string
		v    Viewer
		c    Case
		want Access
	}{
		{"admin, any case", admin, Case{PatientID: "x", Status: vocab.Draft}, Full},
		{"patient, own case", patient, Case{PatientID: "pat", Status: vocab.Draft}, Full},
		{"patient, another's case", patient, Case{PatientID: "x", Status: vocab.Completed}, None},
		{"patient, another's pooled case", Viewer{Patient, "x"}, pooled, None},
		{"patient without id", Viewer{Patient, ""}, Case{}, None},
		{"professional, assigned", pro, assigned(vocab.Assigned), Full},
		{"professional, under review", pro, assigned(vocab.UnderReview), Full},
		{"professional, completed", pro, assigned(vocab.Completed), Full},
		{"professional, assigned but cancelled", pro, assigned(vocab.Cancelled), None},
		{"professional, not theirs", other, assigned(vocab.Assigned), None},
		{"professional, pool", other, pooled, DeIdentified},
		{"professional, pool of the one it was released by", pro, Case{PatientID: "pat", Status: vocab.AwaitingAssignment, PooledAt: at(1), Shared: true}, DeIdentified},
		{"professional, pool without consent to share", other, Case{Status: vocab.AwaitingAssignment, PooledAt: at(1)}, None},
		{"professional, status ahead of the pool entry", other, Case{Status: vocab.AwaitingAssignment, Shared: true}, None},
		{"professional, draft", other, Case{Status: vocab.Draft, Shared: true}, None},
		{"professional without id, case without assignee", Viewer{Professional, ""}, Case{Status: vocab.Assigned}, None},
		{"no role", Viewer{0, "pat"}, Case{PatientID: "pat"}, None},
	} {
		if got := c.v.Access(c.c); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestTerms(t *testing.T) {
	for q, want := range map[string][]string{
		"":                          nil,
		"  Chest PAIN, chest ":      {"chest", "pain"},
		`"a" OR b* NEAR(c) -d {x}:`: {"a", "or", "b", "near", "c", "d", "x"},
		"EU-2026-7KQ2ZD":            {"eu", "2026", "7kq2zd"},
		"Übelkeit naïve":            {"übelkeit", "naïve"},
		"a b c d e f g h i j k l m": {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"},
	} {
		if got := Terms(q); !slices.Equal(got, want) {
			t.Errorf("terms of %q: %q, want %q", q, got, want)
		}
	}
}

func TestHighlight(t *testing.T) {
	text := Clean(`<script>` + MarkStart + `x` + MarkStop + `</script> & "pain"`)
	if got, want := text, `<script>x</script> & "pain"`; got != want {
		t.Fatalf("clean %q, want %q", got, want)
	}
	snippet := "chest " + MarkStart + "pain" + MarkStop + " <b>&"
	if got, want := Highlight(snippet), "chest <mark>pain</mark> &lt;b&gt;&amp;"; got != want {
		t.Errorf("highlight %q, want %q", got, want)
	}
}
