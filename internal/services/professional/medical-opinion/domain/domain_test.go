package domain

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

func field(err error) string {
	if p, ok := fault.As(err); ok {
		return p.Field
	}
	return ""
}

func complete() Content {
	return Content{Summary: "Stable angina", Diagnoses: []Diagnosis{{"I20.9", "Angina pectoris"}},
		Confidence: "HIGH", Answer: "No surgery is needed now."}
}

func TestValidate(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "item"
		}
		return out
	}
	for name, tc := range map[string]struct {
		in    Content
		field string
	}{
		"empty draft":            {Content{}, ""},
		"complete":               {complete(), ""},
		"summary too long":       {Content{Summary: long(MaxSummary + 1)}, "summary"},
		"summary at limit":       {Content{Summary: long(MaxSummary)}, ""},
		"answer too long":        {Content{Answer: long(MaxAnswer + 1)}, "answer"},
		"bad confidence":         {Content{Confidence: "SURE"}, "confidence"},
		"bad code":               {Content{Diagnoses: []Diagnosis{{"I20.9", "a"}, {"angina", "b"}}}, "diagnoses[1].code"},
		"no description":         {Content{Diagnoses: []Diagnosis{{"I20.9", " "}}}, "diagnoses[0].description"},
		"too many diagnoses":     {Content{Diagnoses: make([]Diagnosis, MaxDiagnoses+1)}, "diagnoses"},
		"empty recommendation":   {Content{Recommendations: []string{"rest", ""}}, "recommendations[1]"},
		"too many references":    {Content{References: many(MaxReferences + 1)}, "references"},
		"long reference":         {Content{References: []string{long(MaxReference + 1)}}, "references[0]"},
		"recommendations at max": {Content{Recommendations: many(MaxRecommendations)}, ""},
	} {
		_, err := tc.in.Validate()
		if tc.field == "" && err != nil || tc.field != "" && field(err) != tc.field {
			t.Errorf("%s: %v, want field %q", name, err, tc.field)
		}
	}
	c, err := Content{Summary: "  s ", Diagnoses: []Diagnosis{{" c34.9 ", " Lung cancer "}}, Recommendations: []string{" CT "}}.Validate()
	if err != nil || c.Summary != "s" || c.Diagnoses[0] != (Diagnosis{"C34.9", "Lung cancer"}) || c.Recommendations[0] != "CT" {
		t.Errorf("normalised: %+v %v", c, err)
	}
}

func TestComplete(t *testing.T) {
	for name, tc := range map[string]struct {
		edit  func(*Content)
		field string
	}{
		"complete":      {func(*Content) {}, ""},
		"no summary":    {func(c *Content) { c.Summary = "" }, "opinion.summary"},
		"no diagnosis":  {func(c *Content) { c.Diagnoses = nil }, "opinion.diagnoses"},
		"no answer":     {func(c *Content) { c.Answer = "" }, "opinion.answer"},
		"no confidence": {func(c *Content) { c.Confidence = "" }, "opinion.confidence"},
	} {
		c := complete()
		tc.edit(&c)
		if err := c.Complete(); tc.field == "" && err != nil || tc.field != "" && field(err) != tc.field {
			t.Errorf("%s: %v, want field %q", name, err, tc.field)
		}
	}
}

func TestMayWrite(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	a := Assignment{ID: "a", CaseID: "c", ProfessionalID: "pro", Deadline: now.Add(time.Hour), Active: true}
	ended := a
	ended.Active = false
	for name, tc := range map[string]struct {
		a         Assignment
		who       string
		at        time.Time
		delivered bool
		kind      fault.Kind
	}{
		"assignee before deadline":  {a, "pro", now, false, noFault},
		"assignee at deadline":      {a, "pro", a.Deadline, false, fault.KindConflict},
		"assignee after deadline":   {a, "pro", now.Add(2 * time.Hour), false, fault.KindConflict},
		"delivered after deadline":  {a, "pro", now.Add(2 * time.Hour), true, noFault},
		"other professional":        {a, "other", now, false, fault.KindNotFound},
		"ended assignment":          {ended, "pro", now, false, fault.KindNotFound},
		"ended, delivered":          {ended, "pro", now, true, fault.KindNotFound},
		"no assignment":             {Assignment{}, "pro", now, false, fault.KindNotFound},
		"no assignment, no subject": {Assignment{Active: true, Deadline: a.Deadline}, "", now, false, fault.KindNotFound},
	} {
		err := MayWrite(tc.a, tc.who, tc.at, tc.delivered)
		if got := kindOf(err); got != tc.kind {
			t.Errorf("%s: %v (kind %d), want kind %d", name, err, got, tc.kind)
		}
	}
}

// noFault is kindOf's answer for no error at all.
const noFault fault.Kind = -1

// kindOf is the kind of err, noFault for nil.
func kindOf(err error) fault.Kind {
	if err == nil {
		return noFault
	}
	return fault.KindOf(err)
}

func TestSubmit(t *testing.T) {
	for name, tc := range map[string]struct {
		from   Status
		level  vocab.Level
		to     Status
		review bool
		kind   fault.Kind
	}{
		"junior":        {Draft, "JUNIOR", Submitted, true, noFault},
		"senior":        {Draft, "SENIOR", Approved, false, noFault},
		"expert":        {Draft, "EXPERT", Approved, false, noFault},
		"distinguished": {Draft, "DISTINGUISHED", Approved, false, noFault},
		"unknown level": {Draft, "", Submitted, true, noFault},
		"submitted":     {Submitted, "SENIOR", "", false, fault.KindConflict},
		"approved":      {Approved, "JUNIOR", "", false, fault.KindConflict},
	} {
		to, review, err := tc.from.Submit(complete(), tc.level)
		if to != tc.to || review != tc.review || kindOf(err) != tc.kind {
			t.Errorf("%s: %s %v %v", name, to, review, err)
		}
	}
	if _, _, err := Draft.Submit(Content{Summary: "s"}, "SENIOR"); kindOf(err) != fault.KindInvalid {
		t.Errorf("incomplete: %v", err)
	}
}

