package crypt

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

func openKeeper(t *testing.T, url, dataDir string) *Keeper {
	t.Helper()
	k, err := OpenKeeper(t.Context(), url, dataDir)
	if err != nil {
		t.Fatalf("open keeper %q: %v", url, err)
	}
	t.Cleanup(func() {
		if err := k.Close(); err != nil {
			t.Error(err)
		}
	})
	return k
}

func wrap(t *testing.T, k *Keeper) (key, wrapped []byte) {
	t.Helper()
	key = testKey(t)
	wrapped, err := k.Wrap(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wrapped, key) {
		t.Fatal("the wrapped key contains the key")
	}
	return key, wrapped
}

func unwraps(t *testing.T, k *Keeper, wrapped, want []byte) {
	t.Helper()
	got, err := k.Unwrap(t.Context(), wrapped)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("unwrap: %x, %v; want %x", got, err, want)
	}
}

// The master key file is made private whatever the umask, then reused.
func TestLocalKeeper(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })

	data := t.TempDir()
	k1 := openKeeper(t, "", data)
	key, wrapped := wrap(t, k1)
	unwraps(t, k1, wrapped, key)

	dir := filepath.Join(data, "keys")
	path := filepath.Join(dir, "master.key")
	for p, want := range map[string]fs.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s is %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("keys folder holds %d entries, want the key alone", len(entries))
	}
	master, err := os.ReadFile(path)
	if err != nil || len(master) != KeySize {
		t.Fatalf("master key: %d bytes, %v", len(master), err)
	}

	unwraps(t, openKeeper(t, "", data), wrapped, key) // reused
	// The file holds the key gocloud's base64key:// takes, so an operator
	// can move it into the configuration.
	unwraps(t, openKeeper(t, "base64key://"+base64.URLEncoding.EncodeToString(master), ""), wrapped, key)

	if _, err := openKeeper(t, "", t.TempDir()).Unwrap(t.Context(), wrapped); err == nil {
		t.Error("another master key unwrapped the key")
	}
	if _, err := k1.Unwrap(t.Context(), append(bytes.Clone(wrapped[:len(wrapped)-1]), wrapped[len(wrapped)-1]^1)); err == nil {
		t.Error("a tampered wrapped key unwrapped")
	}
	if _, err := k1.Wrap(t.Context(), key[:16]); err == nil {
		t.Error("a short data key wrapped")
	}
	short, err := k1.k.Encrypt(t.Context(), key[:16])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k1.Unwrap(t.Context(), short); err == nil {
		t.Error("a wrapped 16-byte secret unwrapped as a data key")
	}
}

// A damaged key file is refused, named, and left for the operator to
// restore: replacing it would lose every document.
func TestCorruptMasterKey(t *testing.T) {
	for name, content := range map[string][]byte{
		"empty": {},
		"short": make([]byte, KeySize-1),
		"long":  make([]byte, KeySize+1),
		"text":  []byte(base64.StdEncoding.EncodeToString(make([]byte, KeySize))),
	} {
		data := t.TempDir()
		path := filepath.Join(data, "keys", "master.key")
		os.MkdirAll(filepath.Dir(path), 0o700)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := OpenKeeper(t.Context(), "", data)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s key file: %v; want an error naming %s", name, err, path)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, content) {
			t.Errorf("%s key file was replaced", name)
		}
	}
}

