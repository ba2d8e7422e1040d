package authn_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func opts(now time.Time) authn.TokenOptions {
	return authn.TokenOptions{Issuer: "secondopinion-auth", Audience: "secondopinion", Now: func() time.Time { return now }}
}

func keyring(t testing.TB, kids ...string) *authn.Keyring {
	t.Helper()
	var parts []string
	for _, kid := range kids {
		seed := make([]byte, 32)
		if _, err := rand.Read(seed); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, kid+":"+base64.RawURLEncoding.EncodeToString(seed))
	}
	k, err := authn.ParseKeyring(strings.Join(parts, ","))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func verifierFor(t testing.TB, k *authn.Keyring, now time.Time) *authn.JWKSVerifier {
	t.Helper()
	set, err := k.PublicSet()
	if err != nil {
		t.Fatal(err)
	}
	return authn.NewKeySetVerifier(set, authn.VerifierOptions{TokenOptions: opts(now)})
}

var ada = authn.Principal{Subject: "0190b2a4-7c1e-7d3a-9f00-000000000001", Role: authn.RolePatient, Session: "s-1"}

func issue(t testing.TB, k *authn.Keyring, o authn.TokenOptions, p authn.Principal) string {
	t.Helper()
	tok, _, err := authn.NewIssuer(k, o).Issue(p)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// craft builds a compact token by hand, signed by sign (nil: no signature).
func craft(header map[string]any, claims string, sign func(input []byte) []byte) string {
	input := b64(header) + "." + claims
	if sign == nil {
		return input + "."
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(input)))
}

func TestIssueAndVerify(t *testing.T) {
	k := keyring(t, "k2", "k1")
	tok := issue(t, k, opts(t0), ada)
	hdr, _, _ := strings.Cut(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(hdr)
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil || h["kid"] != "k2" || h["alg"] != "EdDSA" {
		t.Fatalf("header %s: want kid k2 and alg EdDSA", raw)
	}
	claims := map[string]any{}
	raw, _ = base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"sub", "role", "sid", "iss", "aud", "iat", "nbf", "exp", "jti"} {
		if _, ok := claims[c]; !ok {
			t.Errorf("claim %s missing from %s", c, raw)
		}
	}
	if exp := int64(claims["exp"].(float64)); exp != t0.Add(15*time.Minute).Unix() {
		t.Errorf("exp = %d, want 15 minutes after issue", exp)
	}
	// Still valid a moment before expiry.
	got, err := verifierFor(t, k, t0.Add(14*time.Minute)).Verify(context.Background(), tok)
	if err != nil || got != ada {
		t.Fatalf("Verify = %+v, %v; want %+v", got, err, ada)
	}
}

