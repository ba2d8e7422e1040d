package medicalopinion

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/domain"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/store"
)

// Event types the service publishes.
const (
	evSubmitted        = "opinion.submitted"
	evChangesRequested = "opinion.changes_requested"
	evApproved         = "opinion.approved"
	evQuestionAsked    = "opinion.question_asked"
	evQuestionAnswered = "opinion.question_answered"
)

// Published payloads carry ids only: an opinion's content, the patient's
// questions and the answers are health data and never leave in an event.
type (
	submittedPayload struct {
		CaseID         string    `json:"caseId"`
		OpinionID      string    `json:"opinionId"`
		ProfessionalID string    `json:"professionalId"`
		ReviewRequired bool      `json:"reviewRequired"`
		Timestamp      time.Time `json:"timestamp"`
	}
	changesRequestedPayload struct {
		CaseID         string    `json:"caseId"`
		OpinionID      string    `json:"opinionId"`
		ProfessionalID string    `json:"professionalId"`
		ReviewerID     string    `json:"reviewerId"`
		Timestamp      time.Time `json:"timestamp"`
	}
	approvedPayload struct {
		CaseID         string    `json:"caseId"`
		OpinionID      string    `json:"opinionId"`
		ProfessionalID string    `json:"professionalId"`
		Timestamp      time.Time `json:"timestamp"`
	}
	questionPayload struct {
		CaseID     string    `json:"caseId"`
		OpinionID  string    `json:"opinionId"`
		QuestionID string    `json:"questionId"`
		Timestamp  time.Time `json:"timestamp"`
	}
)

// events builds events of o's case, keyed by the case so they stay in
// order with the case's other events.
type events struct {
	caseID string
	out    []bus.Event
	err    error
}

func (e *events) add(typ string, payload any) {
	if e.err != nil {
		return
	}
	ev, err := bus.New(Name, typ, e.caseID, payload)
	e.out, e.err = append(e.out, ev), err
}

// write adds the built events to the outbox within tx.
func (e *events) write(ctx context.Context, tx *sql.Tx) error {
	if e.err != nil {
		return e.err
	}
	return outbox.Add(ctx, tx, e.out...)
}

// submitEvents are the events of a submitted opinion: opinion.submitted,
// then opinion.approved when no review is required.
func submitEvents(o store.Opinion, reviewRequired bool) *events {
	e := &events{caseID: o.CaseID}
	e.add(evSubmitted, submittedPayload{o.CaseID, o.ID, o.ProfessionalID, reviewRequired, o.UpdatedAt})
	if o.Status == domain.Approved {
		e.add(evApproved, approvedPayload{o.CaseID, o.ID, o.ProfessionalID, o.UpdatedAt})
	}
	return e
}

// reviewEvents are the events of a reviewed opinion.
func reviewEvents(o store.Opinion) *events {
	e := &events{caseID: o.CaseID}
	if o.Status == domain.Approved {
		e.add(evApproved, approvedPayload{o.CaseID, o.ID, o.ProfessionalID, o.UpdatedAt})
	} else {
		e.add(evChangesRequested, changesRequestedPayload{o.CaseID, o.ID, o.ProfessionalID, o.ReviewerID, o.UpdatedAt})
	}
	return e
}

func questionEvent(typ string, o store.Opinion, questionID string, at time.Time) *events {
	e := &events{caseID: o.CaseID}
	e.add(typ, questionPayload{o.CaseID, o.ID, questionID, at})
	return e
}

// assignmentPayload is what the service reads of case-assignment's
// case.assigned, assignment.expired and assignment.released.
type assignmentPayload struct {
	CaseID         string    `json:"caseId"`
	ProfessionalID string    `json:"professionalId"`
	AssignmentID   string    `json:"assignmentId"`
	Deadline       time.Time `json:"deadline"` // case.assigned only
}

// handlers are the consumed event types: the assignment projection.
func (s *Service) handlers() map[string]outbox.HandlerFunc {
	return map[string]outbox.HandlerFunc{
		"case.assigned":       s.onAssigned,
		"assignment.expired":  s.onEnded,
		"assignment.released": s.onEnded,
	}
}

// assignment reads an assignment event; ok is false for a payload that no
// retry can make usable, which is logged (ids only) and acknowledged.
func (s *Service) assignment(ctx context.Context, e bus.Event) (domain.Assignment, bool, error) {
	var p assignmentPayload
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		s.log.WarnContext(ctx, "unreadable assignment event", "eventId", e.ID, "type", e.Type)
		return domain.Assignment{}, false, nil
	}
	for _, id := range []string{p.CaseID, p.ProfessionalID, p.AssignmentID} {
		if _, err := uuid.Parse(id); err != nil {
			s.log.WarnContext(ctx, "assignment event without valid ids", "eventId", e.ID, "type", e.Type)
			return domain.Assignment{}, false, nil
		}
	}
	return domain.Assignment{ID: p.AssignmentID, CaseID: p.CaseID, ProfessionalID: p.ProfessionalID, Deadline: p.Deadline}, true, nil
}

// onAssigned makes the assignment the case's active one, in the inbox's
// transaction.
func (s *Service) onAssigned(ctx context.Context, tx *sql.Tx, e bus.Event) error {
	a, ok, err := s.assignment(ctx, e)
	if !ok || err != nil {
		return err
	}
	if a.Deadline.IsZero() {
		s.log.WarnContext(ctx, "case.assigned without a deadline", "eventId", e.ID, "caseId", a.CaseID)
		return nil
	}
	if err := s.store.Assign(ctx, tx, a, s.now()); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	return nil
}

// onEnded ends an expired or released assignment: its professional may no
// longer write the case's opinion.
func (s *Service) onEnded(ctx context.Context, tx *sql.Tx, e bus.Event) error {
	a, ok, err := s.assignment(ctx, e)
	if !ok || err != nil {
		return err
	}
	if err := s.store.End(ctx, tx, a, s.now()); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	return nil
}
