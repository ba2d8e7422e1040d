package blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/secondopinion/platform/internal/kit/blob"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// s3Server serves a fresh in-memory S3 with one bucket, "docs", and
// returns its address. The AWS SDK reads credentials from the environment,
// so the test sets them — and keeps the SDK away from the machine's own
// AWS configuration and the EC2 metadata service.
func s3Server(t *testing.T) string {
	t.Helper()
	return s3ServerWith(t, func(h http.Handler) http.Handler { return h })
}

// s3ServerWith is s3Server with the fake S3's handler wrapped by wrap.
func s3ServerWith(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("docs"); err != nil {
		t.Fatal(err)
	}
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: wrap(gofakes3.New(backend).Server())}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return ln.Addr().String()
}

func s3URL(addr, bucket string) string {
	return "s3://" + bucket + "?endpoint=http://" + addr + "&region=us-east-1&use_path_style=true"
}

// eachStore runs f against a local store and an S3 one.
func eachStore(t *testing.T, f func(t *testing.T, b *blob.Bucket)) {
	t.Run("file", func(t *testing.T) {
		f(t, open(t, "", t.TempDir()))
	})
	t.Run("s3", func(t *testing.T) {
		f(t, open(t, s3URL(s3Server(t), "docs"), t.TempDir()))
	})
}

