package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// KeySize is the size of a data key in bytes (AES-256).
const KeySize = 32

// ErrAuth is wrapped by every error that means the ciphertext is not what
// was written under this key: tampered, truncated, spliced, of an
// impossible size, or encrypted under another key.
var ErrAuth = errors.New("crypt: message authentication failed")

const (
	version     = 1
	saltSize    = 32
	prefixSize  = 7
	headerSize  = 1 + saltSize + prefixSize
	segmentSize = 64 << 10 // plaintext bytes in every segment but the last
	tagSize     = 16
	// cipherSegment is the stored size of every segment but the last.
	cipherSegment = segmentSize + tagSize
	maxSegments   = math.MaxUint32 + 1 // the index is 4 bytes
	// infoLabel starts the HKDF info, separating this use of the data key
	// from any other.
	infoLabel = "secondopinion crypt v1 segment key\x00"
)

// NewKey returns a random data key.
func NewKey() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("crypt: new key: %w", err)
	}
	return k, nil
}

// segments is the number of segments of a plaintext of plain bytes.
func segments(plain int64) int64 {
	if plain == 0 {
		return 1
	}
	return (plain + segmentSize - 1) / segmentSize
}

// CipherSize returns the size of the ciphertext of plain bytes (≥ 0).
func CipherSize(plain int64) int64 {
	if plain < 0 {
		panic("crypt: negative plaintext size")
	}
	return headerSize + plain + segments(plain)*tagSize
}

// PlainSize returns the size of the plaintext of cipher bytes of
// ciphertext, or an error if no plaintext encrypts to that size.
func PlainSize(cipher int64) (int64, error) {
	body := cipher - headerSize
	full, rest := body/cipherSegment, body%cipherSegment
	var plain int64
	switch {
	case body < tagSize:
		return 0, fmt.Errorf("crypt: %d bytes is too short for a ciphertext", cipher)
	case rest == 0: // the last segment is full
		plain = full * segmentSize
	case rest > tagSize:
		plain = full*segmentSize + rest - tagSize
	case rest == tagSize && full == 0: // empty
	default:
		return 0, fmt.Errorf("crypt: %d bytes is not the size of a ciphertext", cipher)
	}
	if segments(plain) > maxSegments {
		return 0, fmt.Errorf("crypt: %d bytes is too large for a ciphertext", cipher)
	}
	return plain, nil
}

// header is what precedes the segments.
type header [headerSize]byte

func (h *header) prefix() []byte { return h[1+saltSize:] }

// aead returns the segment cipher of the object with header h.
func (h *header) aead(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("crypt: data key is %d bytes, want %d", len(key), KeySize)
	}
	if h[0] != version {
		return nil, fmt.Errorf("crypt: unknown format version %d: %w", h[0], ErrAuth)
	}
	sk, err := hkdf.Key(sha256.New, key, h[1:1+saltSize], infoLabel+string(h[:]), KeySize)
	if err != nil {
		return nil, fmt.Errorf("crypt: derive segment key: %w", err)
	}
	block, err := aes.NewCipher(sk)
	if err != nil {
		return nil, fmt.Errorf("crypt: %w", err)
	}
	return cipher.NewGCM(block)
}

// nonce returns the nonce of segment i.
func (h *header) nonce(i int64, last bool) []byte {
	var n [prefixSize + 4 + 1]byte
	copy(n[:], h.prefix())
	binary.BigEndian.PutUint32(n[prefixSize:], uint32(i))
	if last {
		n[prefixSize+4] = 1
	}
	return n[:]
}

// NewWriter returns a writer that encrypts onto dst what is written to it,
// with the data key key. It writes the header at once, and then a segment
// each time 64 KiB more of plaintext are known not to be the last: it
// holds at most one segment. Close writes the last segment and must be
// called; it does not close dst. The writer is not safe for concurrent use.
func NewWriter(dst io.Writer, key []byte) (io.WriteCloser, error) {
	w := &writer{dst: dst, buf: make([]byte, 0, cipherSegment)}
	w.h[0] = version
	if _, err := rand.Read(w.h[1:]); err != nil {
		return nil, fmt.Errorf("crypt: new writer: %w", err)
	}
	aead, err := w.h.aead(key)
	if err != nil {
		return nil, err
	}
	w.aead = aead
	if _, err := dst.Write(w.h[:]); err != nil {
		return nil, fmt.Errorf("crypt: write header: %w", err)
	}
	return w, nil
}

var errClosed = errors.New("crypt: writer is closed")

type writer struct {
	dst  io.Writer
	h    header
	aead cipher.AEAD
	buf  []byte // plaintext of segment i, sealed in place
	i    int64
	err  error // sticky: a failed dst, or errClosed
}

func (w *writer) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if w.err != nil {
			return n, w.err
		}
		// A full segment is sealed only once more plaintext shows it is not
		// the last one.
		if len(w.buf) == segmentSize {
			w.seal(false)
			continue
		}
		k := copy(w.buf[len(w.buf):segmentSize], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
		n += k
	}
	return n, w.err
}

