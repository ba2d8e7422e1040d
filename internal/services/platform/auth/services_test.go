package auth_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"connectrpc.com/connect"

	authv1 "github.com/secondopinion/platform/api/gen/auth/v1"
	"github.com/secondopinion/platform/api/gen/auth/v1/authv1connect"
	authclient "github.com/secondopinion/platform/internal/clients/auth"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

const serviceSecret = "a service secret of some length"

func staticToken(tok string) rpc.TokenSource {
	return func(context.Context) (string, time.Time, error) { return tok, time.Now().Add(time.Hour), nil }
}

// TestInternalAPIAdmitsOnlyNamedServices: logins are created only by the
// registrations, each presenting its own service identity.
func TestInternalAPIAdmitsOnlyNamedServices(t *testing.T) {
	f := startSQLite(t)
	f.user(t, "pat@example.org", "patient", "")
	access := str(f.login(t, "pat@example.org", password), "accessToken")
	create := func(c authv1connect.AuthServiceClient) connect.Code {
		_, err := c.CreateUser(context.Background(), connect.NewRequest(&authv1.CreateUserRequest{
			Email: "new@example.org", Password: password, Role: "admin"}))
		if err == nil {
			return 0
		}
		return connect.CodeOf(err)
	}
	client := func(src rpc.TokenSource) authv1connect.AuthServiceClient {
		h := f.mem.Client()
		if src != nil {
			h = rpc.WithIdentity(h, src)
		}
		return authv1connect.NewAuthServiceClient(h, rpc.BaseURL, rpc.ClientOptions()...)
	}
	for name, tc := range map[string]struct {
		src  rpc.TokenSource
		want connect.Code
	}{
		"anonymous":             {nil, connect.CodeUnauthenticated},
		"a patient's token":     {staticToken(access), connect.CodePermissionDenied},
		"an unlisted service":   {f.svc.ServiceToken("case-management"), connect.CodePermissionDenied},
		"a forged signature":    {staticToken(access[:len(access)-4] + "AAAA"), connect.CodeUnauthenticated},
		"professional-identity": {f.svc.ServiceToken("professional-identity"), 0},
	} {
		if got := create(client(tc.src)); got != tc.want {
			t.Errorf("%s: code %v, want %v", name, got, tc.want)
		}
	}
}

// TestServiceCredentialExchange: a service in another process trades its
// secret for a token whose subject is its name and whose role is service,
// through auth's client.
func TestServiceCredentialExchange(t *testing.T) {
	f := startSQLite(t)
	c := authclient.New(service.Peer{HTTP: f.mem.Client(), URL: rpc.BaseURL}, slog.Default())
	tok, _, err := c.ServiceToken("professional-identity", serviceSecret)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Verifier().Verify(context.Background(), tok)
	if err != nil || p != (authn.Principal{Subject: "professional-identity", Role: authn.RoleService}) {
		t.Fatalf("service token verifies as %+v, %v", p, err)
	}
	for _, bad := range [][2]string{
		{"professional-identity", serviceSecret + "x"},
		{"case-management", serviceSecret},
		{"professional-identity", ""},
	} {
		_, _, err := c.ServiceToken(bad[0], bad[1])(context.Background())
		if connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Errorf("%s with a wrong secret: %v, want unauthenticated", bad[0], err)
		}
	}
}
