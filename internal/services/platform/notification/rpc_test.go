package notification

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	platformv1 "github.com/secondopinion/platform/api/gen/platform/v1"
	"github.com/secondopinion/platform/api/gen/platform/v1/platformv1connect"
	"github.com/secondopinion/platform/internal/clients/notification"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

func as(mem *rpc.InProcess, token string) *http.Client {
	return rpc.WithIdentity(mem.Client(), func(context.Context) (string, time.Time, error) {
		return token, time.Now().Add(time.Hour), nil
	})
}

// auth's secrets go out at once, worded by notification, by email or SMS;
// the delivery log keeps their purpose and outcome, never the secret or
// the address. Only auth may send them.
func TestSendSecret(t *testing.T) {
	pauses := secretPauses
	secretPauses = []time.Duration{time.Millisecond, time.Millisecond}
	t.Cleanup(func() { secretPauses = pauses })
	each(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		c := notification.New(service.Peer{HTTP: as(f.mem, "service:auth"), URL: rpc.BaseURL})
		user := uuid.NewString()
		if err := c.SendSecret(ctx, notification.Secret{UserID: user, Channel: "EMAIL", To: "eve@example.org", Purpose: "LOGIN",
			Code: "482913", Language: "de"}); err != nil {
			t.Fatal(err)
		}
		if err := c.SendSecret(ctx, notification.Secret{UserID: user, Channel: "SMS", To: "+4915100000001", Purpose: "PASSWORD_RESET",
			Code: "reset-token-abcdefghijklmnopqrstuvwxyz0123456"}); err != nil {
			t.Fatal(err)
		}
		emails, texts := f.sink.sent()
		if len(emails) != 1 || emails[0].To[0] != "eve@example.org" || !strings.Contains(emails[0].Text, "482913") ||
			!strings.Contains(emails[0].Subject, "Anmeldecode") || emails[0].RecipientID != user {
			t.Fatalf("emails: %+v", emails)
		}
		if len(texts) != 1 || texts[0].To != "+4915100000001" || !strings.Contains(texts[0].Body, "reset-token-abcdefghijklmnopqrstuvwxyz0123456") {
			t.Fatalf("SMS: %+v", texts)
		}
		sent := f.deliveries(t, "SENT")
		if len(sent) != 2 || sent[0].Audience != "user" || sent[0].RecipientID != user || sent[0].NotificationID != "" ||
			sent[0].Kind != "secret_password_reset" || sent[0].Channel != "SMS" || sent[0].Attempts != 1 {
			t.Errorf("log: %+v", sent)
		}
		for _, table := range []string{"deliveries", "notifications", "outbox"} {
			if n := testkit.CountContaining(t, f.db, table, "482913", "reset-token", "eve@example.org", "+4915100000001"); n != 0 {
				t.Errorf("%s keeps a secret or an address", table)
			}
		}
		if len(f.notices(t, "patient-a")) != 0 {
			t.Error("a secret became an in-app notice")
		}

		// The provider down: a few quick tries, then UNAVAILABLE, and
		// the log says so.
		f.sink.setFail(errors.New("smtp: connection refused"))
		err := c.SendSecret(ctx, notification.Secret{UserID: user, Channel: "EMAIL", To: "eve@example.org", Purpose: "LOGIN", Code: "111111"})
		if !fault.Is(err, fault.KindUnavailable) {
			t.Fatalf("provider down: %v", err)
		}
		dead := f.deliveries(t, "DEAD")
		if len(dead) != 1 || dead[0].Attempts != 3 || !strings.Contains(dead[0].LastError, "refused") {
			t.Errorf("failed secret: %+v", dead)
		}
		if r := f.call(t, http.MethodPost, "/api/v1/notifications/deliveries/"+dead[0].ID+"/retry", "admin"); r.status != 409 {
			t.Errorf("a secret replayed: %d", r.status)
		}

		for _, bad := range []*platformv1.SendSecretRequest{
			{Channel: "EMAIL", To: "x@example.org", Purpose: "HELLO", Code: "1"},
			{Channel: "FAX", To: "x@example.org", Purpose: "LOGIN", Code: "1"},
			{Channel: "EMAIL", Purpose: "LOGIN", Code: "1"},
			{Channel: "EMAIL", To: "x@example.org", Purpose: "LOGIN"},
			{UserId: "nope", Channel: "EMAIL", To: "x@example.org", Purpose: "LOGIN", Code: "1"},
		} {
			api := platformv1connect.NewNotificationServiceClient(as(f.mem, "service:auth"), rpc.BaseURL, rpc.ClientOptions()...)
			if _, err := api.SendSecret(ctx, connect.NewRequest(bad)); connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Errorf("%v: %v", bad, err)
			}
		}
		for token, want := range map[string]connect.Code{"service:case-management": connect.CodePermissionDenied,
			"patient-a": connect.CodePermissionDenied, "": connect.CodeUnauthenticated} {
			api := platformv1connect.NewNotificationServiceClient(as(f.mem, token), rpc.BaseURL, rpc.ClientOptions()...)
			_, err := api.SendSecret(ctx, connect.NewRequest(&platformv1.SendSecretRequest{Channel: "EMAIL", To: "x@example.org",
				Purpose: "LOGIN", Code: "1"}))
			if connect.CodeOf(err) != want {
				t.Errorf("%q: %v, want %v", token, err, want)
			}
		}
	})
}
