package credentialing

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
	"github.com/secondopinion/platform/internal/services/professional/credentialing/domain"
	"github.com/secondopinion/platform/internal/services/professional/credentialing/store"
)

// Published events are about a professional, the key that keeps their
// events in order, and carry ids, codes and times: licence numbers and
// issuing authorities stay in the service.

func submittedEvent(c store.Credential) (bus.Event, error) {
	return events.CredentialSubmittedV1.New(Name, c.ProfessionalID, events.CredentialSubmitted{CredentialID: c.ID,
		ProfessionalID: c.ProfessionalID, Specialty: c.Specialty, Country: c.Country, ExpiresAt: c.ExpiresAt,
		Timestamp: c.SubmittedAt})
}

// reviewedEvent is credential.verified, or credential.rejected with its
// reason, as the review of c decided at.
func reviewedEvent(c store.Credential, at time.Time) (bus.Event, error) {
	contract := events.CredentialVerifiedV1
	if c.Status == domain.Rejected {
		contract = events.CredentialRejectedV1
	}
	return contract.New(Name, c.ProfessionalID, events.CredentialReviewed{CredentialID: c.ID,
		ProfessionalID: c.ProfessionalID, Reason: c.Reason, Timestamp: at})
}

func levelChangedEvent(professionalID string, from, to vocab.Level, at time.Time) (bus.Event, error) {
	return events.ProfessionalLevelChangedV1.New(Name, professionalID, events.ProfessionalLevelChanged{
		ProfessionalID: professionalID, From: from, To: to, Timestamp: at})
}

// standingEvent is the event of the domain's change of standing typ:
// professional.verified, or professional.suspended with its reason.
func standingEvent(typ, professionalID string, at time.Time) (bus.Event, error) {
	switch typ {
	case events.ProfessionalVerifiedV1.Type:
		return events.ProfessionalVerifiedV1.New(Name, professionalID, events.ProfessionalStanding{
			ProfessionalID: professionalID, Timestamp: at})
	case events.ProfessionalSuspendedV1.Type:
		return events.ProfessionalSuspendedV1.New(Name, professionalID, events.ProfessionalStanding{
			ProfessionalID: professionalID, Reason: domain.SuspendedReason, Timestamp: at})
	}
	return bus.Event{}, fmt.Errorf("no contract for the change of standing %q", typ)
}

// subscriptions are the events the service consumes.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.ProfessionalRegisteredV1, (*Service).onRegistered),
}

// onRegistered adds the professional to the projection, PENDING at the
// starting level, within the inbox's transaction.
func (s *Service) onRegistered(ctx context.Context, tx *sql.Tx, e bus.Event, p events.ProfessionalRegistered) error {
	if p.ProfessionalID == "" {
		p.ProfessionalID = e.AggregateID
	}
	id, err := uuid.Parse(p.ProfessionalID)
	if err != nil {
		// Retrying cannot mend a malformed id.
		s.Log.WarnContext(ctx, "professional.registered without a professional id", "eventId", e.ID)
		return nil
	}
	at := p.Timestamp
	if at.IsZero() {
		at = e.Timestamp
	}
	added, err := s.store.Register(ctx, tx, store.Professional{ID: id.String(), Specialties: p.Specialties, RegisteredAt: at})
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	if added {
		s.Log.InfoContext(ctx, "professional registered", "professionalId", id.String())
	}
	return nil
}
