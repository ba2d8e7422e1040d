package caseassignment

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/domain"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/store"
)

// Published events carry ids, numbers and times only.

func assignedEvents(a store.Assignment) ([]bus.Event, error) {
	e, err := events.CaseAssignedV1.New(Name, a.CaseID, events.CaseAssigned{CaseID: a.CaseID, ProfessionalID: a.ProfessionalID,
		AssignmentID: a.ID, Deadline: a.Deadline, Timestamp: a.ClaimedAt})
	return []bus.Event{e}, err
}

// endedEvents builds the event of an assignment's end:
// assignment.expired or assignment.released.
func endedEvents(c bus.Contract[events.AssignmentEnded]) store.Events {
	return func(a store.Assignment) ([]bus.Event, error) {
		e, err := c.New(Name, a.CaseID, events.AssignmentEnded{CaseID: a.CaseID, ProfessionalID: a.ProfessionalID,
			AssignmentID: a.ID, Timestamp: a.EndedAt})
		return []bus.Event{e}, err
	}
}

// offered builds assignment.case_offered for an entry that has just
// become claimable, naming the candidates who match it now (early access
// included: who is admitted only when the window ends is not told, as the
// window is there to keep the case from them a while). It is emitted
// even when nobody matches: the event is the record that the case is
// offered in this stay, and an empty list is news too — to a consumer
// that alerts admins, without waiting for the escalation, that no
// professional can take the case.
func (s *Service) offered(e store.Entry, candidates []domain.Professional) ([]bus.Event, error) {
	ev, err := events.CaseOfferedV1.New(Name, e.CaseID, events.CaseOffered{CaseID: e.CaseID, CaseNumber: e.CaseNumber,
		Specialty: e.Specialty, Urgency: e.Urgency, ProfessionalIDs: s.rules.Matching(candidates, e.Match(), s.now()),
		Timestamp: e.OpenedAt})
	return []bus.Event{ev}, err
}

// approachingEvents builds assignment.deadline_approaching for the share
// percent of an assignment's time, told at at.
func approachingEvents(percent int, at time.Time) store.Events {
	return func(a store.Assignment) ([]bus.Event, error) {
		e, err := events.DeadlineApproachingV1.New(Name, a.CaseID, events.DeadlineApproaching{CaseID: a.CaseID,
			ProfessionalID: a.ProfessionalID, AssignmentID: a.ID, Percent: percent, Deadline: a.Deadline, Timestamp: at})
		return []bus.Event{e}, err
	}
}

// escalatedEvents is built with the time of the escalation.
func escalatedEvents(at time.Time) func(store.Entry) ([]bus.Event, error) {
	return func(e store.Entry) ([]bus.Event, error) {
		ev, err := events.AssignmentEscalatedV1.New(Name, e.CaseID, events.AssignmentEscalated{CaseID: e.CaseID,
			CaseNumber: e.CaseNumber, WaitingSince: e.OpenedAt, Timestamp: at})
		return []bus.Event{ev}, err
	}
}

// subscriptions are the events the projections of professionals, of
// patients' consent to share and of the pool are kept from, and the
// erasures that end them. Each handler runs in the inbox's transaction, so
// a redelivered event has no second effect.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.ProfessionalRegisteredV1, (*Service).onRegistered),
	outbox.Handle(events.ProfessionalUpdatedV1, (*Service).onUpdated),
	outbox.Handle(events.ProfessionalVerifiedV1, onStanding(domain.Verified)),
	outbox.Handle(events.ProfessionalSuspendedV1, onStanding(domain.Suspended)),
	outbox.Handle(events.ProfessionalLevelChangedV1, (*Service).onLevel),
	outbox.Handle(events.CaseAwaitingAssignmentV1, (*Service).onAwaiting),
	outbox.Handle(events.CaseCancelledV1, (*Service).onClosed),
	outbox.Handle(events.CaseCompletedV1, (*Service).onClosed),
	outbox.Handle(events.OpinionSubmittedV1, (*Service).onSubmitted),
	outbox.Handle(events.ConsentGrantedV1, onConsent(true)),
	outbox.Handle(events.ConsentWithdrawnV1, onConsent(false)),
	outbox.Handle(events.PatientErasedV1, (*Service).onPatientErased),
	outbox.Handle(events.CaseErasedV1, (*Service).onCaseErased),
}

// or is id, else the event's aggregate id: every consumed event is keyed
// by the professional, the case or the patient it is about.
func or(id string, e bus.Event) string {
	if id == "" {
		return e.AggregateID
	}
	return id
}

// at is a payload's timestamp, which orders the changes of one
// professional or of one patient's consent, else the envelope's.
func at(t time.Time, e bus.Event) time.Time {
	if t.IsZero() {
		return e.Timestamp
	}
	return t
}

func (s *Service) onRegistered(ctx context.Context, tx *sql.Tx, e bus.Event, p events.ProfessionalRegistered) error {
	return s.saveProfile(ctx, tx, e, store.Profile{ID: p.ProfessionalID, Specialties: p.Specialties, Languages: p.Languages,
		Level: p.Level, At: p.Timestamp})
}

