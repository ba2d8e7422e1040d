package auth

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
)

// subscriptions: auth consumes patient.erased, with which the erased
// patient's login goes too.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.PatientErasedV1, (*Service).onPatientErased),
}

// onPatientErased deletes the erased patient's login — credentials,
// second factors, recovery and reset codes, refresh tokens — and ends
// their sessions, so that a token they still hold stops working at once
// rather than when it expires. The idempotency records of their calls go
// too; the messages sent to them are the notification service's to
// erase. A redelivery finds nothing left and does nothing.
func (s *Service) onPatientErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.PatientErased) error {
	id := p.PatientID
	u, sessions, err := s.st.EraseUser(ctx, tx, id)
	if err != nil {
		return err
	}
	if err := s.ForgetRequests(ctx, tx, id); err != nil {
		return err
	}
	// The store's sessions went with the user's rows; Redis keeps its own.
	if r, ok := s.sessions.(*RedisSessions); ok {
		for _, sid := range sessions {
			if err := r.End(ctx, sid); err != nil {
				return fmt.Errorf("erase login %s: end session: %w", id, err)
			}
		}
	}
	if u.ID != "" {
		s.Log.InfoContext(ctx, "login of an erased patient deleted", "userId", id, "sessions", len(sessions), "event", e.ID)
	}
	return nil
}
