package patientconsent

import (
	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/domain"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/store"
)

// Published events are about a patient, the key that keeps their consents
// in order, and carry the purpose, the text version, the revision and the
// time: never the client's address, which stays in the history. The
// service consumes no events: patient.erased has no contract yet.

// changedEvent is consent.granted or consent.withdrawn, as c did.
func changedEvent(c store.Change) (bus.Event, error) {
	contract := events.ConsentGrantedV1
	if c.Kind == domain.Withdrawn {
		contract = events.ConsentWithdrawnV1
	}
	return contract.New(Name, c.PatientID, events.ConsentChanged{PatientID: c.PatientID, Purpose: c.Purpose,
		Version: c.Version, Revision: c.Revision, Timestamp: c.At})
}
