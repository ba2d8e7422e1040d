package professionalidentity

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/professional/professional-identity/domain"
	"github.com/secondopinion/platform/internal/services/professional/professional-identity/store"
)

// Published events carry ids and what matching needs, never names, emails
// or the bio: consumers that need those ask ProfessionalService, where
// callers are checked.

func registeredEvents(p store.Professional) ([]bus.Event, error) {
	e, err := events.ProfessionalRegisteredV1.New(Name, p.ID, events.ProfessionalRegistered{ProfessionalID: p.ID,
		ProNumber: p.ProNumber, Specialties: p.Specialties, Languages: p.Languages, Country: p.Country, Level: p.Level,
		Timestamp: p.CreatedAt})
	return []bus.Event{e}, err
}

// updatedEvent is professional.updated with the full current values of
// what matching uses.
func updatedEvent(p store.Professional, at time.Time) (bus.Event, error) {
	return events.ProfessionalUpdatedV1.New(Name, p.ID, events.ProfessionalUpdated{ProfessionalID: p.ID,
		Specialties: p.Specialties, Languages: p.Languages, Country: p.Country, Timestamp: at})
}

// subscriptions are credentialing's verdicts on a professional's standing
// and level.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.ProfessionalVerifiedV1, setStatus(domain.StatusVerified)),
	outbox.Handle(events.ProfessionalSuspendedV1, setStatus(domain.StatusSuspended)),
	outbox.Handle(events.ProfessionalLevelChangedV1, (*Service).onLevelChanged),
}

// setStatus handles an event that gives a profile status.
func setStatus(status string) func(*Service, context.Context, *sql.Tx, bus.Event, events.ProfessionalStanding) error {
	return func(s *Service, ctx context.Context, tx *sql.Tx, e bus.Event, p events.ProfessionalStanding) error {
		return s.keep(ctx, e, p.ProfessionalID, p.Timestamp, func(id string, at time.Time) (bool, error) {
			return s.store.SetStatus(ctx, tx, id, status, at)
		})
	}
}

func (s *Service) onLevelChanged(ctx context.Context, tx *sql.Tx, e bus.Event, p events.ProfessionalLevelChanged) error {
	if !p.To.Valid() {
		// Retries and the dead letter show it to an admin: a level this
		// service does not know is a contract break.
		return fmt.Errorf("%s %s: unknown level %q", e.Type, e.ID, p.To)
	}
	return s.keep(ctx, e, p.ProfessionalID, p.Timestamp, func(id string, at time.Time) (bool, error) {
		return s.store.SetLevel(ctx, tx, id, p.To, at)
	})
}

// keep records a profile's status or level as credentialing says, within
// the inbox's transaction, so a redelivered event has no second effect;
// set ignores an event older than the standing it would replace. The
// envelope stands in for what the payload leaves out.
func (s *Service) keep(ctx context.Context, e bus.Event, id string, at time.Time, set func(id string, at time.Time) (bool, error)) error {
	if id == "" {
		id = e.AggregateID
	}
	if at.IsZero() {
		at = e.Timestamp
	}
	applied, err := set(id, at)
	if fault.Is(err, fault.KindNotFound) {
		// Retrying cannot make the profile appear: credentialing learns of
		// professionals from this service's own events.
		s.Log.WarnContext(ctx, "event for an unknown professional", "eventId", e.ID, "type", e.Type)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	if !applied {
		s.Log.DebugContext(ctx, "event older than the standing it would replace", "eventId", e.ID, "type", e.Type, "professionalId", id)
	}
	return nil
}
