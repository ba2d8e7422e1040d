package events

import (
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
)

// Auth produces the events of logins and second factors.
const Auth = "auth"

// CodeRequested is auth.code_requested: a one-time code or reset link was
// sent. The secret itself never travels on the bus.
type CodeRequested struct {
	UserID  string        `json:"userId" format:"uuid"`
	Channel vocab.Channel `json:"channel"`
	Purpose string        `json:"purpose" enum:"LOGIN,PASSWORD_RESET"`
}

// UserLocked is user.locked: repeated failures locked an account.
type UserLocked struct {
	UserID      string    `json:"userId" format:"uuid"`
	LockedUntil time.Time `json:"lockedUntil"`
}

// RecoveryCodeUsed is auth.recovery_code_used: a login was completed with
// a TOTP recovery code.
type RecoveryCodeUsed struct {
	UserID    string    `json:"userId" format:"uuid"`
	Remaining int       `json:"remaining" doc:"unused codes left"`
	Timestamp time.Time `json:"timestamp"`
}

// TwoFactorChanged is auth.two_factor_changed: the second factor was
// chosen (NONE, EMAIL, SMS) or TOTP was confirmed.
type TwoFactorChanged struct {
	UserID    string    `json:"userId" format:"uuid"`
	Method    string    `json:"method" enum:"NONE,EMAIL,SMS,TOTP"`
	Timestamp time.Time `json:"timestamp"`
}

var (
	CodeRequestedV1 = bus.Contract[CodeRequested]{Type: "auth.code_requested", Version: 1, Producer: Auth,
		Summary: "A second-factor code or a password-reset link was sent to a user."}
	UserLockedV1 = bus.Contract[UserLocked]{Type: "user.locked", Version: 1, Producer: Auth,
		Summary: "Repeated failed logins locked an account for a while."}
	RecoveryCodeUsedV1 = bus.Contract[RecoveryCodeUsed]{Type: "auth.recovery_code_used", Version: 1, Producer: Auth,
		Summary: "A login was completed with a TOTP recovery code."}
	TwoFactorChangedV1 = bus.Contract[TwoFactorChanged]{Type: "auth.two_factor_changed", Version: 1, Producer: Auth,
		Summary: "A user's second factor changed."}

	// AuditRecordedV1 is every service's record of an access to health
	// data, which the audit service chains (kit/audit emits it).
	AuditRecordedV1 = audit.Recorded

	// DeadLetteredV1 is every consumer's notice of an event it gave up
	// on (kit/outbox emits it).
	DeadLetteredV1 = outbox.DeadLettered
)

var catalogue = []bus.Description{
	PatientRegisteredV1.Describe(), PatientUpdatedV1.Describe(), PatientErasedV1.Describe(), CaseErasedV1.Describe(),
	CaseCreatedV1.Describe(), CaseSubmittedV1.Describe(), CaseStatusChangedV1.Describe(),
	CaseAwaitingAssignmentV1.Describe(), CaseCancelledV1.Describe(), CaseCompletedV1.Describe(),
	ConsentGrantedV1.Describe(), ConsentWithdrawnV1.Describe(),
	DocumentUploadedV1.Describe(), DocumentDeletedV1.Describe(),

	ProfessionalRegisteredV1.Describe(), ProfessionalUpdatedV1.Describe(),
	CredentialSubmittedV1.Describe(), CredentialVerifiedV1.Describe(), CredentialRejectedV1.Describe(),
	ProfessionalVerifiedV1.Describe(), ProfessionalSuspendedV1.Describe(), ProfessionalLevelChangedV1.Describe(),
	CaseAssignedV1.Describe(), AssignmentExpiredV1.Describe(), AssignmentReleasedV1.Describe(), AssignmentEscalatedV1.Describe(),
	CaseOfferedV1.Describe(), DeadlineApproachingV1.Describe(),
	OpinionSubmittedV1.Describe(), OpinionChangesRequestedV1.Describe(), OpinionApprovedV1.Describe(),
	OpinionQuestionAskedV1.Describe(), OpinionQuestionAnsweredV1.Describe(),

	AnalysisStartedV1.Describe(), AnalysisCompletedV1.Describe(), CaseOrphanedV1.Describe(),
	RequestCompletedV1.Describe(), RequestFailedV1.Describe(), RequestPricedV1.Describe(), BudgetExceededV1.Describe(),

	PaymentSucceededV1.Describe(), PaymentFailedV1.Describe(), PaymentRefundedV1.Describe(), InvoiceIssuedV1.Describe(),
	PayoutBatchCreatedV1.Describe(), PayoutPaidV1.Describe(),

	CodeRequestedV1.Describe(), UserLockedV1.Describe(), RecoveryCodeUsedV1.Describe(), TwoFactorChangedV1.Describe(),
	AuditRecordedV1.Describe(), DeadLetteredV1.Describe(),
}
