package medicalopinion

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/domain"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/store"
)

// Published events carry ids only: an opinion's content, the patient's
// questions and the answers are health data and never leave in an event.
// Every event is keyed by the case, so it stays in order with the case's
// other events.

// submittedEvents are the events of a submitted opinion: opinion.submitted,
// then opinion.approved when no review is required.
func submittedEvents(o store.Opinion, authorLevel vocab.Level, reviewRequired bool) ([]bus.Event, error) {
	submitted, err := events.OpinionSubmittedV1.New(Name, o.CaseID, events.OpinionSubmitted{CaseID: o.CaseID, OpinionID: o.ID,
		ProfessionalID: o.ProfessionalID, ReviewRequired: reviewRequired, Timestamp: o.UpdatedAt})
	if err != nil || o.Status != domain.Approved {
		return []bus.Event{submitted}, err
	}
	// Approved at once: no peer reviewed it, whoever may have asked for
	// changes before the author's level rose.
	approved, err := approvedEvent(o, authorLevel, "")
	return []bus.Event{submitted, approved}, err
}

// reviewedEvent is the event of a reviewed opinion: opinion.approved, or
// opinion.changes_requested when the reviewer sent it back.
func reviewedEvent(o store.Opinion) (bus.Event, error) {
	if o.Status == domain.Approved {
		// Only an opinion submitted for review is reviewed, and only an
		// author below SENIOR is (domain.ReviewRequired): a JUNIOR, as
		// when it was submitted, whatever the level is by now.
		return approvedEvent(o, vocab.Junior, o.ReviewerID)
	}
	return events.OpinionChangesRequestedV1.New(Name, o.CaseID, events.OpinionChangesRequested{CaseID: o.CaseID, OpinionID: o.ID,
		ProfessionalID: o.ProfessionalID, ReviewerID: o.ReviewerID, Timestamp: o.UpdatedAt})
}

// approvedEvent is opinion.approved, with what payouts accrues earnings
// by: the author's level and the approving reviewer ("" for none).
func approvedEvent(o store.Opinion, authorLevel vocab.Level, reviewerID string) (bus.Event, error) {
	return events.OpinionApprovedV1.New(Name, o.CaseID, events.OpinionApproved{CaseID: o.CaseID, OpinionID: o.ID,
		ProfessionalID: o.ProfessionalID, AuthorLevel: authorLevel, ReviewerID: reviewerID, Timestamp: o.UpdatedAt})
}

// questionEvent is opinion.question_asked or opinion.question_answered
// (contract c) of question questionID on o, at.
func questionEvent(c bus.Contract[events.OpinionQuestion], o store.Opinion, questionID string, at time.Time) (bus.Event, error) {
	return c.New(Name, o.CaseID, events.OpinionQuestion{CaseID: o.CaseID, OpinionID: o.ID, QuestionID: questionID, Timestamp: at})
}

// subscriptions are case-assignment's events, the projection of who may
// write which case's opinion, and case-management's case.erased.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.CaseAssignedV1, (*Service).onAssigned),
	outbox.Handle(events.AssignmentExpiredV1, (*Service).onEnded),
	outbox.Handle(events.AssignmentReleasedV1, (*Service).onEnded),
	outbox.Handle(events.CaseErasedV1, (*Service).onErased),
}

// usable reports whether an assignment event names its case, professional
// and assignment by valid ids. No retry can repair one that does not, so
// it is logged (ids only) and acknowledged.
func (s *Service) usable(ctx context.Context, e bus.Event, ids ...string) bool {
	for _, id := range ids {
		if _, err := uuid.Parse(id); err != nil {
			s.Log.WarnContext(ctx, "assignment event without valid ids", "eventId", e.ID, "type", e.Type)
			return false
		}
	}
	return true
}

// onAssigned makes the assignment the case's active one, in the inbox's
// transaction.
func (s *Service) onAssigned(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseAssigned) error {
	if !s.usable(ctx, e, p.CaseID, p.ProfessionalID, p.AssignmentID) {
		return nil
	}
	if p.Deadline.IsZero() {
		s.Log.WarnContext(ctx, "case.assigned without a deadline", "eventId", e.ID, "caseId", p.CaseID)
		return nil
	}
	a := domain.Assignment{ID: p.AssignmentID, CaseID: p.CaseID, ProfessionalID: p.ProfessionalID, Deadline: p.Deadline}
	if err := s.store.Assign(ctx, tx, a, s.now()); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	return nil
}

// onEnded ends an expired or released assignment: its professional may no
// longer write the case's opinion.
func (s *Service) onEnded(ctx context.Context, tx *sql.Tx, e bus.Event, p events.AssignmentEnded) error {
	if !s.usable(ctx, e, p.CaseID, p.ProfessionalID, p.AssignmentID) {
		return nil
	}
	a := domain.Assignment{ID: p.AssignmentID, CaseID: p.CaseID, ProfessionalID: p.ProfessionalID}
	if err := s.store.End(ctx, tx, a, s.now()); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	return nil
}

// onErased removes what the service holds of an erased case (store.Erase):
// its opinions keep who wrote them and when, nothing they said, and the
// cached answers that showed them or their follow-ups are forgotten. It
// publishes nothing: the case is gone everywhere.
func (s *Service) onErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseErased) error {
	caseID, at := p.CaseID, p.Timestamp
	if caseID == "" {
		caseID = e.AggregateID
	}
	if at.IsZero() {
		at = e.Timestamp
	}
	removed, err := s.store.Erase(ctx, tx, caseID, at)
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	if err := s.ForgetRequests(ctx, tx, append(removed, caseID)...); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	s.Log.InfoContext(ctx, "case erased", "caseId", caseID, "removed", len(removed))
	return nil
}
