package domain

import (
	"errors"
	"slices"
	"strings"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// Review decisions.
const (
	Approve        = "APPROVE"
	RequestChanges = "REQUEST_CHANGES"
)

// Decisions lists the review decisions.
var Decisions = []string{Approve, RequestChanges}

// MaxComments bounds a reviewer's comments.
const MaxComments = 2000

// VerifiedStatus is a professional's status once credentialing verified
// them.
const VerifiedStatus = "VERIFIED"

// Reviewer is what the review rule needs to know of a professional.
type Reviewer struct {
	ID          string
	Status      string // PENDING, VERIFIED or SUSPENDED
	Level       vocab.Level
	Specialties []vocab.Specialty
}

// Reasons a professional may not review an opinion.
var (
	ErrOwnOpinion     = errors.New("an author may not review their own opinion")
	ErrNotVerified    = errors.New("the reviewer is not verified")
	ErrLevelTooLow    = errors.New("the reviewer's level is below SENIOR")
	ErrOtherSpecialty = errors.New("the reviewer does not practise the case's specialty")
)

// CanReview decides whether r may review an opinion written by authorID
// for a case of specialty: a verified professional of level SENIOR or
// higher practising the specialty, who is not the author.
func CanReview(r Reviewer, authorID string, specialty vocab.Specialty) error {
	if r.ID == "" || r.ID == authorID {
		return ErrOwnOpinion
	}
	if err := r.eligible(); err != nil {
		return err
	}
	if specialty == "" || !slices.Contains(r.Specialties, specialty) {
		return ErrOtherSpecialty
	}
	return nil
}

// eligible is the part of the review rule about r alone: verified, of
// level SENIOR or higher.
func (r Reviewer) eligible() error {
	switch {
	case r.Status != VerifiedStatus:
		return ErrNotVerified
	case !r.Level.AtLeast(vocab.Senior):
		return ErrLevelTooLow
	}
	return nil
}

// ReviewableSpecialties are the specialties of the cases whose opinions r
// may review, other people's: r's own when r is eligible, else none. It
// is CanReview for every specialty at once, for the review queue.
func (r Reviewer) ReviewableSpecialties() []vocab.Specialty {
	if r.ID == "" || r.eligible() != nil {
		return nil
	}
	var out []vocab.Specialty
	for _, s := range r.Specialties {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Review applies a reviewer's decision to an opinion in s: APPROVE makes
// it APPROVED, REQUEST_CHANGES sends it back to DRAFT with the comments
// (required then, so the author knows what to change). It returns the
// trimmed comments.
func (s Status) Review(decision, comments string) (Status, string, error) {
	comments = strings.TrimSpace(comments)
	if err := maxLen("comments", comments, MaxComments); err != nil {
		return "", "", err
	}
	var to Status
	switch decision {
	case Approve:
		to = Approved
	case RequestChanges:
		if comments == "" {
			return "", "", fault.Invalid("comments", "say what to change")
		}
		to = Draft
	default:
		return "", "", fault.Invalid("decision", "must be one of %s", strings.Join(Decisions, ", "))
	}
	if s != Submitted {
		return "", "", fault.Conflict("Opinion not awaiting review", "the opinion is "+string(s))
	}
	return to, comments, nil
}
