package domain

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// The assigned professional's decisions on a finding of the AI
// pre-analysis.
const (
	FindingAccepted = "ACCEPTED" // kept in the AI's words
	FindingEdited   = "EDITED"   // kept in the professional's words
	FindingRejected = "REJECTED" // dropped: the patient never reads it
)

// FindingDecisions lists the decisions on a finding.
var FindingDecisions = []string{FindingAccepted, FindingEdited, FindingRejected}

// Bounds of the AI review kept with an opinion: a label is as long as
// ai-orchestration makes one, and the professional's wording of a finding
// as long as one of their recommendations.
const (
	MaxFindings     = 200
	MaxFindingLabel = 500
	MaxFindingText  = 1000
)

// findingID is ai-orchestration's form of a finding's id.
var findingID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,100}$`)

// Citation is where the pre-analysis read a finding: byte offsets into
// the extracted text of one page of one of the case's records.
type Citation struct {
	DocumentID string `json:"documentId"`
	Page       int    `json:"page"`  // from 1
	Start      int    `json:"start"` // from 0
	End        int    `json:"end"`   // past the last byte, after Start
}

// Finding is the professional's decision on one finding of the AI
// pre-analysis, with the finding as the pre-analysis stated it.
type Finding struct {
	ID       string   `json:"findingId"`
	Label    string   `json:"label"` // the AI's words
	Decision string   `json:"decision"`
	Text     string   `json:"text,omitempty"` // the professional's words, EDITED only
	Citation Citation `json:"citation"`
}

// ReviewedFinding is a finding as the patient reads it: one the
// professional kept, in the words they kept it in.
type ReviewedFinding struct {
	Text     string
	Citation Citation
}

// Reviewed returns the findings the professional kept, in order: an
// ACCEPTED one in the AI's words, an EDITED one in the professional's.
// A REJECTED finding, or one of a decision it does not know, is left
// out: the patient never reads AI output no professional vouched for.
func Reviewed(fs []Finding) []ReviewedFinding {
	out := []ReviewedFinding{}
	for _, f := range fs {
		switch f.Decision {
		case FindingAccepted:
			out = append(out, ReviewedFinding{f.Label, f.Citation})
		case FindingEdited:
			out = append(out, ReviewedFinding{f.Text, f.Citation})
		}
	}
	return out
}

// validFindings returns fs trimmed, with document ids in their canonical
// form, or the first field at fault. Details never echo the input.
func validFindings(fs []Finding) ([]Finding, error) {
	if len(fs) > MaxFindings {
		return nil, fault.Invalid("aiFindings", "at most %d findings", MaxFindings)
	}
	out := make([]Finding, len(fs))
	for i, f := range fs {
		at := func(name string) string { return fmt.Sprintf("aiFindings[%d].%s", i, name) }
		if !findingID.MatchString(f.ID) {
			return nil, fault.Invalid(at("findingId"), "must be 1 to 100 letters, digits or . _ : -")
		}
		if j := slices.IndexFunc(out[:i], func(g Finding) bool { return g.ID == f.ID }); j >= 0 {
			return nil, fault.Invalid(at("findingId"), "the same finding as aiFindings[%d]: decide each finding once", j)
		}
		f.Label, f.Text = strings.TrimSpace(f.Label), strings.TrimSpace(f.Text)
		if err := required(at("label"), f.Label, MaxFindingLabel); err != nil {
			return nil, err
		}
		switch f.Decision {
		case FindingEdited:
			if err := required(at("text"), f.Text, MaxFindingText); err != nil {
				return nil, err
			}
		case FindingAccepted, FindingRejected:
			if f.Text != "" {
				return nil, fault.Invalid(at("text"), "only an EDITED finding has a text")
			}
		default:
			return nil, fault.Invalid(at("decision"), "must be one of %s", strings.Join(FindingDecisions, ", "))
		}
		var err error
		if f.Citation, err = validCitation(at("citation"), f.Citation); err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

// validCitation checks that c points at a span of a page of a record. It
// cannot check that the record is the case's, or the span within the
// page: the records are medical-records'.
func validCitation(field string, c Citation) (Citation, error) {
	// Only the canonical form: uuid.Parse also takes braces and urn:uuid:.
	id, err := uuid.Parse(c.DocumentID)
	switch {
	case err != nil || len(c.DocumentID) != 36:
		return c, fault.Invalid(field+".documentId", "must be a UUID")
	case c.Page < 1:
		return c, fault.Invalid(field+".page", "pages are numbered from 1")
	case c.Start < 0:
		return c, fault.Invalid(field+".start", "must be 0 or more")
	case c.End <= c.Start:
		return c, fault.Invalid(field+".end", "must be after start")
	}
	c.DocumentID = id.String()
	return c, nil
}