func (s *Service) onUpdated(ctx context.Context, tx *sql.Tx, e bus.Event, p events.ProfessionalUpdated) error {
	return s.saveProfile(ctx, tx, e, store.Profile{ID: p.ProfessionalID, Specialties: p.Specialties, Languages: p.Languages,
		At: p.Timestamp})
}

// saveProfile records a professional's matching profile; one first seen
// without a known level starts as JUNIOR.
func (s *Service) saveProfile(ctx context.Context, tx *sql.Tx, e bus.Event, p store.Profile) error {
	if !p.Level.Valid() {
		p.Level = vocab.Junior
	}
	p.ID, p.At = or(p.ID, e), at(p.At, e)
	return s.store.SaveProfile(ctx, tx, p)
}

func onStanding(st domain.Status) func(*Service, context.Context, *sql.Tx, bus.Event, events.ProfessionalStanding) error {
	return func(s *Service, ctx context.Context, tx *sql.Tx, e bus.Event, p events.ProfessionalStanding) error {
		return s.store.SetStatus(ctx, tx, or(p.ProfessionalID, e), st, at(p.Timestamp, e))
	}
}

func (s *Service) onLevel(ctx context.Context, tx *sql.Tx, e bus.Event, p events.ProfessionalLevelChanged) error {
	if !p.To.Valid() {
		// A level this service cannot rank would never heal on retry; the
		// dead letter shows it to an admin.
		return fmt.Errorf("%s %s: unknown level %q", e.Type, e.ID, p.To)
	}
	return s.store.SetLevel(ctx, tx, or(p.ProfessionalID, e), p.To, at(p.Timestamp, e))
}

// onAwaiting puts a case into the pool with the level its specialty and
// urgency require, held while its patient's consent to share is not in
// force. An event naming no patient fails into the dead letters, where an
// admin sees it, rather than leaving a case held for good in silence.
func (s *Service) onAwaiting(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseAwaitingAssignment) error {
	if !p.Specialty.Valid() || !p.Urgency.Valid() || p.Language == "" {
		return fmt.Errorf("%s %s: specialty, urgency or language outside the vocabulary", e.Type, e.ID)
	}
	return s.store.Enter(ctx, tx, store.Entry{CaseID: or(p.CaseID, e), PatientID: p.CustomerID, CaseNumber: p.CaseNumber, Specialty: p.Specialty,
		Urgency: p.Urgency, Language: p.Language, AgeBand: p.AgeBand,
		RequiredLevel: s.rules.RequiredLevel(p.Specialty, p.Urgency), OpenedAt: at(p.Timestamp, e)})
}

func (s *Service) onClosed(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseClosed) error {
	return s.store.Close(ctx, tx, or(p.CaseID, e), p.CaseNumber, at(p.Timestamp, e))
}

// onConsent records a patient's consent to share their cases with
// professionals as granted or withdrawn; a held case joins the pool when
// it is granted, an unclaimed one leaves it when it is withdrawn. The
// other purposes are not the pool's business.
func onConsent(granted bool) func(*Service, context.Context, *sql.Tx, bus.Event, events.ConsentChanged) error {
	return func(s *Service, ctx context.Context, tx *sql.Tx, e bus.Event, p events.ConsentChanged) error {
		if p.Purpose != vocab.ConsentShareWithProfessionals {
			return nil
		}
		return s.store.SetConsent(ctx, tx, or(p.PatientID, e), domain.Consent{Granted: granted, Revision: p.Revision,
			At: at(p.Timestamp, e)})
	}
}

// onSubmitted stops the deadline clock of the submitting professional's
// assignment.
func (s *Service) onSubmitted(ctx context.Context, tx *sql.Tx, e bus.Event, p events.OpinionSubmitted) error {
	caseID := or(p.CaseID, e)
	ok, err := s.store.Deliver(ctx, tx, caseID, p.ProfessionalID)
	if err == nil && !ok {
		s.Log.WarnContext(ctx, "opinion submitted without an active assignment", "eventId", e.ID, "caseId", caseID)
	}
	return err
}

// onPatientErased drops an erased patient's consent to share and erases
// each of their cases the pool holds now, rather than when its
// case.erased comes: the two events come from different producers, in
// either order, and the entries name the patient until then.
func (s *Service) onPatientErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.PatientErased) error {
	cases, err := s.store.ForgetPatient(ctx, tx, or(p.PatientID, e))
	if err != nil {
		return err
	}
	return s.erase(ctx, tx, at(p.Timestamp, e), cases...)
}

func (s *Service) onCaseErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseErased) error {
	return s.erase(ctx, tx, at(p.Timestamp, e), or(p.CaseID, e))
}

// erase erases cases (store.EraseCase) and forgets the cached answers
// that name them or their assignments: a claim's answer carries the case
// number.
func (s *Service) erase(ctx context.Context, tx *sql.Tx, at time.Time, caseIDs ...string) error {
	forget := slices.Clone(caseIDs)
	for _, id := range caseIDs {
		assignments, err := s.store.EraseCase(ctx, tx, id, at)
		if err != nil {
			return err
		}
		forget = append(forget, assignments...)
	}
	if len(forget) == 0 {
		return nil
	}
	if err := s.ForgetRequests(ctx, tx, forget...); err != nil {
		return err
	}
	s.Log.InfoContext(ctx, "cases erased", "caseIds", caseIDs)
	return nil
}
