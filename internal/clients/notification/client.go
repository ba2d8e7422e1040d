// Package notification is the client of the notification service's
// internal NotificationService: how auth sends its one-time secrets.
package notification

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	platformv1 "github.com/secondopinion/platform/api/gen/platform/v1"
	"github.com/secondopinion/platform/api/gen/platform/v1/platformv1connect"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Target is the service this client reaches.
const Target = "notification"

// timeout bounds a send: the service retries briefly, and a person waits.
const timeout = 15 * time.Second

// Secret is a one-time secret to send. Code is the secret: callers keep
// it, and To, out of logs.
type Secret struct {
	UserID   string // the user it is for, when known
	Channel  string // EMAIL or SMS
	To       string // email address or E.164 phone number
	Purpose  string // LOGIN or PASSWORD_RESET
	Code     string
	Language string // ISO 639-1; "" is English
}

// Client reaches NotificationService.
type Client struct {
	api    platformv1connect.NotificationServiceClient
	health *grpchealth.Client
}

// New reaches notification at peer.
func New(peer service.Peer) *Client {
	return &Client{api: platformv1connect.NewNotificationServiceClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		health: grpchealth.NewClient(peer.HTTP, peer.URL, rpc.ClientOptions()...)}
}

// SendSecret delivers s now; an error means it did not reach the
// provider (an Unavailable fault when the service or provider is down).
func (c *Client) SendSecret(ctx context.Context, s Secret) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := c.api.SendSecret(ctx, connect.NewRequest(&platformv1.SendSecretRequest{UserId: s.UserID, Channel: s.Channel,
		To: s.To, Purpose: s.Purpose, Code: s.Code, Language: s.Language}))
	if err != nil {
		return rpc.PeerError(Target, "secret for user", s.UserID, err)
	}
	return nil
}

// Ready checks that NotificationService is serving.
func (c *Client) Ready(ctx context.Context) error {
	return rpc.Serving(c.health, Target, platformv1connect.NotificationServiceName)(ctx)
}
