// Package authn owns the caller's verified identity: the Principal, the one
// middleware that puts it into a request's context, and the Verifier seam
// that turns a bearer token into a Principal. Nothing else may create a
// Principal from a request, so no header or body can make a caller someone.
package authn

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// Role is what a principal may act as.
type Role string

const (
	RolePatient      Role = "patient"
	RoleProfessional Role = "professional"
	RoleAdmin        Role = "admin"
	RoleService      Role = "service" // another service of ours
)

// Principal is a verified caller. The zero value is the anonymous caller.
type Principal struct {
	Subject string // user id, or service name for RoleService
	Role    Role
	Session string
}

// Anonymous reports whether no credential was verified.
func (p Principal) Anonymous() bool { return p.Subject == "" }

type ctxKey struct{}

// FromContext returns the verified principal, or the anonymous one.
func FromContext(ctx context.Context) Principal {
	p, _ := ctx.Value(ctxKey{}).(Principal)
	return p
}

// withPrincipal is unexported on purpose: only Middleware (after a
// Verifier accepted a token) and tests in this package attach identities.
func withPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// Verifier checks a bearer token and says whom it belongs to. An error
// refuses the token, unless it is a fault of a kind other than
// KindUnauthenticated: then the verifier could not check it (see
// Middleware).
type Verifier interface {
	Verify(ctx context.Context, token string) (Principal, error)
}

// ErrNoVerifier is returned while no token issuer is configured: every
// presented token is refused rather than trusted.
var ErrNoVerifier = errors.New("no token verifier configured")

// RejectAll is the Verifier used until token verification is configured.
type RejectAll struct{}

func (RejectAll) Verify(context.Context, string) (Principal, error) {
	return Principal{}, ErrNoVerifier
}

// Middleware puts the principal named by the Authorization bearer token into
// the request context. No token means anonymous; a token that does not
// verify is answered 401 at once, so a bad credential never degrades to
// anonymous access silently. A verifier that could not decide — its session
// store is down — says so with a fault of another kind, which is answered
// as it is (503): a 401 would make the client drop a good token and log its
// user out. Write is the problem writer of the caller's HTTP stack.
func Middleware(v Verifier, write func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Get("Authorization")
			if h == "" {
				next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), Principal{})))
				return
			}
			scheme, token, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
				write(w, r, fault.Unauthenticated("Authorization must be a Bearer token"))
				return
			}
			p, err := v.Verify(r.Context(), token)
			if f, ok := fault.As(err); ok && f.Kind != fault.KindUnauthenticated {
				write(w, r, err)
				return
			}
			if err != nil || p.Anonymous() {
				write(w, r, fault.Unauthenticated("the access token is not valid"))
				return
			}
			next.ServeHTTP(w, r.WithContext(withPrincipal(r.Context(), p)))
		})
	}
}
