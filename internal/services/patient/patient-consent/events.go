package patientconsent

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/domain"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/store"
)

// Published events are about a patient, the key that keeps their consents
// in order, and carry the purpose, the text version, the revision and the
// time: never the client's address, which stays in the history. The
// service consumes patient.erased only.

// changedEvent is consent.granted or consent.withdrawn, as c did.
func changedEvent(c store.Change) (bus.Event, error) {
	contract := events.ConsentGrantedV1
	if c.Kind == domain.Withdrawn {
		contract = events.ConsentWithdrawnV1
	}
	return contract.New(Name, c.PatientID, events.ConsentChanged{PatientID: c.PatientID, Purpose: c.Purpose,
		Version: c.Version, Revision: c.Revision, Timestamp: c.At})
}

// subscriptions are the events patient-consent consumes: a patient's
// erasure. The handler runs in the inbox's transaction, which commits
// with it and is retried from the start until it succeeds.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.PatientErasedV1, (*Service).onPatientErased),
}

func (s *Service) onPatientErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.PatientErased) error {
	if _, err := uuid.Parse(p.PatientID); err != nil {
		// It would never heal on retry; the dead letter shows it to an admin.
		return fmt.Errorf("%s %s: patient id is not a UUID", e.Type, e.ID)
	}
	if err := s.erase(ctx, tx, p.PatientID); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	return nil
}
