// Package domain holds search's rules in plain Go: how the events of a
// case fold into its row of the index whatever their order (Apply), who
// sees what of a row (Viewer.Access), and how a query's text becomes the
// terms both engines match alike (Terms).
package domain

import (
	"slices"
	"strings"
	"time"

	"github.com/secondopinion/platform/api/vocab"
)

// Case is the index's row of a case without its text: ids, codes and
// times, what every event tells. PatientID is never shown to a
// professional; no name of anyone is ever held.
type Case struct {
	ID, PatientID, Number string
	Specialty, Urgency    string
	// Language and AgeBand are the de-identified fields a case gets when
	// it enters the pool (case.awaiting_assignment), as of PooledAt.
	Language, AgeBand string
	PooledAt          time.Time
	Status            vocab.CaseStatus
	StatusAt          time.Time
	// AssigneeID is the professional the latest assignment gave the case
	// to, "" when none is running; AssignmentAt orders the assignments'
	// starts and ends.
	AssigneeID, AssignmentID string
	AssignmentAt             time.Time
	// Shared is the patient's consent to share their cases with
	// professionals, which the store keeps from the consent events.
	Shared               bool
	CreatedAt, UpdatedAt time.Time
}

// Change is what one event says of a case. Empty fields say nothing.
type Change struct {
	At                 time.Time
	PatientID, Number  string
	Specialty, Urgency string
	Language, AgeBand  string // case.awaiting_assignment only
	Status             vocab.CaseStatus
	Assignment         *Assignment
}

// Assignment is case.assigned, or with Ended the end of an assignment
// (assignment.released, assignment.expired).
type Assignment struct {
	ID, ProfessionalID string
	Ended              bool
}

// Apply folds ch into c. The result does not depend on the order the
// changes arrive in, nor on one arriving twice: each piece of state keeps
// the time it is from, and an older change does not overwrite a newer
// one. This is what lets a rebuild run beside the live consumer, and a
// retried event arrive after later ones.
func (c Case) Apply(ch Change) Case {
	c.Number = or(c.Number, ch.Number)
	c.PatientID = or(c.PatientID, ch.PatientID)
	c.Specialty = or(c.Specialty, ch.Specialty)
	c.Urgency = or(c.Urgency, ch.Urgency)
	// A case re-enters the pool after an assignment ends, its patient
	// maybe a year older: the latest entry's fields hold.
	if (ch.Language != "" || ch.AgeBand != "") && !ch.At.Before(c.PooledAt) {
		c.Language, c.AgeBand, c.PooledAt = or(c.Language, ch.Language), or(c.AgeBand, ch.AgeBand), ch.At
	}
	if ch.Status != "" && newer(ch.At, rank(ch.Status), c.StatusAt, rank(c.Status)) {
		c.Status, c.StatusAt = ch.Status, ch.At
	}
	if a := ch.Assignment; a != nil {
		// At the same instant, the end of the running assignment is the
		// later of the two; any other change needs a later time.
		if ch.At.After(c.AssignmentAt) || c.AssignmentAt.IsZero() ||
			(ch.At.Equal(c.AssignmentAt) && a.Ended && a.ID == c.AssignmentID) {
			c.AssignmentID, c.AssignmentAt = a.ID, ch.At
			c.AssigneeID = a.ProfessionalID
			if a.Ended {
				c.AssigneeID = ""
			}
		}
	}
	// A case's first event is case.created, so the earliest time seen is
	// its creation even when that event is still on its way.
	if c.CreatedAt.IsZero() || ch.At.Before(c.CreatedAt) {
		c.CreatedAt = ch.At
	}
	if ch.At.After(c.UpdatedAt) {
		c.UpdatedAt = ch.At
	}
	return c
}

// newer reports whether a status of rank r at t replaces one of rank cur
// at curAt: a later one does, and of two at the same instant (the steps
// of one change share their time) the one further in the lifecycle.
func newer(t time.Time, r int, curAt time.Time, cur int) bool {
	if cur < 0 {
		return true
	}
	return t.After(curAt) || (t.Equal(curAt) && r >= cur)
}

// rank is s's place in the lifecycle, -1 for none.
func rank(s vocab.CaseStatus) int { return slices.Index(vocab.CaseStatuses, s) }

func or(cur, next string) string {
	if next != "" {
		return next
	}
	return cur
}

// Words are the de-identified fields of c as text to match: its number,
// specialty, urgency, language, age band and status, split into words as
// Terms splits a query ("EU-2026-7KQ2ZD" is "eu 2026 7kq2zd", whose
// parts PostgreSQL's parser would otherwise read as the signed numbers
// -2026; "GENERAL_MEDICINE" is "general medicine").
func (c Case) Words() string {
	return strings.Join(words(strings.Join([]string{c.Number, c.Specialty, c.Urgency, c.Language, c.AgeBand, string(c.Status)}, " ")), " ")
}

// Consent is a patient's consent to share their cases with professionals.
type Consent struct {
	Granted  bool
	Revision int // 0 when the event carried none
	At       time.Time
}

// Before reports whether c is an earlier state of the consent than next:
// by revision when both carry one, else by time. A state is not before
// itself, so a redelivered event changes nothing.
func (c Consent) Before(next Consent) bool {
	if c.Revision > 0 && next.Revision > 0 {
		return next.Revision > c.Revision
	}
	return next.At.After(c.At)
}