func TestEdit(t *testing.T) {
	if err := Draft.Edit(); err != nil {
		t.Error(err)
	}
	for _, s := range []Status{Submitted, Approved} {
		if err := s.Edit(); kindOf(err) != fault.KindConflict {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func TestCanReview(t *testing.T) {
	ok := Reviewer{ID: "rev", Status: "VERIFIED", Level: "SENIOR", Specialties: []vocab.Specialty{"ONCOLOGY", "CARDIOLOGY"}}
	with := func(edit func(*Reviewer)) Reviewer {
		r := ok
		edit(&r)
		return r
	}
	for name, tc := range map[string]struct {
		r         Reviewer
		specialty vocab.Specialty
		want      error
	}{
		"senior of the specialty": {ok, "CARDIOLOGY", nil},
		"expert":                  {with(func(r *Reviewer) { r.Level = "EXPERT" }), "ONCOLOGY", nil},
		"distinguished":           {with(func(r *Reviewer) { r.Level = "DISTINGUISHED" }), "ONCOLOGY", nil},
		"the author":              {with(func(r *Reviewer) { r.ID = "author" }), "ONCOLOGY", ErrOwnOpinion},
		"junior":                  {with(func(r *Reviewer) { r.Level = "JUNIOR" }), "ONCOLOGY", ErrLevelTooLow},
		"unknown level":           {with(func(r *Reviewer) { r.Level = "" }), "ONCOLOGY", ErrLevelTooLow},
		"pending":                 {with(func(r *Reviewer) { r.Status = "PENDING" }), "ONCOLOGY", ErrNotVerified},
		"suspended":               {with(func(r *Reviewer) { r.Status = "SUSPENDED" }), "ONCOLOGY", ErrNotVerified},
		"other specialty":         {ok, "NEUROLOGY", ErrOtherSpecialty},
		"no specialty":            {with(func(r *Reviewer) { r.Specialties = nil }), "ONCOLOGY", ErrOtherSpecialty},
		"case without specialty":  {ok, "", ErrOtherSpecialty},
	} {
		if err := CanReview(tc.r, "author", tc.specialty); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
		// The queue's view agrees with the rule; the author is left out
		// of their own opinions by the queue's query, not by specialty.
		if tc.want != ErrOwnOpinion && slices.Contains(tc.r.ReviewableSpecialties(), tc.specialty) != (tc.want == nil) {
			t.Errorf("%s: reviewable specialties %v disagree with CanReview", name, tc.r.ReviewableSpecialties())
		}
	}
}

func TestReview(t *testing.T) {
	for name, tc := range map[string]struct {
		from     Status
		decision string
		comments string
		to       Status
		kind     fault.Kind
	}{
		"approve":                     {Submitted, Approve, "", Approved, noFault},
		"approve with comments":       {Submitted, Approve, "fine", Approved, noFault},
		"request changes":             {Submitted, RequestChanges, "add a reference", Draft, noFault},
		"request changes, no comment": {Submitted, RequestChanges, " ", "", fault.KindInvalid},
		"bad decision":                {Submitted, "MAYBE", "", "", fault.KindInvalid},
		"long comments":               {Submitted, Approve, strings.Repeat("x", MaxComments+1), "", fault.KindInvalid},
		"draft":                       {Draft, Approve, "", "", fault.KindConflict},
		"approved":                    {Approved, RequestChanges, "x", "", fault.KindConflict},
	} {
		to, _, err := tc.from.Review(tc.decision, tc.comments)
		if to != tc.to || kindOf(err) != tc.kind {
			t.Errorf("%s: %s %v", name, to, err)
		}
	}
}

func TestMayAsk(t *testing.T) {
	approved := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		status   Status
		asked    int
		at       time.Time
		question string
		kind     fault.Kind
	}{
		"first, at once": {Approved, 0, approved, "Why?", noFault},
		"third":          {Approved, 2, approved.Add(24 * time.Hour), "Why?", noFault},
		"fourth":         {Approved, 3, approved.Add(24 * time.Hour), "Why?", fault.KindConflict},
		"last instant":   {Approved, 0, approved.Add(QuestionWindow), "Why?", noFault},
		"after 30 days":  {Approved, 0, approved.Add(QuestionWindow + time.Second), "Why?", fault.KindConflict},
		"not approved":   {Submitted, 0, approved, "Why?", fault.KindNotFound},
		"draft":          {Draft, 0, approved, "Why?", fault.KindNotFound},
		"empty question": {Approved, 0, approved, "  ", fault.KindInvalid},
		"long question":  {Approved, 0, approved, strings.Repeat("q", MaxQuestion+1), fault.KindInvalid},
	} {
		q, err := MayAsk(tc.status, approved, tc.asked, tc.at, tc.question)
		if kindOf(err) != tc.kind || err == nil && q != strings.TrimSpace(tc.question) {
			t.Errorf("%s: %q %v, want kind %d", name, q, err, tc.kind)
		}
	}
}

func TestAnswerText(t *testing.T) {
	if a, err := AnswerText(" Yes. ", false); a != "Yes." || err != nil {
		t.Errorf("answer: %q %v", a, err)
	}
	if _, err := AnswerText("Yes.", true); kindOf(err) != fault.KindConflict {
		t.Errorf("twice: %v", err)
	}
	if _, err := AnswerText("", false); field(err) != "answer" {
		t.Errorf("empty: %v", err)
	}
}
