package authn

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// SigningKey is one Ed25519 key of the keyring and the id (the JWT `kid`
// header) it is published under.
type SigningKey struct {
	ID      string
	Private ed25519.PrivateKey
}

// Keyring holds the key that signs new access tokens and the previous keys
// whose tokens still verify, so that keys rotate without logging anyone out.
type Keyring struct {
	Current  SigningKey
	Previous []SigningKey
}

var validKid = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ParseKeyring reads the JWT_SIGNING_KEYS format: comma-separated
// `kid:seed` pairs, the seed being the 32-byte Ed25519 seed in unpadded
// base64url. The first pair is the current key, the others are previous
// keys, e.g. `2026-02:Zm9v…,2026-01:YmFy…`.
func ParseKeyring(spec string) (*Keyring, error) {
	var keys []SigningKey
	seen := map[string]bool{}
	for i, part := range strings.Split(strings.TrimSpace(spec), ",") {
		kid, seed, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok || !validKid.MatchString(kid) {
			return nil, fmt.Errorf("signing key %d: want kid:base64url-seed with a kid of [A-Za-z0-9._-]", i+1)
		}
		if seen[kid] {
			return nil, fmt.Errorf("signing key %d: kid %q appears twice", i+1, kid)
		}
		seen[kid] = true
		raw, err := base64.RawURLEncoding.DecodeString(seed)
		if err != nil || len(raw) != ed25519.SeedSize {
			// The seed itself is secret: the error names the kid only.
			return nil, fmt.Errorf("signing key %q: the seed must be %d bytes of unpadded base64url", kid, ed25519.SeedSize)
		}
		keys = append(keys, SigningKey{ID: kid, Private: ed25519.NewKeyFromSeed(raw)})
	}
	return &Keyring{Current: keys[0], Previous: keys[1:]}, nil
}

// String renders the keyring in the JWT_SIGNING_KEYS format. It holds the
// secret seeds: write it only to a protected file.
func (k *Keyring) String() string {
	parts := make([]string, 0, 1+len(k.Previous))
	for _, sk := range append([]SigningKey{k.Current}, k.Previous...) {
		parts = append(parts, sk.ID+":"+base64.RawURLEncoding.EncodeToString(sk.Private.Seed()))
	}
	return strings.Join(parts, ",")
}

// GenerateKey makes a new signing key whose kid is derived from now.
func GenerateKey(now time.Time) (SigningKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	var suffix [4]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return SigningKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	kid := now.UTC().Format("20060102") + "-" + base64.RawURLEncoding.EncodeToString(suffix[:])
	return SigningKey{ID: kid, Private: priv}, nil
}

// Rotate makes a fresh current key and keeps the old current key as the
// only previous one: tokens it signed verify until they expire.
func (k *Keyring) Rotate(now time.Time) (*Keyring, error) {
	next, err := GenerateKey(now)
	if err != nil {
		return nil, err
	}
	return &Keyring{Current: next, Previous: []SigningKey{k.Current}}, nil
}

// LoadKeyFile reads the keyring from path (the JWT_SIGNING_KEYS format),
// creating it with one new key, readable by the owner only, when it does not
// exist: the embedded mode's keys survive restarts without configuration.
func LoadKeyFile(path string, now time.Time) (*Keyring, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := ParseKeyring(string(b))
		if err != nil {
			return nil, fmt.Errorf("key file %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("key file: %w", err)
	}
	sk, err := GenerateKey(now)
	if err != nil {
		return nil, err
	}
	k := &Keyring{Current: sk}
	if err := WriteKeyFile(path, k); err != nil {
		return nil, err
	}
	return k, nil
}

// WriteKeyFile stores the keyring at path with mode 0600, replacing the file
// atomically.
func WriteKeyFile(path string, k *Keyring) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keys-*")
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("key file: %w", err)
	}
	if _, err := tmp.WriteString(k.String() + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	return nil
}

// PublicSet is the JWK set of the public halves of every key, current first.
func (k *Keyring) PublicSet() (jwk.Set, error) {
	set := jwk.NewSet()
	for _, sk := range append([]SigningKey{k.Current}, k.Previous...) {
		pub, err := publicJWK(sk)
		if err != nil {
			return nil, err
		}
		if err := set.AddKey(pub); err != nil {
			return nil, fmt.Errorf("key %s: %w", sk.ID, err)
		}
	}
	return set, nil
}

// JWKS is the JSON document served at /.well-known/jwks.json.
func (k *Keyring) JWKS() ([]byte, error) {
	set, err := k.PublicSet()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return b, nil
}

func publicJWK(sk SigningKey) (jwk.Key, error) {
	pub, err := jwk.Import(sk.Private.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", sk.ID, err)
	}
	return withMeta(pub, sk.ID)
}

func privateJWK(sk SigningKey) (jwk.Key, error) {
	priv, err := jwk.Import(sk.Private)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", sk.ID, err)
	}
	return withMeta(priv, sk.ID)
}

// withMeta pins the key's id, algorithm and use, so a verifier never lets a
// token's header choose how the key is used.
func withMeta(key jwk.Key, kid string) (jwk.Key, error) {
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.EdDSA(), jwk.KeyUsageKey: "sig"} {
		if err := key.Set(name, v); err != nil {
			return nil, fmt.Errorf("key %s: set %s: %w", kid, name, err)
		}
	}
	return key, nil
}
