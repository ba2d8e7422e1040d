package auth

import (
	"context"

	"github.com/secondopinion/platform/internal/clients/notification"
)

// Message is one secret to a user: a sign-in code or a reset token. It
// carries the secret, so it goes to the Mailer and never into an event or
// a log.
type Message struct {
	UserID  string
	Channel string // EMAIL or SMS
	To      string // email address or E.164 phone number
	Purpose string // purposeLogin or purposePasswordReset
	Code    string
}

// Mailer delivers secrets to users: the notification service, which
// words, sends and logs them (notifier), or a test's stand-in.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// notifier is the Mailer over the notification service's SendSecret.
type notifier struct{ c *notification.Client }

func (n notifier) Send(ctx context.Context, m Message) error {
	return n.c.SendSecret(ctx, notification.Secret{UserID: m.UserID, Channel: m.Channel, To: m.To, Purpose: m.Purpose, Code: m.Code})
}
