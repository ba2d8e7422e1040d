package patientidentity

import "time"

// Event types this service publishes. Payloads carry ids and choices,
// never names, contact details or birth dates: consumers that need them
// ask PatientService, where access is checked.
const (
	EventRegistered = "patient.registered"
	EventUpdated    = "patient.updated"
)

// Registered is the payload of patient.registered.
type Registered struct {
	PatientID        string    `json:"patientId"`
	PreferredChannel Channel   `json:"preferredChannel"`
	Timestamp        time.Time `json:"timestamp"`
}

// Updated is the payload of patient.updated: which fields changed, not
// their values.
type Updated struct {
	PatientID     string    `json:"patientId"`
	ChangedFields []string  `json:"changedFields"`
	Timestamp     time.Time `json:"timestamp"`
}