func open(t *testing.T, url, dataDir string) *blob.Bucket {
	t.Helper()
	b, err := blob.Open(t.Context(), url, dataDir)
	if err != nil {
		t.Fatalf("open %q: %v", url, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

func put(t *testing.T, b *blob.Bucket, key string, data []byte) {
	t.Helper()
	err := b.Put(t.Context(), key, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func read(t *testing.T, b *blob.Bucket, key string, off, n int64) []byte {
	t.Helper()
	r, err := b.NewRangeReader(t.Context(), key, off, n)
	if err != nil {
		t.Fatalf("read %s [%d,+%d): %v", key, off, n, err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s [%d,+%d): %v", key, off, n, err)
	}
	return got
}

func random(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 1))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

func absent(t *testing.T, b *blob.Bucket, key string) {
	t.Helper()
	if _, err := b.Size(t.Context(), key); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("size of %s: got %v, want ErrNotFound", key, err)
	}
	keys, err := b.Keys(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(keys, key) {
		t.Errorf("keys list %s: %q", key, keys)
	}
}

func TestPutRead(t *testing.T) {
	eachStore(t, func(t *testing.T, b *blob.Bucket) {
		for _, size := range []int{0, 1, 1000} {
			data := random(size)
			put(t, b, "doc", data)
			if n, err := b.Size(t.Context(), "doc"); err != nil || n != int64(size) {
				t.Fatalf("size: %d, %v; want %d", n, err, size)
			}
			if got := read(t, b, "doc", 0, -1); !bytes.Equal(got, data) {
				t.Fatalf("size %d: read back %d bytes that differ", size, len(got))
			}
		}
	})
}

// An object larger than an S3 upload part goes up in several parts, yet
// reads back whole and by ranges across the part boundaries.
func TestLargeObject(t *testing.T) {
	eachStore(t, func(t *testing.T, b *blob.Bucket) {
		data := random(20 << 20)
		err := b.Put(t.Context(), "big", func(w io.Writer) error {
			for p := data; len(p) > 0; p = p[min(len(p), 100_000):] {
				if _, err := w.Write(p[:min(len(p), 100_000)]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := read(t, b, "big", 0, -1); !bytes.Equal(got, data) {
			t.Fatal("read back differs")
		}
		off := int64(8<<20 - 10)
		if got := read(t, b, "big", off, 20); !bytes.Equal(got, data[off:off+20]) {
			t.Fatal("range across a part boundary differs")
		}
	})
}

func TestRanges(t *testing.T) {
	eachStore(t, func(t *testing.T, b *blob.Bucket) {
		data := random(1000)
		put(t, b, "doc", data)
		for _, c := range []struct {
			off, n int64
			want   []byte
		}{
			{0, -1, data},
			{0, 1000, data},
			{0, 0, nil},
			{10, 5, data[10:15]},
			{999, 1, data[999:]},
			{990, -1, data[990:]},
			{995, 10, data[995:]}, // past the end: what there is
			{1000, -1, nil},       // at the end
			{1000, 5, nil},
			{5000, 5, nil}, // beyond it
			{500, 0, nil},
			{0, 1 << 40, data}, // far past the end
			{1, -7, data[1:]},  // any negative n: to the end
			{999, -1, data[999:]},
			{123, 456, data[123:579]},
		} {
			if got := read(t, b, "doc", c.off, c.n); !bytes.Equal(got, c.want) {
				t.Errorf("[%d,+%d): got %d bytes, want %d", c.off, c.n, len(got), len(c.want))
			}
		}
		if _, err := b.NewRangeReader(t.Context(), "doc", -1, 5); err == nil {
			t.Error("negative offset accepted")
		}
		put(t, b, "empty", nil)
		for _, c := range [][2]int64{{0, -1}, {0, 0}, {0, 10}, {3, -1}} {
			if got := read(t, b, "empty", c[0], c[1]); len(got) != 0 {
				t.Errorf("empty object [%d,+%d): got %d bytes", c[0], c[1], len(got))
			}
		}
	})
}

func TestMissing(t *testing.T) {
	eachStore(t, func(t *testing.T, b *blob.Bucket) {
		ctx := t.Context()
		if _, err := b.Size(ctx, "nope"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("size: got %v, want ErrNotFound", err)
		}
		for _, c := range [][2]int64{{0, -1}, {0, 10}, {5, 0}} {
			if _, err := b.NewRangeReader(ctx, "nope", c[0], c[1]); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("read [%d,+%d): got %v, want ErrNotFound", c[0], c[1], err)
			}
		}
		if err := b.Delete(ctx, "nope"); err != nil {
			t.Errorf("delete: %v", err)
		}
		if err := b.DeletePrefix(ctx, "nope/"); err != nil {
			t.Errorf("delete prefix: %v", err)
		}
		if keys, err := b.Keys(ctx, "nope/"); err != nil || len(keys) != 0 {
			t.Errorf("keys: %q, %v", keys, err)
		}
		put(t, b, "gone", []byte("x"))
		if err := b.Delete(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		absent(t, b, "gone")
		if err := b.Delete(ctx, "gone"); err != nil {
			t.Errorf("second delete: %v", err)
		}
	})
}

var errWrite = errors.New("upload broke")

// A Put that fails, is cancelled or panics leaves nothing under a new key
// and the old object under an existing one — also once an S3 upload has
// sent whole parts.
func TestAbortedPut(t *testing.T) {
	eachStore(t, func(t *testing.T, b *blob.Bucket) {
		old := random(100)
		put(t, b, "kept", old)
		for _, size := range []int{0, 1000, 18 << 20} {
			data := random(size)
			aborts := map[string]func(ctx context.Context, key string) error{
				"error": func(ctx context.Context, key string) error {
					return b.Put(ctx, key, func(w io.Writer) error {
						if _, err := w.Write(data); err != nil {
							return err
						}
						return errWrite
					})
				},
				"cancel": func(ctx context.Context, key string) error {
					ctx, cancel := context.WithCancel(ctx)
					return b.Put(ctx, key, func(w io.Writer) error {
						w.Write(data) // may fail: the upload is being torn down
						cancel()
						return nil
					})
				},
				"panic": func(ctx context.Context, key string) (err error) {
					defer func() {
						if recover() != nil {
							err = errWrite
						}
					}()
					return b.Put(ctx, key, func(w io.Writer) error {
						if _, err := w.Write(data); err != nil {
							return err
						}
						panic("writer bug")
					})
				},
			}
			for name, abort := range aborts {
				if err := abort(t.Context(), "new"); err == nil {
					t.Fatalf("%s at %d bytes: Put succeeded", name, size)
				}
				absent(t, b, "new")
				if err := abort(t.Context(), "kept"); err == nil {
					t.Fatalf("%s at %d bytes over an object: Put succeeded", name, size)
				}
				if got := read(t, b, "kept", 0, -1); !bytes.Equal(got, old) {
					t.Fatalf("%s at %d bytes: the earlier object changed", name, size)
				}
			}
		}
		if err := b.Put(t.Context(), "new", func(io.Writer) error { return errWrite }); !errors.Is(err, errWrite) {
			t.Errorf("Put returned %v, want the writer's error", err)
		}
		if keys, err := b.Keys(t.Context(), ""); err != nil || !slices.Equal(keys, []string{"kept"}) {
			t.Errorf("keys after aborted puts: %q, %v", keys, err)
		}
	})
}

// An S3 upload aborted after it sent parts leaves no pending multipart
// upload behind: its parts would hold the data, unlisted, and be billed.
func TestAbortedMultipartUpload(t *testing.T) {
	var multipart atomic.Int32
	addr := s3ServerWith(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := r.URL.Query()["uploads"]; ok && r.Method == http.MethodPost {
				multipart.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	b := open(t, s3URL(addr, "docs"), t.TempDir())
	data := random(40 << 20)
	err := b.Put(t.Context(), "doc", func(w io.Writer) error {
		if _, err := w.Write(data); err != nil {
			return err
		}
		return errWrite
	})
	if !errors.Is(err, errWrite) {
		t.Fatalf("Put: %v", err)
	}
	if multipart.Load() == 0 {
		t.Fatal("no multipart upload was started: the test proves nothing")
	}
	absent(t, b, "doc")
	resp, err := http.Get("http://" + addr + "/docs?uploads")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte("<Upload>")) {
		t.Errorf("pending uploads (%s): %s", resp.Status, body)
	}
}

func TestPutEndedContext(t *testing.T) {
	eachStore(t, func(t *testing.T, b *blob.Bucket) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := b.Put(ctx, "doc", func(w io.Writer) error {
			_, err := w.Write([]byte("data"))
			return err
		})
		if err == nil {
			t.Fatal("Put with an ended context succeeded")
		}
		absent(t, b, "doc")
	})
}

func TestKeysAndDeletePrefix(t *testing.T) {
	eachStore(t, func(t *testing.T, b *blob.Bucket) {
		ctx := t.Context()
		all := []string{"case/1/a", "case/1/b/c", "case/10/a", "case/2/a", "other"}
		for _, k := range slices.Backward(all) {
			put(t, b, k, []byte(k))
		}
		for prefix, want := range map[string][]string{
			"":        all,
			"case/":   all[:4],
			"case/1":  all[:3],
			"case/1/": all[:2],
			"case/3/": nil,
			"oth":     {"other"},
		} {
			got, err := b.Keys(ctx, prefix)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("keys %q: got %q, %v; want %q", prefix, got, err, want)
			}
		}
		if err := b.DeletePrefix(ctx, "case/1/"); err != nil {
			t.Fatal(err)
		}
		if got, _ := b.Keys(ctx, ""); !slices.Equal(got, []string{"case/10/a", "case/2/a", "other"}) {
			t.Errorf("after delete prefix: %q", got)
		}
		if err := b.DeletePrefix(ctx, ""); err == nil {
			t.Error("empty prefix accepted")
		}
		if got, _ := b.Keys(ctx, ""); len(got) != 3 {
			t.Errorf("a refused delete removed keys: %q", got)
		}
	})
}

func TestReservedKeys(t *testing.T) {
	eachStore(t, func(t *testing.T, b *blob.Bucket) {
		for _, key := range []string{"", "a.attrs", "a.18ab0f.tmp"} {
			if err := b.Put(t.Context(), key, func(io.Writer) error { return nil }); err == nil {
				t.Errorf("key %q accepted", key)
			}
		}
		put(t, b, "a.tmp", []byte("x")) // only fileblob's pattern is reserved
	})
}

func TestOpen(t *testing.T) {
	ctx := t.Context()
	data := t.TempDir()
	b := open(t, "", data)
	put(t, b, "doc", []byte("x"))
	if _, err := os.Stat(filepath.Join(data, "blobs", "doc")); err != nil {
		t.Errorf("default store is not under dataDir/blobs: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "a", "b")
	b = open(t, "file://"+dir, "")
	put(t, b, "doc", []byte("y"))
	if got, _ := os.ReadFile(filepath.Join(dir, "doc")); string(got) != "y" {
		t.Errorf("file URL store: read %q", got)
	}

	for _, url := range []string{
		"file://relative/dir",
		"file:///abs?create_dir=1",
		"gs://bucket",
		"mem://",
		"::",
	} {
		if _, err := blob.Open(ctx, url, data); err == nil {
			t.Errorf("%q accepted", url)
		}
	}
	_, err := blob.Open(ctx, "azblob://x", data)
	if err == nil || !strings.Contains(err.Error(), "s3://") {
		t.Errorf("unsupported scheme: %v; want the supported ones listed", err)
	}

	addr := s3Server(t)
	if _, err := blob.Open(ctx, s3URL(addr, "missing"), data); err == nil {
		t.Error("a missing S3 bucket opened")
	}
	if _, err := blob.Open(ctx, s3URL(addr, "docs")+"&bogus=1", data); err == nil {
		t.Error("an unknown S3 parameter accepted")
	}
}

// Files are 0600 and folders 0700 whatever the process's umask, temporary
// files included; leftovers of interrupted writes stay out of listings,
// and an erasure removes them and the emptied folders.
func TestLocalStoreIsPrivate(t *testing.T) {
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })

	data := t.TempDir()
	b := open(t, "", data)
	root := filepath.Join(data, "blobs")
	var tempMode fs.FileMode
	err := b.Put(t.Context(), "case/1/doc", func(w io.Writer) error {
		tmp, _ := filepath.Glob(filepath.Join(root, "case", "1", "doc.*.tmp"))
		if len(tmp) != 1 {
			return errors.New("no temporary file next to the object")
		}
		fi, err := os.Stat(tmp[0])
		if err != nil {
			return err
		}
		tempMode = fi.Mode().Perm()
		_, err = w.Write([]byte("secret"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if tempMode != 0o600 {
		t.Errorf("temporary file is %v, want 0600", tempMode)
	}
	put(t, b, "case/2/doc", []byte("secret"))
	var n int
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := d.Info()
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s is %v, want %v", path, fi.Mode().Perm(), want)
		}
		n++
		return nil
	})
	if n != 6 { // blobs, case, case/1, case/1/doc, case/2, case/2/doc
		t.Errorf("store holds %d entries, want 6 (no sidecar files)", n)
	}

	stray := filepath.Join(root, "case", "1", "doc.18ab0f.tmp")
	if err := os.WriteFile(stray, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if keys, _ := b.Keys(t.Context(), ""); !slices.Equal(keys, []string{"case/1/doc", "case/2/doc"}) {
		t.Errorf("keys: %q", keys)
	}
	if err := b.DeletePrefix(t.Context(), "case/1/"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{stray, filepath.Join(root, "case", "1")} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s survived the erasure: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "case", "2", "doc")); err != nil {
		t.Errorf("a neighbour went with the erasure: %v", err)
	}
}

// Ping passes while the store answers and fails once it does not, for
// readiness.
func TestPing(t *testing.T) {
	var down atomic.Bool
	addr := s3ServerWith(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(w, "unavailable", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	b := open(t, s3URL(addr, "docs"), t.TempDir())
	if err := b.Ping(t.Context()); err != nil {
		t.Fatalf("ping an answering store: %v", err)
	}
	down.Store(true)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := b.Ping(ctx); err == nil {
		t.Error("ping passes while the store answers 503")
	}
	if err := open(t, "", t.TempDir()).Ping(t.Context()); err != nil {
		t.Errorf("ping a local store: %v", err)
	}
}