// A token signed before a rotation keeps verifying: the previous key stays
// published next to the new current one.
func TestRotationKeepsPreviousTokensValid(t *testing.T) {
	old := keyring(t, "k1")
	tok := issue(t, old, opts(t0), ada)
	rotated, err := old.Rotate(t0)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Current.ID == "k1" || rotated.Previous[0].ID != "k1" {
		t.Fatalf("rotate: current %s previous %v", rotated.Current.ID, rotated.Previous)
	}
	v := verifierFor(t, rotated, t0.Add(time.Minute))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("token of the previous key: %v", err)
	}
	if _, err := v.Verify(context.Background(), issue(t, rotated, opts(t0), ada)); err != nil {
		t.Fatalf("token of the current key: %v", err)
	}
	// Once the previous key is withdrawn its tokens stop verifying.
	if _, err := verifierFor(t, &authn.Keyring{Current: rotated.Current}, t0).Verify(context.Background(), tok); !errors.Is(err, authn.ErrUnknownKey) {
		t.Fatalf("withdrawn key: %v, want ErrUnknownKey", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	k := keyring(t, "k1")
	good := issue(t, k, opts(t0), ada)
	parts := strings.Split(good, ".")
	claims := parts[1]
	pub := []byte(k.Current.Private.Public().(ed25519.PublicKey))
	hs := func(key []byte) func([]byte) []byte {
		return func(in []byte) []byte { m := hmac.New(sha256.New, key); m.Write(in); return m.Sum(nil) }
	}
	jwks, err := k.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rs := func(in []byte) []byte {
		sum := sha256.Sum256(in)
		sig, err := rsaKey.Sign(rand.Reader, sum[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	pkix, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	tampered := parts[0] + "." + b64(mustClaims(t, claims, "role", "admin")) + "." + parts[2]
	impostor := keyring(t, "k1") // same kid, different key

	cases := []struct {
		name  string
		token string
		now   time.Time
		want  error
	}{
		{"expired", good, t0.Add(16 * time.Minute), authn.ErrInvalidToken},
		{"not yet valid", issue(t, k, opts(t0.Add(10*time.Minute)), ada), t0, authn.ErrInvalidToken},
		{"wrong issuer", issue(t, k, authn.TokenOptions{Issuer: "evil", Audience: "secondopinion", Now: func() time.Time { return t0 }}, ada), t0, authn.ErrInvalidToken},
		{"wrong audience", issue(t, k, authn.TokenOptions{Issuer: "secondopinion-auth", Audience: "other", Now: func() time.Time { return t0 }}, ada), t0, authn.ErrInvalidToken},
		{"too long a life", issue(t, k, authn.TokenOptions{Issuer: "secondopinion-auth", Audience: "secondopinion", TTL: 24 * time.Hour, Now: func() time.Time { return t0 }}, ada), t0, authn.ErrInvalidToken},
		{"alg none", craft(map[string]any{"alg": "none", "kid": "k1"}, claims, nil), t0, authn.ErrAlgorithm},
		{"alg none, EdDSA signature kept", craft(map[string]any{"alg": "none", "kid": "k1"}, claims, nil) + parts[2], t0, authn.ErrAlgorithm},
		{"HS256 keyed with the public key", craft(map[string]any{"alg": "HS256", "kid": "k1"}, claims, hs(pub)), t0, authn.ErrAlgorithm},
		{"HS256 keyed with the JWKS", craft(map[string]any{"alg": "HS256", "kid": "k1"}, claims, hs(jwks)), t0, authn.ErrAlgorithm},
		{"RS256 with its own key", craft(map[string]any{"alg": "RS256", "kid": "k1"}, claims, rs), t0, authn.ErrAlgorithm},
		{"RS256 keyed as HMAC with an RSA public key", craft(map[string]any{"alg": "HS256", "kid": "k1"}, claims, hs(pkix)), t0, authn.ErrAlgorithm},
		{"tampered claims", tampered, t0, authn.ErrInvalidToken},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flip(parts[2]), t0, authn.ErrInvalidToken},
		{"unknown kid", issue(t, keyring(t, "k9"), opts(t0), ada), t0, authn.ErrUnknownKey},
		{"same kid, other key", issue(t, impostor, opts(t0), ada), t0, authn.ErrInvalidToken},
		{"no kid", craft(map[string]any{"alg": "EdDSA"}, claims, func(in []byte) []byte { return ed25519Sign(k, in) }), t0, authn.ErrUnknownKey},
		{"unknown role", issue(t, k, opts(t0), authn.Principal{Subject: "x", Role: "root", Session: "s"}), t0, authn.ErrInvalidToken},
		{"garbage", "not.a.token", t0, authn.ErrMalformedToken},
		{"empty", "", t0, authn.ErrMalformedToken},
		{"oversized", strings.Repeat("a", 5000), t0, authn.ErrMalformedToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := verifierFor(t, k, c.now).Verify(context.Background(), c.token)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %+v, %v; want %v", p, err, c.want)
			}
			if !p.Anonymous() {
				t.Fatalf("a refused token gave principal %+v", p)
			}
		})
	}
	// The hand-made helpers do produce valid tokens when signed properly,
	// so the refusals above are about what each case changes.
	control := craft(map[string]any{"alg": "EdDSA", "kid": "k1"}, claims, func(in []byte) []byte { return ed25519Sign(k, in) })
	if _, err := verifierFor(t, k, t0).Verify(context.Background(), control); err != nil {
		t.Fatalf("control token: %v", err)
	}
}

func mustClaims(t *testing.T, seg, key string, v any) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m[key] = v
	return m
}

func flip(sig string) string {
	b, _ := base64.RawURLEncoding.DecodeString(sig)
	b[0] ^= 1
	return base64.RawURLEncoding.EncodeToString(b)
}

// jwksServer serves the keyring held in k (swappable) and counts fetches.
type jwksServer struct {
	mu      sync.Mutex
	k       *authn.Keyring
	fetches atomic.Int64
	url     string
}

func serveJWKS(t *testing.T, k *authn.Keyring) *jwksServer {
	s := &jwksServer{k: k}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		b, err := s.k.JWKS()
		s.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	srv.Listener.Close()
	srv.Listener = testkit.Listen(t)
	srv.Start()
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/.well-known/jwks.json"
	return s
}

