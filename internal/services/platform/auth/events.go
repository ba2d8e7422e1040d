package auth

// Events the auth service publishes. Payloads carry ids and kinds only:
// never an email, a phone number, a code or a token.
const (
	EventCodeRequested = "auth.code_requested"
	EventUserLocked    = "user.locked"
)

// CodeRequested says a secret was sent to a user: the notification service
// may record the delivery; the secret itself travels only through the Mailer.
type CodeRequested struct {
	UserID  string `json:"userId"`
	Channel string `json:"channel"` // EMAIL or SMS
	Purpose string `json:"purpose"` // LOGIN or PASSWORD_RESET
}

// UserLocked says an account was locked after repeated failures.
type UserLocked struct {
	UserID      string `json:"userId"`
	LockedUntil string `json:"lockedUntil"`
}

// Events of second-factor changes, for the audit trail.
const (
	EventRecoveryCodeUsed = "auth.recovery_code_used"
	EventTwoFactorChanged = "auth.two_factor_changed"
)

// RecoveryCodeUsed says a login was completed with a TOTP recovery code.
type RecoveryCodeUsed struct {
	UserID    string `json:"userId"`
	Remaining int    `json:"remaining"` // unused codes left
	Timestamp string `json:"timestamp"` // RFC 3339
}

// TwoFactorChanged says a user's second factor changed: chosen (NONE,
// EMAIL, SMS) or TOTP after a confirmed enrolment.
type TwoFactorChanged struct {
	UserID    string `json:"userId"`
	Method    string `json:"method"`
	Timestamp string `json:"timestamp"` // RFC 3339
}
