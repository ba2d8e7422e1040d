package crypt_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/secondopinion/platform/internal/kit/crypt"
)

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "a-key")
	// Processes starting together on one data directory share one key.
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := crypt.KeyFile(path, 32)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if len(k) != 32 || !bytes.Equal(k, keys[0]) {
			t.Fatalf("keys differ: %x, %x", k, keys[0])
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	again, err := crypt.KeyFile(path, 32)
	if err != nil || !bytes.Equal(again, keys[0]) {
		t.Fatalf("read again: %x %v", again, err)
	}
	if _, err := crypt.KeyFile(path, 16); err == nil {
		t.Fatal("a key of another size was accepted")
	}
	if err := os.WriteFile(path, []byte("not base64!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := crypt.KeyFile(path, 32); err == nil {
		t.Fatal("a malformed key file was accepted")
	}
}