// seal encrypts and writes segment w.i, and sets w.err on failure.
func (w *writer) seal(last bool) {
	if w.i == maxSegments {
		w.err = errors.New("crypt: object too large")
		return
	}
	ct := w.aead.Seal(w.buf[:0], w.h.nonce(w.i, last), w.buf, nil)
	if _, err := w.dst.Write(ct); err != nil {
		w.err = fmt.Errorf("crypt: write segment %d: %w", w.i, err)
		return
	}
	w.i++
	w.buf = w.buf[:0]
}

// Close writes the last segment.
func (w *writer) Close() error {
	if w.err != nil {
		return w.err
	}
	w.seal(true)
	if w.err != nil {
		return w.err
	}
	w.err = errClosed
	return nil
}

// Fetch returns the ciphertext bytes [off, off+n), or from off to the end
// if n < 0 — Bucket.NewRangeReader of package blob, bound to a key.
type Fetch func(off, n int64) (io.ReadCloser, error)

// NewReader returns the plaintext bytes [off, off+n), or from off to the
// end if n < 0, of the object of cipherSize bytes that fetch reads, with the
// data key key. It fetches the header and the segments covering the range
// only, and authenticates each segment before returning any of its bytes;
// the first is checked before NewReader returns, so a wrong key or a
// tampered object shows before a caller commits to a response. Errors that
// mean the ciphertext is not authentic wrap ErrAuth; a failed fetch is
// returned as it is. A range outside the plaintext is an error.
//
// cipherSize must come from the store, not from the writer's say-so: it
// fixes which segment is the last, which is what detects truncation.
func NewReader(key []byte, cipherSize int64, fetch Fetch, off, n int64) (io.ReadCloser, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("crypt: data key is %d bytes, want %d", len(key), KeySize)
	}
	plain, err := PlainSize(cipherSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	if n < 0 {
		n = plain - off
	}
	if off < 0 || off > plain || n > plain-off {
		return nil, fmt.Errorf("crypt: range [%d, +%d) is outside the %d bytes of plaintext", off, n, plain)
	}
	r := &reader{
		cipherSize: cipherSize,
		last:       segments(plain) - 1,
		buf:        make([]byte, cipherSegment),
		remain:     n,
	}
	r.i = min(off/segmentSize, r.last) // off == plain lies past the last segment
	r.end = r.i
	if n > 0 {
		r.end = (off + n - 1) / segmentSize
	}
	r.skip = off - r.i*segmentSize

	// One fetch for header and segments when they are contiguous.
	start := headerSize + r.i*cipherSegment
	stop := min(cipherSize, headerSize+(r.end+1)*cipherSegment)
	if r.i == 0 {
		start = 0
	}
	body, err := fetch(start, stop-start)
	if err != nil {
		return nil, fmt.Errorf("crypt: fetch: %w", err)
	}
	r.body = body
	if err := r.readHeader(fetch, key); err != nil {
		body.Close()
		return nil, err
	}
	if err := r.next(); err != nil {
		body.Close()
		return nil, err
	}
	return r, nil
}

type reader struct {
	h          header
	aead       cipher.AEAD
	body       io.ReadCloser // segments i to end, the header first if i == 0
	cipherSize int64
	i          int64 // next segment to open
	end        int64 // last segment of the range
	last       int64 // last segment of the object
	buf        []byte
	plain      []byte // the opened segment's plaintext not yet returned
	skip       int64  // bytes to drop from the first segment opened
	remain     int64  // bytes of the range not yet returned
	err        error  // sticky
}

func (r *reader) readHeader(fetch Fetch, key []byte) error {
	src := r.body
	if r.i > 0 {
		hb, err := fetch(0, headerSize)
		if err != nil {
			return fmt.Errorf("crypt: fetch header: %w", err)
		}
		defer hb.Close()
		src = hb
	}
	if err := readFull(src, r.h[:]); err != nil {
		return fmt.Errorf("crypt: header: %w", err)
	}
	aead, err := r.h.aead(key)
	if err != nil {
		return err
	}
	r.aead = aead
	return nil
}

// next reads and opens segment r.i.
func (r *reader) next() error {
	start := headerSize + r.i*cipherSegment
	ct := r.buf[:min(cipherSegment, r.cipherSize-start)]
	if err := readFull(r.body, ct); err != nil {
		return fmt.Errorf("crypt: segment %d: %w", r.i, err)
	}
	p, err := r.aead.Open(ct[:0], r.h.nonce(r.i, r.i == r.last), ct, nil)
	if err != nil {
		return fmt.Errorf("crypt: segment %d: %w", r.i, ErrAuth)
	}
	r.plain = p[r.skip:]
	r.skip = 0
	r.i++
	return nil
}

// readFull reads len(p) bytes; a short read means a truncated object.
func readFull(src io.Reader, p []byte) error {
	_, err := io.ReadFull(src, p)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("truncated: %w", ErrAuth)
	}
	return err
}

func (r *reader) Read(p []byte) (int, error) {
	if r.remain == 0 {
		return 0, io.EOF
	}
	if r.err != nil {
		return 0, r.err
	}
	if len(r.plain) == 0 {
		if r.err = r.next(); r.err != nil {
			return 0, r.err
		}
	}
	k := copy(p, r.plain[:min(int64(len(r.plain)), r.remain)])
	r.plain = r.plain[k:]
	r.remain -= int64(k)
	return k, nil
}

func (r *reader) Close() error { return r.body.Close() }
