package events

import (
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
)

// PatientConsent produces the events of patients' consents.
const PatientConsent = "patient-consent"

// ConsentChanged is consent.granted and consent.withdrawn: a patient's
// consent for one purpose, and the version of the consent text it names
// (for a withdrawal, the version that was withdrawn). Revision orders the
// changes of one consent: a consumer that keeps the state keeps the
// highest revision, since a retried event may arrive after a later one.
type ConsentChanged struct {
	PatientID string               `json:"patientId" format:"uuid"`
	Purpose   vocab.ConsentPurpose `json:"purpose" enum:"AI_PROCESSING,SHARE_WITH_PROFESSIONALS,RESEARCH"`
	Version   string               `json:"version" doc:"the consent text's version"`
	Revision  int                  `json:"revision,omitempty" minimum:"1" doc:"counts the changes of this patient's consent for this purpose from 1; absent from events emitted before it was added"`
	Timestamp time.Time            `json:"timestamp"`
}

var (
	ConsentGrantedV1 = bus.Contract[ConsentChanged]{Type: "consent.granted", Version: 1, Producer: PatientConsent,
		Summary: "A patient granted a consent for a purpose, naming the text version they agreed to."}
	ConsentWithdrawnV1 = bus.Contract[ConsentChanged]{Type: "consent.withdrawn", Version: 1, Producer: PatientConsent,
		Summary: "A patient withdrew their consent for a purpose."}
)
