package domain

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/problem"
)

func field(err error) string {
	if p, ok := problem.As(err); ok {
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
		"summary too long":       {Content{Summary: long(MaxSummary + 1)}, "body.summary"},
		"summary at limit":       {Content{Summary: long(MaxSummary)}, ""},
		"answer too long":        {Content{Answer: long(MaxAnswer + 1)}, "body.answer"},
		"bad confidence":         {Content{Confidence: "SURE"}, "body.confidence"},
		"bad code":               {Content{Diagnoses: []Diagnosis{{"I20.9", "a"}, {"angina", "b"}}}, "body.diagnoses[1].code"},
		"no description":         {Content{Diagnoses: []Diagnosis{{"I20.9", " "}}}, "body.diagnoses[0].description"},
		"too many diagnoses":     {Content{Diagnoses: make([]Diagnosis, MaxDiagnoses+1)}, "body.diagnoses"},
		"empty recommendation":   {Content{Recommendations: []string{"rest", ""}}, "body.recommendations[1]"},
		"too many references":    {Content{References: many(MaxReferences + 1)}, "body.references"},
		"long reference":         {Content{References: []string{long(MaxReference + 1)}}, "body.references[0]"},
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
		status    int
	}{
		"assignee before deadline":  {a, "pro", now, false, 0},
		"assignee at deadline":      {a, "pro", a.Deadline, false, http.StatusConflict},
		"assignee after deadline":   {a, "pro", now.Add(2 * time.Hour), false, http.StatusConflict},
		"delivered after deadline":  {a, "pro", now.Add(2 * time.Hour), true, 0},
		"other professional":        {a, "other", now, false, http.StatusNotFound},
		"ended assignment":          {ended, "pro", now, false, http.StatusNotFound},
		"ended, delivered":          {ended, "pro", now, true, http.StatusNotFound},
		"no assignment":             {Assignment{}, "pro", now, false, http.StatusNotFound},
		"no assignment, no subject": {Assignment{Active: true, Deadline: a.Deadline}, "", now, false, http.StatusNotFound},
	} {
		err := MayWrite(tc.a, tc.who, tc.at, tc.delivered)
		if got := statusOf(err); got != tc.status {
			t.Errorf("%s: %v (%d), want %d", name, err, got, tc.status)
		}
	}
}

func statusOf(err error) int {
	if err == nil {
		return 0
	}
	return problem.StatusOf(err)
}

func TestSubmit(t *testing.T) {
	for name, tc := range map[string]struct {
		from   Status
		level  string
		to     Status
		review bool
		status int
	}{
		"junior":        {Draft, "JUNIOR", Submitted, true, 0},
		"senior":        {Draft, "SENIOR", Approved, false, 0},
		"expert":        {Draft, "EXPERT", Approved, false, 0},
		"distinguished": {Draft, "DISTINGUISHED", Approved, false, 0},
		"unknown level": {Draft, "", Submitted, true, 0},
		"submitted":     {Submitted, "SENIOR", "", false, http.StatusConflict},
		"approved":      {Approved, "JUNIOR", "", false, http.StatusConflict},
	} {
		to, review, err := tc.from.Submit(complete(), tc.level)
		if to != tc.to || review != tc.review || statusOf(err) != tc.status {
			t.Errorf("%s: %s %v %v", name, to, review, err)
		}
	}
	if _, _, err := Draft.Submit(Content{Summary: "s"}, "SENIOR"); statusOf(err) != http.StatusUnprocessableEntity {
		t.Errorf("incomplete: %v", err)
	}
}

func TestEdit(t *testing.T) {
	if err := Draft.Edit(); err != nil {
		t.Error(err)
	}
	for _, s := range []Status{Submitted, Approved} {
		if err := s.Edit(); statusOf(err) != http.StatusConflict {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func TestCanReview(t *testing.T) {
	ok := Reviewer{ID: "rev", Status: "VERIFIED", Level: "SENIOR", Specialties: []string{"ONCOLOGY", "CARDIOLOGY"}}
	with := func(edit func(*Reviewer)) Reviewer {
		r := ok
		edit(&r)
		return r
	}
	for name, tc := range map[string]struct {
		r         Reviewer
		specialty string
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
		status   int
	}{
		"approve":                     {Submitted, Approve, "", Approved, 0},
		"approve with comments":       {Submitted, Approve, "fine", Approved, 0},
		"request changes":             {Submitted, RequestChanges, "add a reference", Draft, 0},
		"request changes, no comment": {Submitted, RequestChanges, " ", "", http.StatusUnprocessableEntity},
		"bad decision":                {Submitted, "MAYBE", "", "", http.StatusUnprocessableEntity},
		"long comments":               {Submitted, Approve, strings.Repeat("x", MaxComments+1), "", http.StatusUnprocessableEntity},
		"draft":                       {Draft, Approve, "", "", http.StatusConflict},
		"approved":                    {Approved, RequestChanges, "x", "", http.StatusConflict},
	} {
		to, _, err := tc.from.Review(tc.decision, tc.comments)
		if to != tc.to || statusOf(err) != tc.status {
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
		code     int
	}{
		"first, at once": {Approved, 0, approved, "Why?", 0},
		"third":          {Approved, 2, approved.Add(24 * time.Hour), "Why?", 0},
		"fourth":         {Approved, 3, approved.Add(24 * time.Hour), "Why?", http.StatusConflict},
		"last instant":   {Approved, 0, approved.Add(QuestionWindow), "Why?", 0},
		"after 30 days":  {Approved, 0, approved.Add(QuestionWindow + time.Second), "Why?", http.StatusConflict},
		"not approved":   {Submitted, 0, approved, "Why?", http.StatusNotFound},
		"draft":          {Draft, 0, approved, "Why?", http.StatusNotFound},
		"empty question": {Approved, 0, approved, "  ", http.StatusUnprocessableEntity},
		"long question":  {Approved, 0, approved, strings.Repeat("q", MaxQuestion+1), http.StatusUnprocessableEntity},
	} {
		q, err := MayAsk(tc.status, approved, tc.asked, tc.at, tc.question)
		if statusOf(err) != tc.code || err == nil && q != strings.TrimSpace(tc.question) {
			t.Errorf("%s: %q %v, want %d", name, q, err, tc.code)
		}
	}
}

func TestAnswerText(t *testing.T) {
	if a, err := AnswerText(" Yes. ", false); a != "Yes." || err != nil {
		t.Errorf("answer: %q %v", a, err)
	}
	if _, err := AnswerText("Yes.", true); statusOf(err) != http.StatusConflict {
		t.Errorf("twice: %v", err)
	}
	if _, err := AnswerText("", false); field(err) != "body.answer" {
		t.Errorf("empty: %v", err)
	}
}
