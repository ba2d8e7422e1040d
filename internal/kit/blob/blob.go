package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	gcblob "gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"
)

// ErrNotFound is wrapped by the errors of Size and NewRangeReader for a key
// that holds no object.
var ErrNotFound = errors.New("blob: not found")

// Modes of a local store: documents are health data, readable by the
// platform's own user only.
const (
	dirMode  os.FileMode = 0o700
	fileMode os.FileMode = 0o600
)

// abortTimeout bounds the clean-up of an aborted S3 upload, which runs
// after the caller's context has ended.
const abortTimeout = 30 * time.Second

// Bucket is one store of objects.
type Bucket struct {
	b *gcblob.Bucket
	// dir is the root of a local store, "" for a remote one.
	dir string
	// s3 is the client of an S3 store, nil for a local one.
	s3 *s3.Client
}

// Open opens and checks the store at rawURL:
//
//   - "" — the local directory dataDir/blobs;
//   - "file:///abs/dir" — that local directory;
//   - "s3://bucket?region=R&endpoint=http://host:port&use_path_style=true" —
//     an S3 bucket; the query is s3blob's (region, endpoint, use_path_style,
//     request_checksum_calculation, profile, …) and credentials come from
//     the usual AWS sources (AWS_ACCESS_KEY_ID…, shared config, IAM role).
//
// A local directory is created 0700 if missing; an existing one is left as
// the operator made it (it may be a volume's root), as every file in it is
// 0600. The caller closes the bucket.
func Open(ctx context.Context, rawURL, dataDir string) (*Bucket, error) {
	b, err := open(ctx, rawURL, dataDir)
	if err != nil {
		return nil, err
	}
	if err := b.Ping(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func open(ctx context.Context, rawURL, dataDir string) (*Bucket, error) {
	if rawURL == "" {
		return openDir(filepath.Join(dataDir, "blobs"))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse quotes its input: keep a mistyped secret out of the error.
		return nil, errors.New("open blob store: malformed URL")
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" || !filepath.IsAbs(u.Path) || u.RawQuery != "" {
			return nil, fmt.Errorf("open blob store %s: want file:///absolute/dir with no query", u.Redacted())
		}
		return openDir(filepath.FromSlash(u.Path))
	case s3blob.Scheme:
		// The opener is used directly, not through gocloud's default URL
		// mux, so the schemes the platform accepts are exactly those here.
		b, err := (&s3blob.URLOpener{}).OpenBucketURL(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("open blob store %s: %w", u.Redacted(), err)
		}
		var client *s3.Client
		if !b.As(&client) {
			b.Close()
			return nil, errors.New("open blob store: s3blob did not expose its client")
		}
		return &Bucket{b: b, s3: client}, nil
	default:
		return nil, fmt.Errorf("open blob store: unsupported scheme %q (want \"\", file:// or s3://)", u.Scheme)
	}
}

func openDir(dir string) (*Bucket, error) {
	b, err := fileblob.OpenBucket(dir, &fileblob.Options{
		CreateDir:   true,
		DirFileMode: dirMode,
		// Temporary files next to their object: inside the private tree,
		// and on the same mount, so the final rename cannot fail across
		// devices as it would from os.TempDir on a mounted volume.
		NoTempDir: true,
		// No sidecar .attrs files: nothing here needs content types or
		// metadata, and fileblob would create them with its own modes.
		Metadata: fileblob.MetadataDontWrite,
	})
	if err != nil {
		return nil, fmt.Errorf("open blob store %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("open blob store %s: %w", dir, err)
	}
	return &Bucket{b: b, dir: abs}, nil
}

// Ping reports whether the store answers and its bucket exists; for
// readiness probes.
func (b *Bucket) Ping(ctx context.Context) error {
	ok, err := b.b.IsAccessible(ctx)
	if err != nil {
		return fmt.Errorf("blob store: %w", err)
	}
	if !ok {
		return errors.New("blob store: bucket does not exist")
	}
	return nil
}

// tempName matches fileblob's in-flight copies ("<key>.<hex nanoseconds>.tmp"),
// which a listing of a local store shows while a write runs or after a
// crash interrupted one.
var tempName = regexp.MustCompile(`\.[0-9a-f]+\.tmp$`)

// checkKey refuses the key names a local store reserves for itself, on
// every backend, so code tested against S3 behaves the same on disk.
func checkKey(key string) error {
	if key == "" || tempName.MatchString(key) || strings.HasSuffix(key, ".attrs") {
		return fmt.Errorf("blob: key %q is empty or has a reserved suffix (.attrs, .<hex>.tmp)", key)
	}
	return nil
}

// Put writes the object key with what write writes, replacing any earlier
// one once complete. If write returns an error or panics, or ctx ends
// first, the upload is aborted: key keeps the object it had before (none,
// for a new key) and no partial object is ever visible.
func (b *Bucket) Put(ctx context.Context, key string, write func(w io.Writer) error) (err error) {
	if err := checkKey(key); err != nil {
		return err
	}
	// gocloud aborts a write whose context is cancelled before Close.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.b.NewWriter(ctx, key, b.writerOptions())
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	closed := false
	defer func() {
		if !closed { // write failed or panicked
			cancel()
			w.Close()
		}
	}()
	if err := write(w); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	closed = true
	if err := w.Close(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (b *Bucket) writerOptions() *gcblob.WriterOptions {
	// A set content type spares gocloud buffering the first bytes to sniff
	// one; what is stored is ciphertext anyway.
	o := &gcblob.WriterOptions{ContentType: "application/octet-stream"}
	switch {
	case b.dir != "":
		// fileblob creates its temporary file 0666 less the umask; narrow it
		// before the first byte lands in it. The rename keeps the mode.
		o.BeforeWrite = func(as func(any) bool) error {
			var f *os.File
			if !as(&f) {
				return errors.New("fileblob did not expose its file")
			}
			return f.Chmod(fileMode)
		}
	case b.s3 != nil:
		// An aborted write cancels the upload's context, and the transfer
		// manager would then send AbortMultipartUpload on that same dead
		// context: it fails, and the parts already sent stay in the bucket,
		// unlisted and billed. s3blob offers no option for it, so its
		// transfer manager is replaced by one that aborts on a fresh context
		// (otherwise configured as s3blob does).
		o.BeforeWrite = func(as func(any) bool) error {
			var tm *transfermanager.Client
			if !as(&tm) {
				return errors.New("s3blob did not expose its transfer manager")
			}
			*tm = *transfermanager.New(b.s3, func(o *transfermanager.Options) {
				o.RequestChecksumCalculation = b.s3.Options().RequestChecksumCalculation
				o.FailTimeout = abortTimeout
			})
			return nil
		}
	}
	return o
}

// Size returns the size in bytes of the object key.
func (b *Bucket) Size(ctx context.Context, key string) (int64, error) {
	a, err := b.b.Attributes(ctx, key)
	if err != nil {
		return 0, wrap("size of", key, err)
	}
	return a.Size, nil
}

// NewRangeReader reads n bytes of the object key from offset off, or to
// its end if n < 0. A range reaching past the end reads what there is, as
// io.SectionReader does. The caller closes the reader.
func (b *Bucket) NewRangeReader(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if off < 0 {
		return nil, fmt.Errorf("read %s: negative offset %d", key, off)
	}
	r, err := b.b.NewRangeReader(ctx, key, off, n, nil)
	if err == nil {
		return r, nil
	}
	// S3 answers 416 to a range starting at or past the end of an object
	// that exists, where a file simply reads nothing.
	var ae smithy.APIError
	if b.b.ErrorAs(err, &ae) && ae.ErrorCode() == "InvalidRange" {
		return io.NopCloser(strings.NewReader("")), nil
	}
	return nil, wrap("read", key, err)
}

// Delete removes the object key; a missing one is not an error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	if err := b.b.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// DeletePrefix removes every object whose key starts with prefix — on a
// local store, leftovers of interrupted writes and emptied folders too, so
// an erasure leaves no trace of the keys. An empty prefix is refused: it
// would empty the store.
func (b *Bucket) DeletePrefix(ctx context.Context, prefix string) error {
	if prefix == "" {
		return errors.New("blob: delete with an empty prefix refused")
	}
	it := b.b.List(&gcblob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("delete prefix %s: list: %w", prefix, err)
		}
		if err := b.Delete(ctx, obj.Key); err != nil {
			return fmt.Errorf("delete prefix %s: %w", prefix, err)
		}
		if b.dir != "" {
			b.pruneDirs(obj.Key)
		}
	}
	return nil
}

// pruneDirs removes the folders of key that its deletion left empty, up to
// the root. A folder still in use is not empty and stays.
func (b *Bucket) pruneDirs(key string) {
	root := b.dir + string(filepath.Separator)
	for d := filepath.Dir(filepath.Join(b.dir, filepath.FromSlash(key))); strings.HasPrefix(d, root); d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			return
		}
	}
}

// Keys lists the keys starting with prefix, in lexical order.
func (b *Bucket) Keys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	it := b.b.List(&gcblob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return keys, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		if b.dir != "" && tempName.MatchString(obj.Key) {
			continue
		}
		keys = append(keys, obj.Key)
	}
}

// Close releases the bucket.
func (b *Bucket) Close() error {
	if err := b.b.Close(); err != nil {
		return fmt.Errorf("close blob store: %w", err)
	}
	return nil
}

func wrap(op, key string, err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%s %s: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}
