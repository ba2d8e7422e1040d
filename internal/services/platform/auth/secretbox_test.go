package auth

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestSecretBox(t *testing.T) {
	box, err := newSecretBox(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.seal("user-a", "JBSWY3DPEHPK3PXP")
	if err != nil {
		t.Fatal(err)
	}
	if got, plain, err := box.open("user-a", sealed); err != nil || plain || got != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("open: %q %v %v", got, plain, err)
	}
	if _, _, err := box.open("user-b", sealed); err == nil {
		t.Fatal("another user's secret opened")
	}
	other, _ := newSecretBox(bytes.Repeat([]byte{2}, 32))
	if _, _, err := other.open("user-a", sealed); err == nil {
		t.Fatal("opened under another key")
	}
	if _, _, err := box.open("user-a", sealed[:len(sealed)-2]+"AA"); err == nil {
		t.Fatal("an altered secret opened")
	}
	if got, plain, err := box.open("user-a", "JBSWY3DPEHPK3PXP"); err != nil || !plain || got != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("plaintext from before encryption: %q %v %v", got, plain, err)
	}
	if got, plain, err := box.open("user-a", ""); err != nil || plain || got != "" {
		t.Fatalf("no secret: %q %v %v", got, plain, err)
	}
}

func TestSecretKeySources(t *testing.T) {
	if _, err := loadSecretKey(Config{SecretKey: []byte("short")}, t.TempDir()); err == nil {
		t.Fatal("a key that is not 32 bytes")
	}
	key := bytes.Repeat([]byte{3}, 32)
	if got, err := loadSecretKey(Config{SecretKey: key}, ""); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("configured key: %v", err)
	}
	if _, err := loadSecretKey(Config{}, ""); err == nil {
		t.Fatal("neither a key nor a data directory")
	}

	// Without a configured key, concurrent first starts share one key file.
	dir := t.TempDir()
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := loadSecretKey(Config{}, dir)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys {
		if len(k) != 32 || !bytes.Equal(k, keys[0]) {
			t.Fatalf("keys differ: %x", keys)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, SecretKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if again, err := loadSecretKey(Config{}, dir); err != nil || !bytes.Equal(again, keys[0]) {
		t.Fatalf("restart: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, SecretKeyFile), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSecretKey(Config{}, dir); err == nil {
		t.Fatal("a corrupt key file")
	}
}

func TestNormRecoveryCode(t *testing.T) {
	codes, hashes, err := newRecoveryCodes("u")
	if err != nil || len(codes) != RecoveryCodes || len(hashes) != RecoveryCodes {
		t.Fatal(codes, err)
	}
	n, ok := normRecoveryCode(codes[0])
	if !ok || recoveryHash("u", n) != hashes[0] {
		t.Fatalf("a generated code does not read back: %s", codes[0])
	}
	for in, want := range map[string]string{"ABCDE-FGHJK": "abcdefghjk", " o1il0 2345z ": "011102345z"} {
		if got, ok := normRecoveryCode(in); !ok || got != want {
			t.Errorf("%q: %q %v", in, got, ok)
		}
	}
	for _, in := range []string{"123456", "abcde-fghj", "abcde-fghjku", "abcde-fghj!"} {
		if _, ok := normRecoveryCode(in); ok {
			t.Errorf("%q read as a recovery code", in)
		}
	}
}
