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
// (for a withdrawal, the version that was withdrawn).
type ConsentChanged struct {
	PatientID string               `json:"patientId" format:"uuid"`
	Purpose   vocab.ConsentPurpose `json:"purpose" enum:"AI_PROCESSING,SHARE_WITH_PROFESSIONALS,RESEARCH"`
	Version   string               `json:"version" doc:"the consent text's version"`
	Timestamp time.Time            `json:"timestamp"`
}

var (
	ConsentGrantedV1 = bus.Contract[ConsentChanged]{Type: "consent.granted", Version: 1, Producer: PatientConsent,
		Summary: "A patient granted a consent for a purpose, naming the text version they agreed to."}
	ConsentWithdrawnV1 = bus.Contract[ConsentChanged]{Type: "consent.withdrawn", Version: 1, Producer: PatientConsent,
		Summary: "A patient withdrew their consent for a purpose."}
)
