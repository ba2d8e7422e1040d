package notification

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	platformv1 "github.com/secondopinion/platform/api/gen/platform/v1"
	"github.com/secondopinion/platform/api/gen/platform/v1/platformv1connect"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/services/platform/notification/domain"
)

// rpcCallers is who may call the internal NotificationService: auth,
// which sends its sign-in codes and reset tokens through it.
var rpcCallers = rpc.Callers{
	platformv1connect.NotificationServiceSendSecretProcedure: {"auth"},
}

// rpcServer is the internal NotificationService.
type rpcServer struct {
	platformv1connect.UnimplementedNotificationServiceHandler
	s *Service
}

// secretPauses are the waits between the attempts of a secret: it is
// wanted now, so a few quick retries ride out a blip, and then the user
// is told to try again (auth answers 503).
var secretPauses = []time.Duration{200 * time.Millisecond, time.Second}

// SendSecret sends a secret at once and logs the delivery's purpose and
// outcome, never the secret or the address.
func (r *rpcServer) SendSecret(ctx context.Context, req *connect.Request[platformv1.SendSecretRequest]) (*connect.Response[platformv1.SendSecretResponse], error) {
	m := req.Msg
	kind, ok := domain.SecretKind(m.GetPurpose())
	switch {
	case !ok:
		return nil, rpc.Error(ctx, fault.Invalid("purpose", "must be LOGIN or PASSWORD_RESET"))
	case m.GetChannel() != string(vocab.Email) && m.GetChannel() != string(vocab.SMS):
		return nil, rpc.Error(ctx, fault.Invalid("channel", "must be EMAIL or SMS"))
	case m.GetTo() == "":
		return nil, rpc.Error(ctx, fault.Invalid("to", "is required"))
	case m.GetCode() == "":
		return nil, rpc.Error(ctx, fault.Invalid("code", "is required"))
	}
	if m.GetUserId() != "" {
		if _, err := uuid.Parse(m.GetUserId()); err != nil {
			return nil, rpc.Error(ctx, fault.Invalid("user_id", "must be a UUID"))
		}
	}
	s := r.s
	msg, err := domain.Render(vocab.Language(m.GetLanguage()), kind, "", domain.Params{Code: m.GetCode()}, s.cfg.AppURL)
	if err != nil {
		return nil, rpc.Error(ctx, err)
	}
	a := addressee{channel: vocab.Channel(m.GetChannel()), to: []string{m.GetTo()}}
	attempts := 0
	for {
		attempts++
		err = s.send(ctx, m.GetUserId(), a, msg)
		if err == nil || attempts > len(secretPauses) || !pause(ctx, secretPauses[attempts-1]) {
			break
		}
	}
	status, lastError := domain.Sent, ""
	if err != nil {
		status, lastError = domain.Dead, err.Error()
	}
	id, lerr := s.store.LogSecret(context.WithoutCancel(ctx), m.GetUserId(), kind, m.GetChannel(), status, attempts, lastError, s.now())
	if lerr != nil {
		s.Log.ErrorContext(ctx, "log secret delivery", "err", lerr)
	}
	if err != nil {
		s.Log.WarnContext(ctx, "secret not delivered", "delivery", id, "kind", kind, "attempts", attempts, "err", err)
		return nil, rpc.Error(ctx, fault.Unavailable(m.GetChannel()+" delivery", err))
	}
	return connect.NewResponse(&platformv1.SendSecretResponse{DeliveryId: id}), nil
}

// pause waits d, or less when ctx ends: false then.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
