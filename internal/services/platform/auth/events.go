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