// Services starting together on a fresh data folder agree on one key.
func TestMasterKeyRace(t *testing.T) {
	data := t.TempDir()
	var wg sync.WaitGroup
	keepers := make([]*Keeper, 16)
	for i := range keepers {
		wg.Go(func() {
			k, err := OpenKeeper(t.Context(), "", data)
			if err != nil {
				t.Error(err)
				return
			}
			keepers[i] = k
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	key, wrapped := wrap(t, keepers[0])
	for _, k := range keepers {
		unwraps(t, k, wrapped, key)
	}
}

func TestKeeperURLs(t *testing.T) {
	secret := make([]byte, KeySize)
	rand.Read(secret)
	enc := base64.URLEncoding.EncodeToString(secret)
	k := openKeeper(t, "base64key://"+enc, "")
	key, wrapped := wrap(t, k)
	unwraps(t, openKeeper(t, "base64key://"+enc, ""), wrapped, key)

	for _, url := range []string{
		"base64key://",
		"base64key://" + enc[:20],
		"base64key://" + base64.URLEncoding.EncodeToString(append(secret, 1)),
		"base64key://" + enc + "?x=1",
		"awskms://",
		"awskms:///",
		"gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k",
		"hashivault://key",
		"file:///etc/key",
		"nonsense",
		"base64key:/" + enc,
		"base64key" + enc,
	} {
		_, err := OpenKeeper(t.Context(), url, t.TempDir())
		if err == nil {
			t.Errorf("%q accepted", url)
			continue
		}
		if strings.Contains(err.Error(), enc[:20]) {
			t.Errorf("%q: the error shows the key: %v", url, err)
		}
	}
	_, err := OpenKeeper(t.Context(), "gcpkms://x", "")
	for _, scheme := range []string{"base64key://", "awskms://"} {
		if err == nil || !strings.Contains(err.Error(), scheme) {
			t.Errorf("unsupported scheme: %v; want %s among the supported", err, scheme)
		}
	}
}

// fakeKMS speaks the two calls of AWS KMS's JSON protocol a keeper makes,
// sealing with a key of its own and binding the key id and the encryption
// context, as KMS does.
type fakeKMS struct {
	aead  cipher.AEAD
	mu    sync.Mutex
	calls []string
}

func newFakeKMS(t *testing.T) *fakeKMS {
	block, err := aes.NewCipher(testKey(t))
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeKMS{aead: aead}
}

func (k *fakeKMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req struct {
		KeyId             string
		Plaintext         []byte
		CiphertextBlob    []byte
		EncryptionContext map[string]string
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		kmsError(w, "SerializationException", err.Error())
		return
	}
	target := r.Header.Get("X-Amz-Target")
	k.mu.Lock()
	k.calls = append(k.calls, target+" "+req.KeyId+" "+req.EncryptionContext["case"])
	k.mu.Unlock()
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		kmsError(w, "UnrecognizedClientException", "unsigned request")
		return
	}
	aad, _ := json.Marshal(req.EncryptionContext)
	var resp any
	switch target {
	case "TrentService.Encrypt":
		nonce := make([]byte, k.aead.NonceSize())
		rand.Read(nonce)
		blob := append([]byte(req.KeyId+"\x00"), nonce...)
		blob = k.aead.Seal(blob, nonce, req.Plaintext, append([]byte(req.KeyId), aad...))
		resp = map[string]any{"CiphertextBlob": blob, "KeyId": "arn:aws:kms:us-east-1:1:key/" + req.KeyId}
	case "TrentService.Decrypt":
		id, rest, ok := bytes.Cut(req.CiphertextBlob, []byte{0})
		ns := k.aead.NonceSize()
		if !ok || len(rest) < ns {
			kmsError(w, "InvalidCiphertextException", "malformed")
			return
		}
		plain, err := k.aead.Open(nil, rest[:ns], rest[ns:], append(bytes.Clone(id), aad...))
		if err != nil {
			kmsError(w, "InvalidCiphertextException", "does not open")
			return
		}
		resp = map[string]any{"Plaintext": plain, "KeyId": string(id)}
	default:
		kmsError(w, "UnknownOperationException", target)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(resp)
}

func kmsError(w http.ResponseWriter, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

func TestAWSKMSKeeper(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	kms := newFakeKMS(t)
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: kms}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	base := "?region=us-east-1&endpoint=http://" + ln.Addr().String()

	k := openKeeper(t, "awskms://alias/documents"+base+"&context_case=c1", "")
	key, wrapped := wrap(t, k)
	unwraps(t, k, wrapped, key)
	tampered := bytes.Clone(wrapped)
	tampered[len(tampered)-1] ^= 1
	if _, err := k.Unwrap(t.Context(), tampered); err == nil {
		t.Error("a tampered wrapped key unwrapped")
	}
	other := openKeeper(t, "awskms://alias/documents"+base+"&context_case=c2", "")
	if _, err := other.Unwrap(t.Context(), wrapped); err == nil {
		t.Error("a key wrapped under another encryption context unwrapped")
	}
	want := []string{
		"TrentService.Encrypt alias/documents c1",
		"TrentService.Decrypt  c1",
		"TrentService.Decrypt  c1",
		"TrentService.Decrypt  c2",
	}
	if !slices.Equal(kms.calls, want) {
		t.Errorf("KMS saw %q, want %q", kms.calls, want)
	}

	if _, err := OpenKeeper(t.Context(), "awskms://alias/documents"+base+"&bogus=1", ""); err == nil {
		t.Error("an unknown awskms parameter accepted")
	}
}
