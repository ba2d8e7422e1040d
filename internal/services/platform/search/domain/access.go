package domain

import (
	"html"
	"slices"
	"strings"
	"unicode"

	"github.com/secondopinion/platform/api/vocab"
)

// Role is who searches, as far as search tells them apart.
type Role int

const (
	Patient Role = iota + 1
	Professional
	Admin
)

// Viewer is a caller of the search: their role and their subject id.
type Viewer struct {
	Role Role
	ID   string
}

// Access is what a viewer sees of a case.
type Access int

const (
	// None: the case is not in the viewer's results at all.
	None Access = iota
	// DeIdentified: the case's codes (number, specialty, urgency,
	// language, age band, status, times) are shown and matched; its text
	// is neither matched nor shown.
	DeIdentified
	// Full: its title and question are matched and shown too.
	Full
)

// AssigneeReads are the statuses in which the professional a case is
// assigned to reads it: from the claim, through peer review, and after
// completion (case-management's rule, which its GET of a case applies).
var AssigneeReads = []vocab.CaseStatus{vocab.Assigned, vocab.UnderReview, vocab.Completed}

// Access is what v sees of c:
//   - an admin sees every case in full;
//   - a patient sees their own cases in full, and nothing of others';
//   - a professional sees in full the cases assigned to them while the
//     assignee reads them (AssigneeReads), and de-identified the cases
//     waiting in the pool whose patient consents to share them with
//     professionals, as case-assignment offers them;
//   - anyone else sees nothing.
func (v Viewer) Access(c Case) Access {
	switch v.Role {
	case Admin:
		return Full
	case Patient:
		if v.ID != "" && c.PatientID == v.ID {
			return Full
		}
	case Professional:
		if v.ID != "" && c.AssigneeID == v.ID && slices.Contains(AssigneeReads, c.Status) {
			return Full
		}
		if c.InPool() {
			return DeIdentified
		}
	}
	return None
}

// InPool reports whether c waits in the pool, visible de-identified to
// professionals: it entered the pool, still waits there, and its patient
// consents to share it.
func (c Case) InPool() bool {
	return c.Status == vocab.AwaitingAssignment && !c.PooledAt.IsZero() && c.Shared
}

// MaxTerms bounds the terms of one query.
const MaxTerms = 12

// Terms are the words of a query as both engines match them: runs of
// letters and digits, lower case, at most MaxTerms of them. Everything
// else separates words, so no operator of either engine's query syntax
// reaches it: a case number "EU-2026-7KQ2ZD" is the terms eu, 2026 and
// 7kq2zd, which the engines' tokenisers make of it too.
func Terms(q string) []string {
	var out []string
	for _, w := range words(q) {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
		if len(out) == MaxTerms {
			break
		}
	}
	return out
}

// words splits s into runs of letters and digits, lower case.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// The engines mark a snippet's matches with these two characters of
// Unicode's private use area, which Clean removes from every text the
// index receives, so that Highlight can escape the text and only then
// turn the marks into tags.
const (
	MarkStart = "\ue000"
	MarkStop  = "\ue001"
)

// Clean removes the snippet marks from a text to index.
func Clean(s string) string {
	return strings.NewReplacer(MarkStart, "", MarkStop, "").Replace(s)
}

// Highlight is a snippet as HTML: the text escaped, its marked matches in
// <mark> elements.
func Highlight(snippet string) string {
	return strings.NewReplacer(MarkStart, "<mark>", MarkStop, "</mark>").Replace(html.EscapeString(snippet))
}
