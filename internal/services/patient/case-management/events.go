package casemanagement

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/patient/case-management/domain"
	"github.com/secondopinion/platform/internal/services/patient/case-management/store"
)

// Published events carry ids and codes: titles and questions are health
// data and never leave the service in an event.

func createdEvents(c store.Case) ([]bus.Event, error) {
	e, err := events.CaseCreatedV1.New(Name, c.ID, events.CaseCreated{CaseID: c.ID, CustomerID: c.CustomerID,
		CaseNumber: c.CaseNumber, Timestamp: c.CreatedAt})
	return []bus.Event{e}, err
}

// changeEvents are the events of a recorded change: a status_changed per
// step, plus case.submitted, case.awaiting_assignment, case.cancelled or
// case.completed when a step enters that status.
func changeEvents(c store.Case, ch store.Change) ([]bus.Event, error) {
	var out []bus.Event
	add := func(e bus.Event, err error) error {
		out = append(out, e)
		return err
	}
	at := c.UpdatedAt
	closed := events.CaseClosed{CaseID: c.ID, CaseNumber: c.CaseNumber, Timestamp: at}
	for _, st := range ch.Steps {
		if err := add(events.CaseStatusChangedV1.New(Name, c.ID, events.CaseStatusChanged{CaseID: c.ID, CaseNumber: c.CaseNumber,
			From: vocab.CaseStatus(st.From), To: vocab.CaseStatus(st.To), Trigger: ch.Reason, Timestamp: at})); err != nil {
			return nil, err
		}
		var err error
		switch st.To {
		case domain.Submitted:
			err = add(events.CaseSubmittedV1.New(Name, c.ID, events.CaseSubmitted{CaseID: c.ID, CustomerID: c.CustomerID,
				CaseNumber: c.CaseNumber, Specialty: vocab.Specialty(c.Specialty), Urgency: vocab.Urgency(c.Urgency), Timestamp: at}))
		case domain.AwaitingAssignment:
			err = add(events.CaseAwaitingAssignmentV1.New(Name, c.ID, events.CaseAwaitingAssignment{CaseID: c.ID,
				CustomerID: c.CustomerID, CaseNumber: c.CaseNumber, Specialty: vocab.Specialty(c.Specialty), Urgency: vocab.Urgency(c.Urgency),
				Language: vocab.Language(c.Language), AgeBand: vocab.AgeBand(c.AgeBand), Timestamp: at}))
		case domain.Cancelled:
			err = add(events.CaseCancelledV1.New(Name, c.ID, closed))
		case domain.Completed:
			err = add(events.CaseCompletedV1.New(Name, c.ID, closed))
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// subscriptions are patient.erased, and the events that move a case: one
// per row of the domain's rule table (a test keeps the two equal). Each
// reads of its payload what the machine needs.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.PatientErasedV1, (*Service).onPatientErased),
	outbox.Handle(events.PaymentSucceededV1, on(func(p events.Payment) about { return about{caseID: p.CaseID} })),
	outbox.Handle(events.PaymentRefundedV1, (*Service).onRefund),
	outbox.Handle(events.AnalysisStartedV1, on(func(p events.AnalysisProgress) about { return about{caseID: p.CaseID} })),
	outbox.Handle(events.AnalysisCompletedV1, on(func(p events.AnalysisProgress) about { return about{caseID: p.CaseID} })),
	outbox.Handle(events.CaseOrphanedV1, on(func(p events.CaseOrphaned) about { return about{caseID: p.CaseID} })),
	outbox.Handle(events.CaseAssignedV1, on(func(p events.CaseAssigned) about {
		return about{caseID: p.CaseID, professionalID: p.ProfessionalID}
	})),
	outbox.Handle(events.AssignmentExpiredV1, on(assignmentEnded)),
	outbox.Handle(events.AssignmentReleasedV1, on(assignmentEnded)),
	outbox.Handle(events.OpinionSubmittedV1, on(func(p events.OpinionSubmitted) about {
		return about{caseID: p.CaseID, reviewRequired: p.ReviewRequired}
	})),
	outbox.Handle(events.OpinionApprovedV1, on(func(p events.OpinionApproved) about { return about{caseID: p.CaseID} })),
}

// about is what the service reads of a consumed event.
type about struct {
	caseID         string
	professionalID string // case.assigned, assignment.*
	reviewRequired bool   // opinion.submitted
}

func assignmentEnded(p events.AssignmentEnded) about {
	return about{caseID: p.CaseID, professionalID: p.ProfessionalID}
}

// on handles an event of payload P by what it says about a case.
func on[P any](read func(P) about) func(*Service, context.Context, *sql.Tx, bus.Event, P) error {
	return func(s *Service, ctx context.Context, tx *sql.Tx, e bus.Event, p P) error {
		return s.onEvent(ctx, tx, e, read(p))
	}
}

// onRefund cancels the case of a payment refunded in full. A partial
// refund is a gesture that leaves the case going on; so is the refund of
// an orphaned case, which the patient gets back at once while the case
// waits in the admins' triage, where it may still be rescued.
func (s *Service) onRefund(ctx context.Context, tx *sql.Tx, e bus.Event, p events.PaymentRefunded) error {
	if !p.Full || p.Reason == "CASE_ORPHANED" {
		return nil
	}
	return s.onEvent(ctx, tx, e, about{caseID: p.CaseID})
}

// assignee is the professional a change leaves the case with: the one
// case.assigned names, none after an assignment ends, else unchanged.
func assignee(typ string, a about) *string {
	switch typ {
	case events.CaseAssignedV1.Type:
		return &a.professionalID
	case events.AssignmentExpiredV1.Type, events.AssignmentReleasedV1.Type:
		none := ""
		return &none
	}
	return nil
}

// onEvent advances a case as the domain's rules say, within the inbox's
// transaction, so a redelivered event has no second effect.
func (s *Service) onEvent(ctx context.Context, tx *sql.Tx, e bus.Event, a about) error {
	id := a.caseID
	if id == "" {
		id = e.AggregateID
	}
	c, err := s.store.Load(ctx, tx, id)
	if fault.Is(err, fault.KindNotFound) {
		return s.onMissing(ctx, tx, e, id)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	ends := e.Type == events.AssignmentExpiredV1.Type || e.Type == events.AssignmentReleasedV1.Type
	if ends && a.professionalID != c.ProfessionalID {
		// The end of an earlier assignment, overtaken by the next one.
		s.Log.DebugContext(ctx, "event of a former assignment ignored", "eventId", e.ID, "type", e.Type, "caseId", c.ID)
		return nil
	}
	steps, err := s.cfg.Pipeline.On(c.Status, domain.Event{Type: e.Type, ReviewRequired: a.reviewRequired})
	if err != nil {
		return fmt.Errorf("%s %s on case %s: %w", e.Type, e.ID, c.ID, err)
	}
	if len(steps) == 0 {
		s.Log.DebugContext(ctx, "event ignored", "eventId", e.ID, "type", e.Type, "caseId", c.ID, "status", c.Status)
		return nil
	}
	ch := store.Change{Steps: steps, Reason: e.Type, EventID: e.ID, At: s.now(), Assignee: assignee(e.Type, a)}
	if _, err := s.apply(ctx, tx, c, ch); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	return nil
}

// onMissing acknowledges an event about a case that is not here: retrying
// cannot make it appear. An erased case's events keep coming for a while
// (an assignment's end, a refund), as expected; any other case never
// existed, since every case exists before any event about it, and its
// event tells of an inconsistency between services.
func (s *Service) onMissing(ctx context.Context, tx *sql.Tx, e bus.Event, id string) error {
	erased, err := s.store.Erased(ctx, tx, id)
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	if erased {
		s.Log.DebugContext(ctx, "event for an erased case ignored", "eventId", e.ID, "type", e.Type, "caseId", id)
		return nil
	}
	s.Log.WarnContext(ctx, "event for an unknown case", "eventId", e.ID, "type", e.Type)
	return nil
}

// onPatientErased carries out a patient's erasure (GDPR Art. 17) within
// the inbox's transaction: their cases and timelines go, with their
// case numbers; a case.erased per case tells the services that hold a
// case without knowing its patient; the cached answers of their requests
// (a case's title and question) are forgotten. patient-identity decided
// the erasure, so it is never refused here: an assigned case is erased
// too, and its case.erased tells the professional domain.
func (s *Service) onPatientErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.PatientErased) error {
	if _, err := uuid.Parse(p.PatientID); err != nil {
		return fmt.Errorf("%s %s: the patient id is not a UUID", e.Type, e.ID)
	}
	at := s.now()
	ids, err := s.store.Erase(ctx, tx, p.PatientID, at)
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	evs := make([]bus.Event, 0, len(ids))
	for _, id := range ids {
		ev, err := events.CaseErasedV1.New(Name, id, events.CaseErased{CaseID: id, Timestamp: at})
		if err != nil {
			return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
		}
		evs = append(evs, ev)
	}
	if err := outbox.Add(ctx, tx, evs...); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	if err := s.ForgetRequests(ctx, tx, append([]string{p.PatientID}, ids...)...); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	s.Log.InfoContext(ctx, "patient's cases erased", "eventId", e.ID, "patientId", p.PatientID, "cases", len(ids))
	return nil
}
