package patientidentity

import (
	"time"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/services/patient/patient-identity/store"
)

// Published events carry ids and choices, never names, contact details or
// birth dates: consumers that need them ask PatientService, where access
// is checked. The service consumes no events.

func registeredEvent(p store.Patient) (bus.Event, error) {
	return events.PatientRegisteredV1.New(Name, p.ID, events.PatientRegistered{PatientID: p.ID,
		PreferredChannel: vocab.Channel(p.PreferredChannel), Timestamp: p.CreatedAt})
}

// updatedEvent names the fields of patient id that changed, not their values.
func updatedEvent(id string, changed []string, at time.Time) (bus.Event, error) {
	return events.PatientUpdatedV1.New(Name, id, events.PatientUpdated{PatientID: id, ChangedFields: changed, Timestamp: at})
}
