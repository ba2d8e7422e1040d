package authn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Reasons a token is refused. They say nothing about the token's content.
var (
	ErrMalformedToken = errors.New("malformed token")
	ErrAlgorithm      = errors.New("token algorithm is not EdDSA")
	ErrUnknownKey     = errors.New("token signed by an unknown key")
	ErrInvalidToken   = errors.New("token signature or claims are not valid")
)

// maxTokenLen bounds the work spent on a presented token; ours are ~400 bytes.
const maxTokenLen = 4096

// VerifierOptions configure a JWKSVerifier.
type VerifierOptions struct {
	TokenOptions
	Skew time.Duration // tolerated clock difference for exp, nbf and iat; default 30s
	// MinRefresh is the least time between two fetches of the JWKS, so
	// tokens with made-up kids cannot make us hammer the issuer; default 30s.
	MinRefresh time.Duration
	// MaxAge refetches the JWKS this long after the last fetch even when no
	// unknown kid asks for it, so withdrawn keys stop verifying; default 10m.
	MaxAge time.Duration
	HTTP   *http.Client // default http.DefaultClient
}

// JWKSVerifier is the Verifier of EdDSA access tokens: it checks the
// signature against a JWK set (fetched from the issuer's URL and cached,
// or given directly) and the claims iss, aud, exp, nbf and iat.
type JWKSVerifier struct {
	url string
	o   VerifierOptions

	mu      sync.Mutex // guards set and fetched; held while fetching
	set     jwk.Set
	fetched time.Time
}

// NewJWKSVerifier verifies against the JWKS published at url.
func NewJWKSVerifier(url string, o VerifierOptions) *JWKSVerifier {
	return &JWKSVerifier{url: url, o: o.withDefaults()}
}

// NewKeySetVerifier verifies against a fixed key set, e.g. the issuer's own
// keyring's PublicSet in the same process.
func NewKeySetVerifier(set jwk.Set, o VerifierOptions) *JWKSVerifier {
	return &JWKSVerifier{set: set, o: o.withDefaults()}
}

func (o VerifierOptions) withDefaults() VerifierOptions {
	o.TokenOptions = o.TokenOptions.withDefaults()
	if o.Skew == 0 {
		o.Skew = 30 * time.Second
	}
	if o.MinRefresh == 0 {
		o.MinRefresh = 30 * time.Second
	}
	if o.MaxAge == 0 {
		o.MaxAge = 10 * time.Minute
	}
	if o.HTTP == nil {
		o.HTTP = http.DefaultClient
	}
	return o
}

// Verify checks token and returns its principal.
func (v *JWKSVerifier) Verify(ctx context.Context, token string) (Principal, error) {
	if len(token) > maxTokenLen {
		return Principal{}, ErrMalformedToken
	}
	msg, err := jws.Parse([]byte(token), jws.WithCompact())
	if err != nil || len(msg.Signatures()) != 1 {
		return Principal{}, ErrMalformedToken
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	// The algorithm is ours to choose, never the token's: anything but
	// EdDSA (none, HS256 keyed with the public key, RS256…) is refused
	// before a key is even looked up.
	if alg, ok := hdr.Algorithm(); !ok || alg != jwa.EdDSA() {
		return Principal{}, ErrAlgorithm
	}
	kid, ok := hdr.KeyID()
	if !ok || kid == "" {
		return Principal{}, ErrUnknownKey
	}
	key, err := v.key(ctx, kid)
	if err != nil {
		return Principal{}, err
	}
	tok, err := jwt.Parse([]byte(token),
		jwt.WithKey(jwa.EdDSA(), key),
		jwt.WithValidate(true),
		jwt.WithIssuer(v.o.Issuer),
		jwt.WithAudience(v.o.Audience),
		jwt.WithClock(jwt.ClockFunc(v.o.Now)),
		jwt.WithAcceptableSkew(v.o.Skew),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.NotBeforeKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
		jwt.WithMaxDelta(v.o.TTL, jwt.ExpirationKey, jwt.IssuedAtKey),
	)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return principalOf(tok)
}

func principalOf(tok jwt.Token) (Principal, error) {
	sub, _ := tok.Subject()
	var role, sid string
	if err := tok.Get(claimRole, &role); err != nil {
		return Principal{}, fmt.Errorf("%w: no role", ErrInvalidToken)
	}
	_ = tok.Get(claimSession, &sid)
	switch Role(role) {
	case RolePatient, RoleProfessional, RoleAdmin, RoleService:
	default:
		return Principal{}, fmt.Errorf("%w: unknown role", ErrInvalidToken)
	}
	if sub == "" {
		return Principal{}, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	return Principal{Subject: sub, Role: Role(role), Session: sid}, nil
}

// key finds the public key kid, fetching the JWKS when it is unknown or
// stale and the last fetch is at least MinRefresh ago.
func (v *JWKSVerifier) key(ctx context.Context, kid string) (jwk.Key, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.url != "" {
		now := v.o.Now()
		since := now.Sub(v.fetched)
		_, known := v.lookup(kid)
		if v.set == nil || since >= v.o.MaxAge || (!known && since >= v.o.MinRefresh) {
			set, err := v.fetch(ctx)
			if err != nil && v.set == nil {
				return nil, err
			}
			// A failed refresh keeps the cached set but still counts as a
			// fetch, so an unreachable issuer is not retried per request.
			v.fetched = now
			if err == nil {
				v.set = set
			}
		}
	}
	key, ok := v.lookup(kid)
	if !ok {
		return nil, ErrUnknownKey
	}
	return key, nil
}

func (v *JWKSVerifier) lookup(kid string) (jwk.Key, bool) {
	if v.set == nil {
		return nil, false
	}
	key, ok := v.set.LookupKeyID(kid)
	if !ok {
		return nil, false
	}
	// Only Ed25519 signing keys count, whatever else a set publishes.
	if alg, ok := key.Algorithm(); ok && alg != jwa.EdDSA() {
		return nil, false
	}
	if key.KeyType() != jwa.OKP() {
		return nil, false
	}
	return key, true
}

func (v *JWKSVerifier) fetch(ctx context.Context) (jwk.Set, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	res, err := v.o.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch jwks: status %d", res.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	set, err := jwk.Parse(body)
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	return set, nil
}
