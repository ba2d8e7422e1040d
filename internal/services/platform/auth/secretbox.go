package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/secondopinion/platform/internal/kit/crypt"
)

// SecretKey is AUTH_SECRET_KEY: 32 bytes in base64url, its padding
// tolerated.
type SecretKey []byte

// UnmarshalText reads a key. Its error never repeats the value.
func (k *SecretKey) UnmarshalText(b []byte) error {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(string(b), "="))
	if err != nil || len(raw) != 32 {
		return errors.New("must be 32 bytes in base64url")
	}
	*k = raw
	return nil
}

// SecretKeyFile is where the key that seals TOTP secrets is kept under the
// data directory when Config.SecretKey is empty; it is made on first start.
const SecretKeyFile = "auth-secret-key"

// sealedPrefix marks a TOTP secret sealed with AES-256-GCM under the
// deployment's secret key; a later key or scheme takes the next version.
// A stored value without it is a plaintext secret from before encryption:
// it is read as such and sealed when the user next uses or enrols TOTP, so
// no data migration is needed.
const sealedPrefix = "v1:"

// secretBox seals TOTP secrets at rest. The user id is the additional
// authenticated data: a sealed secret copied into another user's row does
// not open.
type secretBox struct{ aead cipher.AEAD }

func newSecretBox(key []byte) (secretBox, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return secretBox{}, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return secretBox{}, fmt.Errorf("secret key: %w", err)
	}
	return secretBox{aead: aead}, nil
}

func totpAAD(userID string) []byte { return []byte("auth totp secret\x00" + userID) }

// seal encrypts a secret of user userID: "v1:" + base64(nonce | ciphertext).
func (b secretBox) seal(userID, secret string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal secret: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, []byte(secret), totpAAD(userID))
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(out), nil
}

var errSecretTampered = errors.New("the stored secret does not open: another user's, another key's, or altered")

// open decrypts a stored secret of user userID; plaintext says it was
// stored before encryption (and should be sealed). An empty value opens
// to "".
func (b secretBox) open(userID, stored string) (secret string, plaintext bool, err error) {
	enc, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok {
		return stored, stored != "", nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil || len(raw) < b.aead.NonceSize() {
		return "", false, errSecretTampered
	}
	n := b.aead.NonceSize()
	out, err := b.aead.Open(nil, raw[:n], raw[n:], totpAAD(userID))
	if err != nil {
		return "", false, errSecretTampered
	}
	return string(out), false, nil
}

// loadSecretKey is Config.SecretKey or, when that is empty, the key file
// under the data directory, as loadKeys does for the signing keys.
func loadSecretKey(cfg Config, dataDir string) ([]byte, error) {
	if len(cfg.SecretKey) > 0 {
		if len(cfg.SecretKey) != 32 {
			return nil, fmt.Errorf("the secret key has %d bytes, not 32", len(cfg.SecretKey))
		}
		return []byte(cfg.SecretKey), nil
	}
	if dataDir == "" {
		return nil, errors.New("a secret key or a data directory for the key file is required")
	}
	return crypt.KeyFile(filepath.Join(dataDir, SecretKeyFile), 32)
}