func (s *jwksServer) set(k *authn.Keyring) { s.mu.Lock(); s.k = k; s.mu.Unlock() }

func TestJWKSFetchCacheAndRefresh(t *testing.T) {
	ctx := context.Background()
	k1 := keyring(t, "k1")
	srv := serveJWKS(t, k1)
	c := &clock{now: t0}
	v := authn.NewJWKSVerifier(srv.url, authn.VerifierOptions{TokenOptions: authn.TokenOptions{
		Issuer: "secondopinion-auth", Audience: "secondopinion", Now: c.Now}, MinRefresh: time.Minute})

	for range 3 {
		if _, err := v.Verify(ctx, issue(t, k1, opts(t0), ada)); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1: the set is cached", n)
	}

	// The issuer rotates; the first token of the new key arrives at once.
	k2, err := k1.Rotate(t0)
	if err != nil {
		t.Fatal(err)
	}
	srv.set(k2)
	fresh := issue(t, k2, opts(t0), ada)
	c.advance(10 * time.Second)
	// Within MinRefresh of the last fetch an unknown kid is refused
	// without a fetch, however many such tokens arrive.
	for range 20 {
		if _, err := v.Verify(ctx, issue(t, keyring(t, "made-up"), opts(t0), ada)); !errors.Is(err, authn.ErrUnknownKey) {
			t.Fatalf("made-up kid: %v", err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d after a flood of unknown kids, want 1", n)
	}
	c.advance(time.Minute)
	if _, err := v.Verify(ctx, fresh); err != nil {
		t.Fatalf("token of the rotated-in key after MinRefresh: %v", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2: an unknown kid refreshes the set", n)
	}
	// Tokens of the previous key still verify after the refresh.
	if _, err := v.Verify(ctx, issue(t, k1, opts(c.Now()), ada)); err != nil {
		t.Fatalf("previous key: %v", err)
	}
}

func TestJWKSUnreachable(t *testing.T) {
	v := authn.NewJWKSVerifier("http://"+testkit.RefusingAddr(t)+"/jwks.json", authn.VerifierOptions{TokenOptions: opts(t0)})
	if _, err := v.Verify(context.Background(), issue(t, keyring(t, "k1"), opts(t0), ada)); err == nil {
		t.Fatal("verified without a key set")
	}
}

func TestParseKeyring(t *testing.T) {
	k := keyring(t, "a", "b", "c")
	again, err := authn.ParseKeyring(k.String())
	if err != nil || again.Current.ID != "a" || len(again.Previous) != 2 || !again.Current.Private.Equal(k.Current.Private) {
		t.Fatalf("round trip: %+v, %v", again, err)
	}
	seed := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	for _, bad := range []string{"", "nokid", "a:short", ":" + seed, "a b:" + seed, "a:" + seed + ",a:" + seed, "a:" + seed + "=="} {
		if _, err := authn.ParseKeyring(bad); err == nil {
			t.Errorf("ParseKeyring(%q) accepted", bad)
		} else if strings.Contains(err.Error(), seed) {
			t.Errorf("error reveals the seed: %v", err)
		}
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth", "jwt-keys")
	k, err := authn.LoadKeyFile(path, t0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	again, err := authn.LoadKeyFile(path, t0.Add(time.Hour))
	if err != nil || again.Current.ID != k.Current.ID || !again.Current.Private.Equal(k.Current.Private) {
		t.Fatalf("second start made a new key: %v", err)
	}
	if err := os.WriteFile(path, []byte("broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := authn.LoadKeyFile(path, t0); err == nil {
		t.Fatal("a broken key file was accepted")
	}
}

func FuzzVerify(f *testing.F) {
	k := keyring(f, "k1")
	good := issue(f, k, opts(t0), ada)
	parts := strings.Split(good, ".")
	f.Add(good)
	f.Add(craft(map[string]any{"alg": "none", "kid": "k1"}, parts[1], nil))
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add(`{"payload":"e30","signatures":[]}`)
	f.Add("")
	f.Add("a.b.c")
	v := verifierFor(f, k, t0)
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(context.Background(), token)
		if err != nil {
			if !p.Anonymous() {
				t.Fatalf("refused token yields %+v", p)
			}
			return
		}
		// Whatever verifies carries exactly the claims we signed.
		if p != ada {
			t.Fatalf("accepted a token we did not sign: %q → %+v", token, p)
		}
	})
}

func ed25519Sign(k *authn.Keyring, in []byte) []byte { return ed25519.Sign(k.Current.Private, in) }
