package domain

import (
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// Status is where an opinion stands.
type Status string

const (
	Draft     Status = "DRAFT"     // the author writes; also after changes were requested
	Submitted Status = "SUBMITTED" // a JUNIOR's opinion awaiting peer review
	Approved  Status = "APPROVED"  // final: the patient reads it
)

// Statuses lists every status.
var Statuses = []Status{Draft, Submitted, Approved}

// ReviewRequired reports whether an opinion by a professional of level
// needs a peer review: below SENIOR it does, and so does an unknown level,
// so that a surprise in the profile never skips the review.
func ReviewRequired(level vocab.Level) bool { return !level.AtLeast(vocab.Senior) }

// Assignment is who may write a case's opinion, until when: the projection
// of case-assignment's events.
type Assignment struct {
	ID             string
	CaseID         string
	ProfessionalID string
	Deadline       time.Time
	Active         bool // false once expired or released
}

// MayWrite decides whether professionalID may write the opinion of a case
// under assignment a at now. Only the professional of the active
// assignment may; anyone else is told there is no such case (as for a
// case they cannot see). The deadline holds until the opinion was first
// submitted: then the assignment is delivered and no longer expires, so
// the author can still answer a reviewer's requested changes.
func MayWrite(a Assignment, professionalID string, now time.Time, delivered bool) error {
	if !a.Active || a.ProfessionalID == "" || a.ProfessionalID != professionalID {
		return fault.NotFound("case")
	}
	if !delivered && !now.Before(a.Deadline) {
		return fault.Conflict("Deadline passed", "the assignment's deadline has passed")
	}
	return nil
}

// Edit is the check before the author changes the content: only a draft
// changes.
func (s Status) Edit() error {
	if s != Draft {
		return fault.Conflict("Opinion not editable", "only a draft opinion can be changed; this one is "+string(s))
	}
	return nil
}

// Submit decides where a submitted draft goes: SUBMITTED for review when
// the author's level requires it, else APPROVED at once.
func (s Status) Submit(c Content, authorLevel vocab.Level) (to Status, reviewRequired bool, err error) {
	if s != Draft {
		return "", false, fault.Conflict("Opinion already submitted", "the opinion is "+string(s))
	}
	if err := c.Complete(); err != nil {
		return "", false, err
	}
	if ReviewRequired(authorLevel) {
		return Submitted, true, nil
	}
	return Approved, false, nil
}
