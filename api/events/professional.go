package events

import (
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
)

// Producers of the professional domain.
const (
	ProfessionalIdentity = "professional-identity"
	Credentialing        = "credentialing"
	CaseAssignment       = "case-assignment"
	MedicalOpinion       = "medical-opinion"
)

// ProfessionalRegistered is professional.registered: what matching needs
// of a new professional, never a name, email or bio.
type ProfessionalRegistered struct {
	ProfessionalID string            `json:"professionalId" format:"uuid"`
	ProNumber      string            `json:"proNumber" example:"PRO-EU-7KQ2ZD"`
	Specialties    []vocab.Specialty `json:"specialties"`
	Languages      []vocab.Language  `json:"languages"`
	Country        string            `json:"country" example:"DE"`
	Level          vocab.Level       `json:"level"`
	Timestamp      time.Time         `json:"timestamp"`
}

// ProfessionalUpdated is professional.updated: the full current values of
// what matching uses.
type ProfessionalUpdated struct {
	ProfessionalID string            `json:"professionalId" format:"uuid"`
	Specialties    []vocab.Specialty `json:"specialties"`
	Languages      []vocab.Language  `json:"languages"`
	Country        string            `json:"country"`
	Timestamp      time.Time         `json:"timestamp"`
}

// CredentialSubmitted is credential.submitted: a licence awaits review.
// Its number and issuing authority stay in credentialing.
type CredentialSubmitted struct {
	CredentialID   string          `json:"credentialId" format:"uuid"`
	ProfessionalID string          `json:"professionalId" format:"uuid"`
	Specialty      vocab.Specialty `json:"specialty"`
	Country        string          `json:"country"`
	ExpiresAt      time.Time       `json:"expiresAt"`
	Timestamp      time.Time       `json:"timestamp"`
}

// CredentialReviewed is credential.verified, and credential.rejected with
// its reason.
type CredentialReviewed struct {
	CredentialID   string    `json:"credentialId" format:"uuid"`
	ProfessionalID string    `json:"professionalId" format:"uuid"`
	Reason         string    `json:"reason,omitempty"`
	Timestamp      time.Time `json:"timestamp"`
}

// ProfessionalStanding is professional.verified, and
// professional.suspended with its reason.
type ProfessionalStanding struct {
	ProfessionalID string    `json:"professionalId" format:"uuid"`
	Reason         string    `json:"reason,omitempty"`
	Timestamp      time.Time `json:"timestamp"`
}

// ProfessionalLevelChanged is professional.level_changed.
type ProfessionalLevelChanged struct {
	ProfessionalID string      `json:"professionalId" format:"uuid"`
	From           vocab.Level `json:"from"`
	To             vocab.Level `json:"to"`
	Timestamp      time.Time   `json:"timestamp"`
}

// CaseAssigned is the plan's case.assigned: the first claim won.
type CaseAssigned struct {
	CaseID         string    `json:"caseId" format:"uuid"`
	ProfessionalID string    `json:"professionalId" format:"uuid"`
	AssignmentID   string    `json:"assignmentId" format:"uuid"`
	Deadline       time.Time `json:"deadline"`
	Timestamp      time.Time `json:"timestamp"`
}

// AssignmentEnded is assignment.expired and assignment.released: the case
// is back in the pool.
type AssignmentEnded struct {
	CaseID         string    `json:"caseId" format:"uuid"`
	ProfessionalID string    `json:"professionalId" format:"uuid"`
	AssignmentID   string    `json:"assignmentId" format:"uuid"`
	Timestamp      time.Time `json:"timestamp"`
}

// AssignmentEscalated is assignment.escalated: a case waited unclaimed too
// long.
type AssignmentEscalated struct {
	CaseID       string    `json:"caseId" format:"uuid"`
	CaseNumber   string    `json:"caseNumber"`
	WaitingSince time.Time `json:"waitingSince"`
	Timestamp    time.Time `json:"timestamp"`
}

// CaseOffered is assignment.case_offered: a case entered the pool (its
// consent gate passed) and these verified professionals match it. It is
// how the professionals are told; the pool itself stays the source of
// what they may claim.
type CaseOffered struct {
	CaseID          string          `json:"caseId" format:"uuid"`
	CaseNumber      string          `json:"caseNumber"`
	Specialty       vocab.Specialty `json:"specialty"`
	Urgency         vocab.Urgency   `json:"urgency"`
	ProfessionalIDs []string        `json:"professionalIds"`
	Timestamp       time.Time       `json:"timestamp"`
}

// DeadlineApproaching is assignment.deadline_approaching: a claimed case
// has used Percent (75, then 90) of the time until its deadline without a
// submitted opinion. Each threshold is told once per assignment.
type DeadlineApproaching struct {
	CaseID         string    `json:"caseId" format:"uuid"`
	ProfessionalID string    `json:"professionalId" format:"uuid"`
	AssignmentID   string    `json:"assignmentId" format:"uuid"`
	Percent        int       `json:"percent" enum:"75,90"`
	Deadline       time.Time `json:"deadline"`
	Timestamp      time.Time `json:"timestamp"`
}

// OpinionSubmitted is opinion.submitted; ReviewRequired says a peer review
// (of a JUNIOR's opinion) comes before approval.
type OpinionSubmitted struct {
	CaseID         string    `json:"caseId" format:"uuid"`
	OpinionID      string    `json:"opinionId" format:"uuid"`
	ProfessionalID string    `json:"professionalId" format:"uuid"`
	ReviewRequired bool      `json:"reviewRequired"`
	Timestamp      time.Time `json:"timestamp"`
}

