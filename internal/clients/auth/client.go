// Package auth is the client of auth's internal AuthService: the
// registrations (patients, professionals) create the login whose user id
// becomes the profile's id, and delete it again when the profile cannot be
// stored, so neither half is left without the other; a service running
// apart from auth exchanges its SERVICE_SECRET for the identity it
// presents to its peers.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	authv1 "github.com/secondopinion/platform/api/gen/auth/v1"
	"github.com/secondopinion/platform/api/gen/auth/v1/authv1connect"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Target is the service this client reaches.
const Target = "auth"

// timeout bounds a call to auth, which hashes the password at bcrypt cost
// 12 when creating a login.
const timeout = 10 * time.Second

// ErrEmailTaken is auth's answer when another user has the email; the
// registration answers it with its own wording.
var ErrEmailTaken = errors.New("email taken by another login")

// Client reaches AuthService.
type Client struct {
	auth   authv1connect.AuthServiceClient
	health *grpchealth.Client
	log    *slog.Logger
}

// New reaches auth at peer; log records compensations.
func New(peer service.Peer, log *slog.Logger) *Client {
	return &Client{auth: authv1connect.NewAuthServiceClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		health: grpchealth.NewClient(peer.HTTP, peer.URL, rpc.ClientOptions()...), log: log}
}

// Login is what a registration asks auth for.
type Login struct {
	Email, Password, Role, Phone string
}

// Create creates l and returns its user id. A rule auth refuses one of
// l's fields with becomes the registration's 422 on that field, unless it
// repeats a submitted value; a taken email is ErrEmailTaken; auth down or
// slow is a 503.
func (c *Client) Create(ctx context.Context, l Login) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.auth.CreateUser(ctx, connect.NewRequest(&authv1.CreateUserRequest{
		Email: l.Email, Password: l.Password, Role: l.Role, Phone: l.Phone,
	}))
	if err != nil {
		return "", l.refusal(err)
	}
	return res.Msg.UserId, nil
}

// refusal classifies auth's refusal of l. auth's messages are
// "field: rule"; a rule is passed on only when it repeats none of the
// submitted values.
func (l Login) refusal(err error) error {
	switch connect.CodeOf(err) {
	case connect.CodeAlreadyExists:
		return ErrEmailTaken
	case connect.CodeInvalidArgument:
		var ce *connect.Error
		errors.As(err, &ce) // CodeOf found one
		field, rule, _ := strings.Cut(ce.Message(), ": ")
		sent := []string{"password", "email"}
		if l.Phone != "" {
			sent = append(sent, "phone")
		}
		if !slices.Contains(sent, field) {
			return fmt.Errorf("create login: auth refused a field this service sets: %s", field)
		}
		for _, v := range []string{l.Password, l.Email, l.Phone} {
			if v != "" && strings.Contains(rule, v) {
				rule = "is not accepted"
			}
		}
		return fault.Invalid(field, "%s", rule)
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeResourceExhausted:
		return fault.Unavailable(Target, err)
	default:
		return fmt.Errorf("create login: %w", err)
	}
}

// Drop deletes the login of a registration whose profile was not stored.
// It runs even when the caller has gone: a login without a profile would
// keep the email from being registered again.
func (c *Client) Drop(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	_, err := c.auth.DeleteUser(ctx, connect.NewRequest(&authv1.DeleteUserRequest{UserId: id}))
	if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
		c.log.ErrorContext(ctx, "login of an unstored registration not deleted", "userId", id, "code", connect.CodeOf(err).String())
		return
	}
	c.log.InfoContext(ctx, "login of an unstored registration deleted", "userId", id)
}

// CheckPassword confirms the password of patient id before their erasure;
// addr is the end user's address, on which failures count too. A wrong
// password is 403, too many failures 429, auth down or slow 503.
func (c *Client) CheckPassword(ctx context.Context, id, password, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := c.auth.CheckPassword(ctx, connect.NewRequest(&authv1.CheckPasswordRequest{
		UserId: id, Password: password, ClientAddr: addr,
	}))
	if err == nil {
		return nil
	}
	switch connect.CodeOf(err) {
	case connect.CodePermissionDenied:
		return fault.Forbidden("the password is wrong")
	case connect.CodeResourceExhausted:
		return &fault.Error{Kind: fault.KindTooMany, Title: "Too many attempts",
			Detail: "too many failed attempts; try again later"}
	default:
		return rpc.PeerError(Target, "login", id, err)
	}
}

// ServiceToken is the identity of service, exchanged for its secret at
// AuthService; tokens are short-lived, rpc.WithIdentity renews them.
func (c *Client) ServiceToken(service, secret string) rpc.TokenSource {
	return func(ctx context.Context) (string, time.Time, error) {
		res, err := c.auth.IssueServiceToken(ctx, connect.NewRequest(&authv1.IssueServiceTokenRequest{Service: service, Secret: secret}))
		if err != nil {
			return "", time.Time{}, fmt.Errorf("exchange %s's credential at auth: %w", service, err)
		}
		exp, err := time.Parse(time.RFC3339, res.Msg.ExpiresAt)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("service token expiry %q: %w", res.Msg.ExpiresAt, err)
		}
		return res.Msg.Token, exp, nil
	}
}

// Ready checks that AuthService is serving.
func (c *Client) Ready(ctx context.Context) error {
	return rpc.Serving(c.health, Target, authv1connect.AuthServiceName)(ctx)
}
