package auth

import (
	"time"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
)

// Published events carry ids and kinds only: never an email, a phone
// number, a code or a token. Each is written in the transaction of its
// change. auth consumes no events.

// Purposes of a sent secret (auth.code_requested).
const (
	purposeLogin         = "LOGIN"
	purposePasswordReset = "PASSWORD_RESET"
)

// codeRequested says a secret was sent to a user: the notification
// service may record the delivery; the secret travels only through the
// Mailer.
func codeRequested(userID string, channel vocab.Channel, purpose string) (bus.Event, error) {
	return events.CodeRequestedV1.New(Name, userID, events.CodeRequested{UserID: userID, Channel: channel, Purpose: purpose})
}

// userLocked says repeated failures locked an account until until.
func userLocked(userID string, until time.Time) (bus.Event, error) {
	return events.UserLockedV1.New(Name, userID, events.UserLocked{UserID: userID, LockedUntil: until})
}

// recoveryCodeUsed says a login was completed with a TOTP recovery code,
// remaining unused codes left.
func recoveryCodeUsed(userID string, remaining int, at time.Time) (bus.Event, error) {
	return events.RecoveryCodeUsedV1.New(Name, userID, events.RecoveryCodeUsed{UserID: userID, Remaining: remaining, Timestamp: at})
}

// twoFactorChanged says a user's second factor changed: chosen (NONE,
// EMAIL, SMS) or TOTP after a confirmed enrolment.
func twoFactorChanged(userID, method string, at time.Time) (bus.Event, error) {
	return events.TwoFactorChangedV1.New(Name, userID, events.TwoFactorChanged{UserID: userID, Method: method, Timestamp: at})
}
