package crypt

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeyFile reads the key of size bytes kept in base64url at path, or makes
// it (mode 0600) when the file does not exist. The new file is linked into
// place, which fails if another process made one first: then that one is
// read, so that every process on the data directory shares one key. Its
// errors never repeat the key.
func KeyFile(path string, size int) ([]byte, error) {
	if key, err := readKeyFile(path, size); !errors.Is(err, os.ErrNotExist) {
		return key, err
	}
	key := make([]byte, size)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.WriteString(base64.RawURLEncoding.EncodeToString(key) + "\n")
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return readKeyFile(path, size)
	} else if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	return key, nil
}

func readKeyFile(path string, size int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	key, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != size {
		return nil, fmt.Errorf("key file %s: not %d bytes in base64url", path, size)
	}
	return key, nil
}
