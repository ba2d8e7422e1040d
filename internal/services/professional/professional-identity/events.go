package professionalidentity

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/problem"
	"github.com/secondopinion/platform/internal/services/professional/professional-identity/domain"
	"github.com/secondopinion/platform/internal/services/professional/professional-identity/store"
)

// Event types this service publishes. Payloads carry ids and what matching
// needs, never names, emails or the bio: consumers that need those ask
// ProfessionalService, where callers are checked.
const (
	EventRegistered = "professional.registered"
	EventUpdated    = "professional.updated"
)

// Event types this service consumes, from credentialing.
const (
	EventVerified     = "professional.verified"
	EventSuspended    = "professional.suspended"
	EventLevelChanged = "professional.level_changed"
)

// Registered is the payload of professional.registered.
type Registered struct {
	ProfessionalID string    `json:"professionalId"`
	ProNumber      string    `json:"proNumber"`
	Specialties    []string  `json:"specialties"`
	Languages      []string  `json:"languages"`
	Country        string    `json:"country"`
	Level          string    `json:"level"`
	Timestamp      time.Time `json:"timestamp"`
}

// Updated is the payload of professional.updated: the full current values
// of what matching uses.
type Updated struct {
	ProfessionalID string    `json:"professionalId"`
	Specialties    []string  `json:"specialties"`
	Languages      []string  `json:"languages"`
	Country        string    `json:"country"`
	Timestamp      time.Time `json:"timestamp"`
}

func registeredEvents(p store.Professional) ([]bus.Event, error) {
	e, err := bus.New(Name, EventRegistered, p.ID, Registered{ProfessionalID: p.ID, ProNumber: p.ProNumber,
		Specialties: p.Specialties, Languages: p.Languages, Country: p.Country, Level: p.Level, Timestamp: p.CreatedAt})
	return []bus.Event{e}, err
}

// standingPayload is what the service reads of credentialing's events.
type standingPayload struct {
	ProfessionalID string    `json:"professionalId"`
	To             string    `json:"to"` // professional.level_changed
	Timestamp      time.Time `json:"timestamp"`
}

func (s *Service) handlers() map[string]outbox.HandlerFunc {
	return map[string]outbox.HandlerFunc{
		EventVerified:     s.onStanding,
		EventSuspended:    s.onStanding,
		EventLevelChanged: s.onStanding,
	}
}

// onStanding keeps a profile's status or level as credentialing says,
// within the inbox's transaction, so a redelivered event has no second
// effect; an event older than the standing it would replace is ignored.
func (s *Service) onStanding(ctx context.Context, tx *sql.Tx, e bus.Event) error {
	var p standingPayload
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return fmt.Errorf("%s %s: payload: %w", e.Type, e.ID, err)
	}
	id, at := p.ProfessionalID, p.Timestamp
	if id == "" {
		id = e.AggregateID
	}
	if at.IsZero() {
		at = e.Timestamp
	}
	var applied bool
	var err error
	switch e.Type {
	case EventVerified:
		applied, err = s.store.SetStatus(ctx, tx, id, domain.StatusVerified, at)
	case EventSuspended:
		applied, err = s.store.SetStatus(ctx, tx, id, domain.StatusSuspended, at)
	case EventLevelChanged:
		if !slices.Contains(domain.Levels, p.To) {
			// Retries and the dead letter show it to an admin: a level
			// this service does not know is a contract break.
			return fmt.Errorf("%s %s: unknown level %q", e.Type, e.ID, p.To)
		}
		applied, err = s.store.SetLevel(ctx, tx, id, p.To, at)
	}
	if problem.StatusOf(err) == http.StatusNotFound {
		// Retrying cannot make the profile appear: credentialing learns of
		// professionals from this service's own events.
		s.log.WarnContext(ctx, "event for an unknown professional", "eventId", e.ID, "type", e.Type)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	if !applied {
		s.log.DebugContext(ctx, "event older than the standing it would replace", "eventId", e.ID, "type", e.Type, "professionalId", id)
	}
	return nil
}
