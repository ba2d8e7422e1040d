package authn

import (
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// AccessTokenTTL is how long an access token is valid.
const AccessTokenTTL = 15 * time.Minute

// Token claims beyond the registered ones.
const (
	claimRole    = "role"
	claimSession = "sid"
)

// TokenOptions are what issuer and verifiers agree on.
type TokenOptions struct {
	Issuer   string           // the `iss` claim, e.g. "secondopinion-auth"
	Audience string           // the `aud` claim, e.g. "secondopinion"
	TTL      time.Duration    // access token life; 0 means AccessTokenTTL
	Now      func() time.Time // the clock; nil means time.Now
}

func (o TokenOptions) withDefaults() TokenOptions {
	// Issuer and verifiers must agree on these: defaulting them on both
	// sides keeps a verifier built without options from refusing every
	// token the default issuer signs.
	if o.Issuer == "" {
		o.Issuer = DefaultIssuer
	}
	if o.Audience == "" {
		o.Audience = DefaultAudience
	}
	if o.TTL == 0 {
		o.TTL = AccessTokenTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Issuer signs access tokens with the keyring's current key.
type Issuer struct {
	keys *Keyring
	o    TokenOptions
}

// NewIssuer returns an issuer signing with keys.
func NewIssuer(keys *Keyring, o TokenOptions) *Issuer {
	return &Issuer{keys: keys, o: o.withDefaults()}
}

// Issue signs an access token for p: claims sub, role, sid, iss, aud, iat,
// nbf, exp and jti, and the current key's kid in the header.
func (i *Issuer) Issue(p Principal) (string, time.Time, error) {
	if p.Anonymous() || p.Role == "" {
		return "", time.Time{}, fmt.Errorf("issue token: the principal needs a subject and a role")
	}
	now := i.o.Now().UTC().Truncate(time.Second)
	exp := now.Add(i.o.TTL)
	tok, err := jwt.NewBuilder().
		Subject(p.Subject).
		Issuer(i.o.Issuer).
		Audience([]string{i.o.Audience}).
		IssuedAt(now).
		NotBefore(now).
		Expiration(exp).
		JwtID(uuid.NewString()).
		Claim(claimRole, string(p.Role)).
		Claim(claimSession, p.Session).
		Build()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue token: %w", err)
	}
	key, err := privateJWK(i.keys.Current)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue token: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA(), key))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue token: %w", err)
	}
	return string(signed), exp, nil
}

// The issuer and audience our access tokens carry unless configured.
const (
	DefaultIssuer   = "secondopinion-auth"
	DefaultAudience = "secondopinion"
)
