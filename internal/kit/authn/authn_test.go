package authn_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
)

type verifierFunc func(context.Context, string) (authn.Principal, error)

func (f verifierFunc) Verify(ctx context.Context, token string) (authn.Principal, error) {
	return f(ctx, token)
}

// Only a refused token is 401: a verifier that could not check one — its
// session store is down — is answered as it said (503 with Retry-After),
// so the client keeps its token instead of logging its user out.
func TestMiddlewareTellsAnOutageFromABadToken(t *testing.T) {
	ada := authn.Principal{Subject: "ada", Role: authn.RolePatient, Session: "s1"}
	for _, c := range []struct {
		name   string
		p      authn.Principal
		err    error
		status int
	}{
		{"verified", ada, nil, http.StatusOK},
		{"refused", authn.Principal{}, authn.ErrInvalidToken, http.StatusUnauthorized},
		{"refused as unauthenticated", authn.Principal{}, fault.Unauthenticated("session ended"), http.StatusUnauthorized},
		{"no principal", authn.Principal{}, nil, http.StatusUnauthorized},
		{"session store down", authn.Principal{}, fault.Unavailable("sessions", errors.New("connection refused")), http.StatusServiceUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := verifierFunc(func(context.Context, string) (authn.Principal, error) { return c.p, c.err })
			h := authn.Middleware(v, httpapi.WriteProblem)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if authn.FromContext(r.Context()) != ada {
					t.Errorf("handler reached as %+v", authn.FromContext(r.Context()))
				}
			}))
			req := httptest.NewRequest(http.MethodGet, "/api/v1/patients/me", nil)
			req.Header.Set("Authorization", "Bearer a.b.c")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body)
			}
			if c.status == http.StatusServiceUnavailable {
				if w.Header().Get("Retry-After") == "" || w.Header().Get("Content-Type") != "application/problem+json" {
					t.Fatalf("503 without Retry-After or problem+json: %v", w.Header())
				}
			}
		})
	}
}
