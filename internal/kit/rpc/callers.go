package rpc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/secondopinion/platform/internal/kit/authn"
)

// Callers is an internal API's policy: for each procedure (as
// "/package.Service/Method"), the services that may call it. A procedure
// that is not listed admits nobody, so a new method is closed until its
// callers are named.
type Callers map[string][]string

// Guard admits a call only from a verified service identity listed for the
// procedure. The identity is the principal the platform middleware verified
// from the call's bearer token; a patient's or professional's token never
// reaches an internal API.
func Guard(c Callers) connect.HandlerOption {
	return connect.WithInterceptors(guard(c))
}

// Anyone, listed as a procedure's caller, admits every caller, anonymous
// ones too: only for the exchange that turns a credential into an identity.
const Anyone = "*"

type guard Callers

func (g guard) check(ctx context.Context, procedure string) error {
	p := authn.FromContext(ctx)
	if slices.Contains(g[procedure], Anyone) {
		return nil
	}
	if p.Anonymous() {
		return connect.NewError(connect.CodeUnauthenticated, errors.New("a service identity is required"))
	}
	if p.Role != authn.RoleService || !slices.Contains(g[procedure], p.Subject) {
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s may not call %s", p.Role, procedure))
	}
	return nil
}

func (g guard) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := g.check(ctx, req.Spec().Procedure); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (g guard) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (g guard) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := g.check(ctx, conn.Spec().Procedure); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// TokenSource issues the bearer token a service presents to its peers.
type TokenSource func(ctx context.Context) (token string, expires time.Time, err error)

// WithIdentity returns a client that presents the service identity from
// src on every call. Tokens are reused until a minute before they expire.
func WithIdentity(c *http.Client, src TokenSource) *http.Client {
	out := *c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out.Transport = &identityTransport{base: base, src: src}
	return &out
}

type identityTransport struct {
	base http.RoundTripper
	src  TokenSource

	mu      sync.Mutex
	token   string
	expires time.Time
}

func (t *identityTransport) current(ctx context.Context) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && time.Until(t.expires) > time.Minute {
		return t.token, nil
	}
	tok, exp, err := t.src(ctx)
	if err != nil {
		return "", fmt.Errorf("service identity: %w", err)
	}
	t.token, t.expires = tok, exp
	return tok, nil
}

func (t *identityTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	tok, err := t.current(r.Context())
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return t.base.RoundTrip(r)
}
