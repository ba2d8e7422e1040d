package crypt

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"gocloud.dev/secrets"
	"gocloud.dev/secrets/awskms"
	"gocloud.dev/secrets/localsecrets"
)

var schemeName = regexp.MustCompile(`^[a-z][a-z0-9+.-]{0,15}$`)

// Keeper wraps and unwraps data keys with a master key it never reveals.
type Keeper struct {
	k *secrets.Keeper
}

// OpenKeeper opens the keeper at rawURL:
//
//   - "" — a local master key in the file dataDir/keys/master.key, made of 32
//     random bytes on first use (file 0600, folder 0700). Every document is
//     lost with it: back it up apart from the documents;
//   - "base64key://KEY" — the 32-byte key KEY, URL-safe base64 (gocloud's
//     localsecrets format);
//   - "awskms://KEY-ID-OR-ARN?region=R" — AWS KMS, with gocloud's query
//     (region, endpoint, profile, context_NAME=VALUE for an encryption
//     context …) and the usual AWS credentials.
//
// Errors never contain key material.
func OpenKeeper(ctx context.Context, rawURL, dataDir string) (*Keeper, error) {
	scheme, rest, _ := strings.Cut(rawURL, "://")
	switch {
	case rawURL == "":
		key, err := masterKey(filepath.Join(dataDir, "keys"))
		if err != nil {
			return nil, err
		}
		return &Keeper{localsecrets.NewKeeper(key)}, nil
	case scheme == localsecrets.Scheme:
		// localsecrets' own opener makes up a random key for an empty one:
		// every key wrapped with it would be lost on restart.
		key, err := localsecrets.Base64Key(rest)
		if err != nil {
			return nil, errors.New("open keeper: base64key:// wants 32 bytes in URL-safe base64")
		}
		return &Keeper{localsecrets.NewKeeper(key)}, nil
	case scheme == awskms.Scheme:
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, errors.New("open keeper: malformed awskms:// URL")
		}
		if strings.Trim(u.Host+u.Path, "/") == "" {
			return nil, errors.New("open keeper: awskms:// URL names no key")
		}
		k, err := (&awskms.URLOpener{}).OpenKeeperURL(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("open keeper %s: %w", u.Redacted(), err)
		}
		return &Keeper{k}, nil
	default:
		// Not the URL itself, nor a "scheme" that is the whole URL: either
		// may be a mistyped key.
		if !schemeName.MatchString(scheme) {
			scheme = "?"
		}
		return nil, fmt.Errorf("open keeper: unsupported URL scheme %q (want \"\" for a local key file, base64key:// or awskms://)", scheme)
	}
}

// masterKey reads the master key in dir, making it on first use.
func masterKey(dir string) ([KeySize]byte, error) {
	var key [KeySize]byte
	path := filepath.Join(dir, "master.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createKey(dir, path); err != nil {
			return key, fmt.Errorf("create master key %s: %w", path, err)
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return key, fmt.Errorf("read master key: %w", err)
	}
	if len(b) != KeySize {
		return key, fmt.Errorf("master key %s is %d bytes, want %d: it is damaged or not a key; restore it from a backup — a new key cannot read what the old one wrapped", path, len(b), KeySize)
	}
	copy(key[:], b)
	return key, nil
}

// createKey writes a new random key to path, unless another process
// (services start together in one pod) got there first: the key is
// complete on disk before it appears under path, and never replaces one.
func createKey(dir, path string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var key [KeySize]byte
	if _, err := rand.Read(key[:]); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "master.key.*.tmp") // 0600
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(key[:])
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// A link, unlike a rename, fails if path exists.
	if err := os.Link(f.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	// Make the new name durable: losing the key loses every document.
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Wrap encrypts a data key with the master key.
func (k *Keeper) Wrap(ctx context.Context, key []byte) ([]byte, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("crypt: wrap: data key is %d bytes, want %d", len(key), KeySize)
	}
	w, err := k.k.Encrypt(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("crypt: wrap: %w", err)
	}
	return w, nil
}

// Unwrap decrypts a data key that Wrap encrypted.
func (k *Keeper) Unwrap(ctx context.Context, wrapped []byte) ([]byte, error) {
	key, err := k.k.Decrypt(ctx, wrapped)
	if err != nil {
		return nil, fmt.Errorf("crypt: unwrap: %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("crypt: unwrap: got %d bytes, not a data key", len(key))
	}
	return key, nil
}

// Close releases the keeper.
func (k *Keeper) Close() error {
	if err := k.k.Close(); err != nil {
		return fmt.Errorf("crypt: close keeper: %w", err)
	}
	return nil
}