// OpinionChangesRequested is opinion.changes_requested by a reviewer.
type OpinionChangesRequested struct {
	CaseID         string    `json:"caseId" format:"uuid"`
	OpinionID      string    `json:"opinionId" format:"uuid"`
	ProfessionalID string    `json:"professionalId" format:"uuid"`
	ReviewerID     string    `json:"reviewerId" format:"uuid"`
	Timestamp      time.Time `json:"timestamp"`
}

// OpinionApproved is opinion.approved: the patient may read it. It says
// what payouts accrues earnings by: the author's level when the opinion
// was submitted, and the peer reviewer who approved it (a JUNIOR's
// opinion; none when it was approved at once).
type OpinionApproved struct {
	CaseID         string      `json:"caseId" format:"uuid"`
	OpinionID      string      `json:"opinionId" format:"uuid"`
	ProfessionalID string      `json:"professionalId" format:"uuid"`
	AuthorLevel    vocab.Level `json:"authorLevel"`
	ReviewerID     string      `json:"reviewerId,omitempty" format:"uuid" doc:"the peer reviewer who approved it; absent when approved at once"`
	Timestamp      time.Time   `json:"timestamp"`
}

// OpinionQuestion is opinion.question_asked and opinion.question_answered:
// ids only, the question and answer stay in medical-opinion.
type OpinionQuestion struct {
	CaseID     string    `json:"caseId" format:"uuid"`
	OpinionID  string    `json:"opinionId" format:"uuid"`
	QuestionID string    `json:"questionId" format:"uuid"`
	Timestamp  time.Time `json:"timestamp"`
}

var (
	ProfessionalRegisteredV1 = bus.Contract[ProfessionalRegistered]{Type: "professional.registered", Version: 1, Producer: ProfessionalIdentity,
		Summary: "A professional registered (JUNIOR, pending verification)."}
	ProfessionalUpdatedV1 = bus.Contract[ProfessionalUpdated]{Type: "professional.updated", Version: 1, Producer: ProfessionalIdentity,
		Summary: "A professional's specialties, languages or country changed."}

	CredentialSubmittedV1 = bus.Contract[CredentialSubmitted]{Type: "credential.submitted", Version: 1, Producer: Credentialing,
		Summary: "A professional submitted a licence for review."}
	CredentialVerifiedV1 = bus.Contract[CredentialReviewed]{Type: "credential.verified", Version: 1, Producer: Credentialing,
		Summary: "An admin verified a licence."}
	CredentialRejectedV1 = bus.Contract[CredentialReviewed]{Type: "credential.rejected", Version: 1, Producer: Credentialing,
		Summary: "An admin rejected a licence."}
	ProfessionalVerifiedV1 = bus.Contract[ProfessionalStanding]{Type: "professional.verified", Version: 1, Producer: Credentialing,
		Summary: "A professional holds a verified, unexpired licence: they may claim cases."}
	ProfessionalSuspendedV1 = bus.Contract[ProfessionalStanding]{Type: "professional.suspended", Version: 1, Producer: Credentialing,
		Summary: "A professional lost their standing (no valid licence left)."}
	ProfessionalLevelChangedV1 = bus.Contract[ProfessionalLevelChanged]{Type: "professional.level_changed", Version: 1, Producer: Credentialing,
		Summary: "An admin changed a professional's level."}

	CaseAssignedV1 = bus.Contract[CaseAssigned]{Type: "case.assigned", Version: 1, Producer: CaseAssignment,
		Summary: "A professional claimed a case first: it is theirs until the deadline."}
	AssignmentExpiredV1 = bus.Contract[AssignmentEnded]{Type: "assignment.expired", Version: 1, Producer: CaseAssignment,
		Summary: "An assignment passed its deadline without an opinion: the case is back in the pool."}
	AssignmentReleasedV1 = bus.Contract[AssignmentEnded]{Type: "assignment.released", Version: 1, Producer: CaseAssignment,
		Summary: "A professional gave a case back: it is back in the pool."}
	AssignmentEscalatedV1 = bus.Contract[AssignmentEscalated]{Type: "assignment.escalated", Version: 1, Producer: CaseAssignment,
		Summary: "A case waited unclaimed longer than ASSIGNMENT_ESCALATE_AFTER."}
	CaseOfferedV1 = bus.Contract[CaseOffered]{Type: "assignment.case_offered", Version: 1, Producer: CaseAssignment,
		Summary: "A case entered the pool; the payload names the professionals it matches."}
	DeadlineApproachingV1 = bus.Contract[DeadlineApproaching]{Type: "assignment.deadline_approaching", Version: 1, Producer: CaseAssignment,
		Summary: "A claimed case used 75 % or 90 % of its time to deadline without a submitted opinion."}

	OpinionSubmittedV1 = bus.Contract[OpinionSubmitted]{Type: "opinion.submitted", Version: 1, Producer: MedicalOpinion,
		Summary: "A professional submitted an opinion."}
	OpinionChangesRequestedV1 = bus.Contract[OpinionChangesRequested]{Type: "opinion.changes_requested", Version: 1, Producer: MedicalOpinion,
		Summary: "A reviewer sent a JUNIOR's opinion back for changes."}
	OpinionApprovedV1 = bus.Contract[OpinionApproved]{Type: "opinion.approved", Version: 1, Producer: MedicalOpinion,
		Summary: "An opinion was approved (at once, or by a reviewer)."}
	OpinionQuestionAskedV1 = bus.Contract[OpinionQuestion]{Type: "opinion.question_asked", Version: 1, Producer: MedicalOpinion,
		Summary: "A patient asked a follow-up question."}
	OpinionQuestionAnsweredV1 = bus.Contract[OpinionQuestion]{Type: "opinion.question_answered", Version: 1, Producer: MedicalOpinion,
		Summary: "The professional answered a follow-up question."}
)
