package credentialing

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/professional/credentialing/store"
)

// Published payloads, as the professional domain's contracts fix them.
// Licence numbers and authorities stay in the service.
type (
	submittedPayload struct {
		CredentialID   string    `json:"credentialId"`
		ProfessionalID string    `json:"professionalId"`
		Specialty      string    `json:"specialty"`
		Country        string    `json:"country"`
		ExpiresAt      time.Time `json:"expiresAt"`
		Timestamp      time.Time `json:"timestamp"`
	}
	// reviewedPayload is credential.verified, and credential.rejected with
	// its reason.
	reviewedPayload struct {
		CredentialID   string    `json:"credentialId"`
		ProfessionalID string    `json:"professionalId"`
		Reason         string    `json:"reason,omitempty"`
		Timestamp      time.Time `json:"timestamp"`
	}
	// standingPayload is professional.verified, and professional.suspended
	// with its reason.
	standingPayload struct {
		ProfessionalID string    `json:"professionalId"`
		Reason         string    `json:"reason,omitempty"`
		Timestamp      time.Time `json:"timestamp"`
	}
	levelPayload struct {
		ProfessionalID string    `json:"professionalId"`
		From           string    `json:"from"`
		To             string    `json:"to"`
		Timestamp      time.Time `json:"timestamp"`
	}
)

// registeredPayload is what the service reads of professional.registered.
type registeredPayload struct {
	ProfessionalID string    `json:"professionalId"`
	Specialties    []string  `json:"specialties"`
	Timestamp      time.Time `json:"timestamp"`
}

func (s *Service) handlers() map[string]outbox.HandlerFunc {
	return map[string]outbox.HandlerFunc{"professional.registered": s.onRegistered}
}

// onRegistered adds the professional to the projection, PENDING at the
// starting level, within the inbox's transaction.
func (s *Service) onRegistered(ctx context.Context, tx *sql.Tx, e bus.Event) error {
	var p registeredPayload
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return fmt.Errorf("%s %s: payload: %w", e.Type, e.ID, err)
	}
	if p.ProfessionalID == "" {
		p.ProfessionalID = e.AggregateID
	}
	id, err := uuid.Parse(p.ProfessionalID)
	if err != nil {
		// Retrying cannot mend a malformed id.
		s.log.WarnContext(ctx, "professional.registered without a professional id", "eventId", e.ID)
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
		s.log.InfoContext(ctx, "professional registered", "professionalId", id.String())
	}
	return nil
}
