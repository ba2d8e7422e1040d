package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/platform/audit/store"
)

// subscriptions record audit.recorded events as accesses, and carry out a
// patient's or a case's erasure before recording it; every other event type reaches
// recordChange, so a new event type is audited without a change here.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(kitaudit.Recorded, (*Service).recordAccess),
	outbox.Handle(events.PatientErasedV1, (*Service).onErased),
	outbox.Handle(events.CaseErasedV1, (*Service).onCaseErased),
	outbox.HandleAll((*Service).recordChange),
}

// recordAccess appends the access an audit.recorded event carries.
func (s *Service) recordAccess(ctx context.Context, tx *sql.Tx, e bus.Event, a kitaudit.Entry) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("audit event %s: %w", e.ID, err)
	}
	return s.append(ctx, tx, store.Entry{
		At: a.At, Actor: a.Actor, ActorRole: a.ActorRole, Action: a.Action,
		ResourceType: a.ResourceType, ResourceID: a.ResourceID, PatientID: a.PatientID, Purpose: a.Purpose,
		ClientAddr: a.ClientAddr, UserAgent: a.UserAgent, RequestID: a.RequestID, Outcome: a.Outcome,
		SourceEventID: e.ID,
	})
}

// recordChange appends a domain event as the change it tells of, made by
// the emitting service. Only the envelope is kept: payloads may hold data
// the trail must not copy.
func (s *Service) recordChange(ctx context.Context, tx *sql.Tx, e bus.Event) error {
	return s.append(ctx, tx, store.Entry{
		At: e.Timestamp, Actor: e.ServiceID, ActorRole: "service", Action: e.Type,
		ResourceType: resourceType(e.Type), ResourceID: e.AggregateID, Outcome: kitaudit.Allowed,
		SourceEventID: e.ID,
	})
}

// onErased pseudonymises an erased patient in the trail (store.Erase):
// the entries stay, as the trail must, but name them by a pseudonym. The
// erasure itself is then recorded as the change it is, and its entry names
// the patient by the pseudonym too. Entries of canonical form 1, written
// before erasure was possible, cannot change without breaking the chain:
// they are left and counted in the log.
func (s *Service) onErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.PatientErased) error {
	if _, err := uuid.Parse(p.PatientID); err != nil {
		return fmt.Errorf("patient.erased %s: patient id: %w", e.ID, err)
	}
	r, err := s.store.Erase(ctx, tx, p.PatientID, p.Timestamp)
	if err != nil {
		return fmt.Errorf("patient.erased %s: %w", e.ID, err)
	}
	if err := s.ForgetRequests(ctx, tx, p.PatientID); err != nil {
		return fmt.Errorf("patient.erased %s: %w", e.ID, err)
	}
	// The event id, never the patient's: logs hold no personal data.
	s.Log.InfoContext(ctx, "erased patient pseudonymised in the audit trail", "event", e.ID,
		"entries", r.Pseudonymised)
	if r.Kept > 0 {
		s.Log.WarnContext(ctx, "erased patient still named in audit entries of canonical form 1, which cannot change",
			"event", e.ID, "entries", r.Kept)
	}
	return s.recordChange(ctx, tx, e)
}

// onCaseErased pseudonymises a case erased with its patient: the changes
// of the case were recorded under its id alone (recordChange), which
// would tie them together and, through any copy of the id, to the patient.
func (s *Service) onCaseErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseErased) error {
	if _, err := uuid.Parse(p.CaseID); err != nil {
		return fmt.Errorf("case.erased %s: case id: %w", e.ID, err)
	}
	r, err := s.store.Erase(ctx, tx, p.CaseID, p.Timestamp)
	if err != nil {
		return fmt.Errorf("case.erased %s: %w", e.ID, err)
	}
	s.Log.InfoContext(ctx, "erased case pseudonymised in the audit trail", "event", e.ID, "entries", r.Pseudonymised)
	return s.recordChange(ctx, tx, e)
}

// resourceType is the event type without its verb: "case" for
// "case.created", "ai.analysis" for "ai.analysis.completed".
func resourceType(eventType string) string {
	if i := strings.LastIndexByte(eventType, '.'); i > 0 {
		return eventType[:i]
	}
	return eventType
}

func (s *Service) append(ctx context.Context, tx *sql.Tx, e store.Entry) error {
	if _, _, err := s.store.Append(ctx, tx, e); err != nil {
		return fmt.Errorf("audit event %s: %w", e.SourceEventID, err)
	}
	return nil
}
