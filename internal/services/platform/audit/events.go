package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/platform/audit/store"
)

// subscriptions record audit.recorded events as accesses; every other
// event type reaches recordChange, so a new event type is audited without
// a change here.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(kitaudit.Recorded, (*Service).recordAccess),
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
