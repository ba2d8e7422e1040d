package events

import (
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
)

// Producers of the patient domain.
const (
	PatientIdentity = "patient-identity"
	CaseManagement  = "case-management"
)

// PatientRegistered is patient.registered: a patient and their login exist.
type PatientRegistered struct {
	PatientID        string        `json:"patientId" format:"uuid"`
	PreferredChannel vocab.Channel `json:"preferredChannel"`
	Timestamp        time.Time     `json:"timestamp"`
}

// PatientUpdated is patient.updated: which profile fields changed, never
// their values.
type PatientUpdated struct {
	PatientID     string    `json:"patientId" format:"uuid"`
	ChangedFields []string  `json:"changedFields"`
	Timestamp     time.Time `json:"timestamp"`
}

// PatientErased is patient.erased: the patient asked to be forgotten (GDPR
// Art. 17), or an admin erased them. Every service holding their data
// removes or anonymises it on receipt; see docs/retention.md.
type PatientErased struct {
	PatientID string    `json:"patientId" format:"uuid"`
	Timestamp time.Time `json:"timestamp"`
}

// CaseErased is case.erased: a case of an erased patient is gone from
// case-management. The services that know the case but not its patient
// (the professional domain) remove or anonymise what they hold of it.
type CaseErased struct {
	CaseID    string    `json:"caseId" format:"uuid"`
	Timestamp time.Time `json:"timestamp"`
}

// CaseCreated is the migration plan's case.created, exactly.
type CaseCreated struct {
	CaseID     string    `json:"caseId" format:"uuid"`
	CustomerID string    `json:"customerId" format:"uuid"`
	CaseNumber string    `json:"caseNumber" example:"EU-2026-7KQ2ZD"`
	Timestamp  time.Time `json:"timestamp"`
}

// CaseSubmitted is case.submitted: the patient sent the case on its way.
type CaseSubmitted struct {
	CaseID     string          `json:"caseId" format:"uuid"`
	CustomerID string          `json:"customerId" format:"uuid"`
	CaseNumber string          `json:"caseNumber"`
	Specialty  vocab.Specialty `json:"specialty"`
	Urgency    vocab.Urgency   `json:"urgency"`
	Timestamp  time.Time       `json:"timestamp"`
}

// CaseStatusChanged is case.status_changed, one per step of the lifecycle.
type CaseStatusChanged struct {
	CaseID     string           `json:"caseId" format:"uuid"`
	CaseNumber string           `json:"caseNumber"`
	From       vocab.CaseStatus `json:"from"`
	To         vocab.CaseStatus `json:"to"`
	// Trigger is submit, cancel or the event type that moved the case.
	Trigger   string    `json:"trigger"`
	Timestamp time.Time `json:"timestamp"`
}

// CaseAwaitingAssignment is case.awaiting_assignment, each time a case
// enters the pool: what matching needs, de-identified (an age band; no
// title, question or birth date), and the patient's id, by which the pool
// holds the case until the patient's consent to share it with
// professionals is in force. The pool never shows that id to
// professionals.
type CaseAwaitingAssignment struct {
	CaseID     string          `json:"caseId" format:"uuid"`
	CustomerID string          `json:"customerId" format:"uuid"`
	CaseNumber string          `json:"caseNumber"`
	Specialty  vocab.Specialty `json:"specialty"`
	Urgency    vocab.Urgency   `json:"urgency"`
	Language   vocab.Language  `json:"language"`
	AgeBand    vocab.AgeBand   `json:"ageBand"`
	Timestamp  time.Time       `json:"timestamp"`
}

// CaseClosed is case.cancelled and case.completed.
type CaseClosed struct {
	CaseID     string    `json:"caseId" format:"uuid"`
	CaseNumber string    `json:"caseNumber"`
	Timestamp  time.Time `json:"timestamp"`
}

var (
	PatientRegisteredV1 = bus.Contract[PatientRegistered]{Type: "patient.registered", Version: 1, Producer: PatientIdentity,
		Summary: "A patient registered, with their login."}
	PatientUpdatedV1 = bus.Contract[PatientUpdated]{Type: "patient.updated", Version: 1, Producer: PatientIdentity,
		Summary: "A patient's profile changed; the payload names the fields, not their values."}

	PatientErasedV1 = bus.Contract[PatientErased]{Type: "patient.erased", Version: 1, Producer: PatientIdentity,
		Summary: "A patient was erased: every service removes or anonymises what it holds of them."}
	CaseErasedV1 = bus.Contract[CaseErased]{Type: "case.erased", Version: 1, Producer: CaseManagement,
		Summary: "A case of an erased patient was removed: the services that hold the case anonymise it."}
	CaseCreatedV1 = bus.Contract[CaseCreated]{Type: "case.created", Version: 1, Producer: CaseManagement,
		Summary: "A patient opened a case (DRAFT)."}
	CaseSubmittedV1 = bus.Contract[CaseSubmitted]{Type: "case.submitted", Version: 1, Producer: CaseManagement,
		Summary: "A case was submitted."}
	CaseStatusChangedV1 = bus.Contract[CaseStatusChanged]{Type: "case.status_changed", Version: 1, Producer: CaseManagement,
		Summary: "A case moved one step in its lifecycle."}
	CaseAwaitingAssignmentV1 = bus.Contract[CaseAwaitingAssignment]{Type: "case.awaiting_assignment", Version: 1, Producer: CaseManagement,
		Summary: "A case entered the pool of open cases, de-identified for matching."}
	CaseCancelledV1 = bus.Contract[CaseClosed]{Type: "case.cancelled", Version: 1, Producer: CaseManagement,
		Summary: "A case was cancelled."}
	CaseCompletedV1 = bus.Contract[CaseClosed]{Type: "case.completed", Version: 1, Producer: CaseManagement,
		Summary: "A case's opinion was approved: the case is complete."}
)
