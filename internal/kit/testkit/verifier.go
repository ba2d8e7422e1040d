package testkit

import (
	"context"
	"errors"

	"github.com/secondopinion/platform/internal/kit/authn"
)

// Tokens is a Verifier for tests: each map key is a bearer token that
// stands for its principal. Production code never imports testkit.
type Tokens map[string]authn.Principal

func (t Tokens) Verify(_ context.Context, token string) (authn.Principal, error) {
	p, ok := t[token]
	if !ok {
		return authn.Principal{}, errors.New("unknown test token")
	}
	return p, nil
}
