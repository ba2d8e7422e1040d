package crypt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// Tests sit inside the package to reach the format's constants; they use
// only the exported API otherwise.

const (
	S  = segmentSize
	CS = cipherSegment
	H  = headerSize
)

func testKey(t testing.TB) []byte {
	t.Helper()
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// pattern is the plaintext of n bytes every test encrypts, so that any
// successful decryption can be checked against it.
func pattern(n int64) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i>>16)
	}
	return p
}

// encrypt encrypts plain in writes of random sizes.
func encrypt(t testing.TB, key, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, key)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(len(plain)), 2))
	for p := plain; len(p) > 0; {
		k := min(len(p), 1+r.IntN(3*S/2))
		if n, err := w.Write(p[:k]); n != k || err != nil {
			t.Fatalf("write: %d, %v", n, err)
		}
		p = p[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := int64(buf.Len()), CipherSize(int64(len(plain))); got != want {
		t.Fatalf("%d bytes of plaintext gave %d of ciphertext; CipherSize says %d", len(plain), got, want)
	}
	return buf.Bytes()
}

// fetcher serves ct and records the ranges asked for.
type fetcher struct {
	ct     []byte
	ranges [][2]int64
}

func (f *fetcher) fetch(off, n int64) (io.ReadCloser, error) {
	f.ranges = append(f.ranges, [2]int64{off, n})
	end := int64(len(f.ct))
	if n >= 0 {
		end = min(end, off+n)
	}
	return io.NopCloser(bytes.NewReader(f.ct[min(off, end):end])), nil
}

func (f *fetcher) fetched() (n int64) {
	for _, r := range f.ranges {
		n += r[1]
	}
	return n
}

// decrypt returns what a reader of [off, off+n) yields, up to its error.
func decrypt(key, ct []byte, off, n int64) ([]byte, error) {
	f := &fetcher{ct: ct}
	r, err := NewReader(key, int64(len(ct)), f.fetch, off, n)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func TestRoundTrip(t *testing.T) {
	key := testKey(t)
	for _, size := range []int64{0, 1, S - 1, S, S + 1, 2 * S, 3*S + 7, 5*S - 1} {
		plain := pattern(size)
		ct := encrypt(t, key, plain)
		if p, err := PlainSize(int64(len(ct))); err != nil || p != size {
			t.Errorf("PlainSize(%d) = %d, %v; want %d", len(ct), p, err, size)
		}
		got, err := decrypt(key, ct, 0, -1)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("size %d: got %d bytes, %v", size, len(got), err)
		}
	}
}

// Two encryptions of one plaintext under one key share no ciphertext.
func TestFreshPerObject(t *testing.T) {
	key := testKey(t)
	plain := pattern(2 * S)
	a, b := encrypt(t, key, plain), encrypt(t, key, plain)
	for i := 0; i+16 <= len(a); i += 16 {
		if bytes.Equal(a[i:i+16], b[i:i+16]) {
			t.Fatalf("ciphertexts share bytes at %d", i)
		}
	}
}

func TestRanges(t *testing.T) {
	key := testKey(t)
	size := int64(3*S + 100)
	plain := pattern(size)
	ct := encrypt(t, key, plain)
	for _, c := range [][2]int64{
		{0, -1}, {0, size}, {0, 0}, {0, 1}, {1, 1},
		{S - 1, 1}, {S - 1, 2}, {S, 1}, {S, S}, {S - 1, S + 2},
		{S / 2, 2 * S}, {3 * S, -1}, {3 * S, 100}, {3*S + 99, 1},
		{size - 1, -1}, {size, -1}, {size, 0}, {2 * S, 0}, {S, -1},
	} {
		off, n := c[0], c[1]
		want := plain[off:]
		if n >= 0 {
			want = plain[off : off+n]
		}
		got, err := decrypt(key, ct, off, n)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("[%d,+%d): got %d bytes, %v; want %d", off, n, len(got), err, len(want))
		}
	}
	for _, c := range [][2]int64{{-1, 1}, {-1, -1}, {size + 1, -1}, {size + 1, 0}, {size, 1}, {0, size + 1}, {size - 5, 6}} {
		if _, err := decrypt(key, ct, c[0], c[1]); err == nil || errors.Is(err, ErrAuth) {
			t.Errorf("[%d,+%d) outside the plaintext: %v; want a range error", c[0], c[1], err)
		}
	}
}

// Random ranges over objects of random sizes read what was written, and
// fetch nothing but the header and the segments covering the range.
func TestRangesProperty(t *testing.T) {
	key := testKey(t)
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		size := r.Int64N(6 * S)
		if r.IntN(4) == 0 {
			size = r.Int64N(6) * S // on a boundary
		}
		plain := pattern(size)
		ct := encrypt(t, key, plain)
		for range 50 {
			off := r.Int64N(size + 1)
			n := r.Int64N(size - off + 1)
			if r.IntN(5) == 0 {
				n = -1
			}
			f := &fetcher{ct: ct}
			rd, err := NewReader(key, int64(len(ct)), f.fetch, off, n)
			if err != nil {
				t.Fatalf("size %d [%d,+%d): %v", size, off, n, err)
			}
			got, err := io.ReadAll(rd)
			rd.Close()
			end := size
			if n >= 0 {
				end = off + n
			}
			if err != nil || !bytes.Equal(got, plain[off:end]) {
				t.Fatalf("size %d [%d,+%d): got %d bytes, %v", size, off, n, len(got), err)
			}
			first := min(off/S, segments(size)-1)
			last := max(first, (end-1)/S)
			if want := H + min(int64(len(ct))-H, (last+1)*CS) - first*CS; f.fetched() != want {
				t.Fatalf("size %d [%d,+%d): fetched %d bytes in %v, want %d", size, off, n, f.fetched(), f.ranges, want)
			}
		}
	}
}

func TestFetchesOnlyCoveringSegments(t *testing.T) {
	key := testKey(t)
	ct := encrypt(t, key, pattern(5*S))
	for _, c := range []struct {
		off, n int64
		want   [][2]int64
	}{
		{2*S + 10, 100, [][2]int64{{H + 2*CS, CS}, {0, H}}},
		{10, 100, [][2]int64{{0, H + CS}}},
		{S - 1, 2, [][2]int64{{0, H + 2*CS}}},
		{4 * S, -1, [][2]int64{{H + 4*CS, CS}, {0, H}}},
		{5 * S, 0, [][2]int64{{H + 4*CS, CS}, {0, H}}}, // the end: the last segment still authenticates
	} {
		f := &fetcher{ct: ct}
		r, err := NewReader(key, int64(len(ct)), f.fetch, c.off, c.n)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(r)
		r.Close()
		if fmt.Sprint(f.ranges) != fmt.Sprint(c.want) {
			t.Errorf("[%d,+%d): fetched %v, want %v", c.off, c.n, f.ranges, c.want)
		}
	}
}

// mustFail checks that reading ct in full yields ErrAuth, and that what it
// yields first is a prefix of the plaintext no longer than good bytes:
// the bytes of the segments before the damage.
func mustFail(t *testing.T, name string, key, ct []byte, plain []byte, good int64) {
	t.Helper()
	got, err := decrypt(key, ct, 0, -1)
	if !errors.Is(err, ErrAuth) {
		t.Errorf("%s: got %v, want ErrAuth", name, err)
	}
	if int64(len(got)) > good || !bytes.Equal(got, plain[:len(got)]) {
		t.Errorf("%s: yielded %d bytes before failing, of which at most %d are authentic", name, len(got), good)
	}
}

func TestTampering(t *testing.T) {
	key := testKey(t)
	size := int64(3*S + 100) // segments at H, H+CS, H+2CS, H+3CS (last, 116 bytes)
	plain := pattern(size)
	ct := encrypt(t, key, plain)
	modified := func(f func(c []byte) []byte) []byte { return f(bytes.Clone(ct)) }

	for i := range H {
		for _, bit := range []byte{1, 0x80} {
			c := modified(func(c []byte) []byte { c[i] ^= bit; return c })
			mustFail(t, fmt.Sprintf("header byte %d ^ %#x", i, bit), key, c, plain, 0)
		}
	}
	for seg := range int64(4) {
		start := H + seg*CS
		end := min(int64(len(ct)), start+CS)
		for _, at := range []int64{start, (start + end) / 2, end - tagSize, end - 1} {
			c := modified(func(c []byte) []byte { c[at] ^= 4; return c })
			mustFail(t, fmt.Sprintf("segment %d byte %d", seg, at-start), key, c, plain, seg*S)
			// A read of that segment alone fails before returning; a read of
			// another one does not notice.
			if _, err := decrypt(key, c, seg*S, 1); !errors.Is(err, ErrAuth) {
				t.Errorf("segment %d tampered, ranged read: %v", seg, err)
			}
			other := (seg + 1) % 4 * S
			if got, err := decrypt(key, c, other, 1); err != nil || got[0] != plain[other] {
				t.Errorf("segment %d tampered, read of another: %v", seg, err)
			}
		}
	}

	for _, cut := range []int64{0, 1, H - 1, H, H + 1, H + tagSize, H + CS/2, H + CS - 1, H + 2*CS - tagSize, int64(len(ct)) - 1} {
		c := ct[:cut]
		mustFail(t, fmt.Sprintf("truncated mid-segment to %d", cut), key, c, plain, (cut-H)/CS*S)
	}
	// At a boundary the size is that of a shorter object: only the flag on
	// the last segment tells.
	for segs := range int64(3) {
		c := ct[:H+(segs+1)*CS]
		mustFail(t, fmt.Sprintf("truncated to %d segments", segs+1), key, c, plain, segs*S)
	}

	c := modified(func(c []byte) []byte {
		tmp := bytes.Clone(c[H : H+CS])
		copy(c[H:], c[H+CS:H+2*CS])
		copy(c[H+CS:], tmp)
		return c
	})
	mustFail(t, "segments 0 and 1 swapped", key, c, plain, 0)

	c = append(bytes.Clone(ct[:H+CS]), ct[H+2*CS:]...)
	mustFail(t, "segment 1 dropped", key, c, plain, S)

	c = append(bytes.Clone(ct[:H+2*CS]), ct[H+CS:]...)
	mustFail(t, "segment 1 repeated", key, c, plain, 2*S)

	other := encrypt(t, key, plain)
	c = modified(func(c []byte) []byte { copy(c[H+CS:], other[H+CS:H+2*CS]); return c })
	mustFail(t, "segment 1 from another object under the same key", key, c, plain, S)
	c = append(bytes.Clone(other[:H]), ct[H:]...)
	mustFail(t, "another object's header", key, c, plain, 0)

	mustFail(t, "wrong key", testKey(t), ct, plain, 0)

	c = modified(func(c []byte) []byte { c[0] = 2; return c })
	if _, err := decrypt(key, c, 0, -1); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("format version 2: %v; want ErrAuth naming the version", err)
	}

	// The store says one size and serves less: the object changed under
	// the reader, or the store misbehaves.
	for _, cut := range []int64{10, H + 10, int64(len(ct)) - 1} {
		f := &fetcher{ct: ct[:cut]}
		r, err := NewReader(key, int64(len(ct)), f.fetch, 0, -1)
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if !errors.Is(err, ErrAuth) {
			t.Errorf("%d bytes served of %d: %v; want ErrAuth", cut, len(ct), err)
		}
	}

	// The last segment of an exact multiple of the segment size is full:
	// appending another object's last segment makes a size that parses.
	even := encrypt(t, key, pattern(2*S))
	c = append(bytes.Clone(even), ct[H+3*CS:]...)
	mustFail(t, "a last segment appended", key, c, pattern(2*S+100), S)
}

// A range of no bytes still authenticates the segment it lies in.
func TestEmptyRangeAuthenticates(t *testing.T) {
	key := testKey(t)
	for _, size := range []int64{0, 10, 2 * S} {
		ct := encrypt(t, key, pattern(size))
		if _, err := decrypt(testKey(t), ct, size, 0); !errors.Is(err, ErrAuth) {
			t.Errorf("size %d, empty range, wrong key: %v", size, err)
		}
	}
}

func TestFetchError(t *testing.T) {
	errGone := errors.New("gone")
	key := testKey(t)
	fetch := func(off, n int64) (io.ReadCloser, error) { return nil, errGone }
	_, err := NewReader(key, CipherSize(10), fetch, 0, -1)
	if !errors.Is(err, errGone) || errors.Is(err, ErrAuth) {
		t.Errorf("got %v, want the fetch's error", err)
	}
	if _, err := NewReader(key[:16], CipherSize(10), fetch, 0, -1); err == nil || errors.Is(err, errGone) {
		t.Errorf("short key: %v", err)
	}
}

func TestSizes(t *testing.T) {
	// Every ciphertext size up to four segments is either the size of one
	// plaintext or refused, and the valid ones are exactly CipherSize's.
	valid := map[int64]int64{}
	for p := range int64(6 * S) {
		valid[CipherSize(p)] = p
	}
	for c := int64(-1); c <= CipherSize(4*S)+CS; c++ {
		p, err := PlainSize(c)
		want, ok := valid[c]
		if ok && (err != nil || p != want) || !ok && err == nil {
			t.Fatalf("PlainSize(%d) = %d, %v; want %d (valid: %v)", c, p, err, want, ok)
		}
	}
	for _, p := range []int64{2 << 30, 2<<30 + 1, 1 << 40, maxSegments * S} {
		if got, err := PlainSize(CipherSize(p)); err != nil || got != p {
			t.Errorf("PlainSize(CipherSize(%d)) = %d, %v", p, got, err)
		}
	}
	if _, err := PlainSize(CipherSize(maxSegments*S) + CS); err == nil {
		t.Error("a ciphertext of more than 2^32 segments accepted")
	}
	if got := CipherSize(2 << 30); got != H+2<<30+(2<<30)/S*tagSize {
		t.Errorf("CipherSize(2 GiB) = %d", got)
	}
}

type failingWriter struct{ left int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		return 0, errors.New("disk full")
	}
	w.left -= len(p)
	return len(p), nil
}

func TestWriter(t *testing.T) {
	key := testKey(t)
	if _, err := NewWriter(io.Discard, key[:31]); err == nil {
		t.Error("short key accepted")
	}

	// At most one segment is held: a full one goes out as soon as one more
	// byte shows it is not the last.
	var buf bytes.Buffer
	w, err := NewWriter(&buf, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		write int
		held  int
	}{{0, H}, {S, H}, {1, H + CS}, {S - 1, H + CS}, {2 * S, H + 3*CS}} {
		w.Write(pattern(int64(step.write)))
		if buf.Len() != step.held {
			t.Errorf("after writing %d more: %d bytes out, want %d", step.write, buf.Len(), step.held)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("write after close accepted")
	}
	if err := w.Close(); err == nil {
		t.Error("second close accepted")
	}

	for _, left := range []int{0, H, H + CS} {
		w, err := NewWriter(&failingWriter{left}, key)
		if left == 0 {
			if err == nil {
				t.Error("failed header write not reported")
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		_, werr := w.Write(pattern(3 * S))
		cerr := w.Close()
		if werr == nil || cerr == nil {
			t.Errorf("dst failing after %d bytes: write %v, close %v", left, werr, cerr)
		}
	}
}

// FuzzReader feeds arbitrary ciphertexts and ranges to NewReader: it must
// not panic, and whatever it returns without error is the plaintext that
// was encrypted (every seed encrypts pattern under fuzzKey), while errors
// for an in-range read of damaged input wrap ErrAuth.
func FuzzReader(f *testing.F) {
	for _, size := range []int64{0, 1, 100, S, S + 1, 2*S + 10} {
		ct := encrypt(f, fuzzKey, pattern(size))
		f.Add(ct, int64(0), int64(-1))
		f.Add(ct, size/2, size/4)
		ct = bytes.Clone(ct)
		ct[len(ct)/2] ^= 1
		f.Add(ct, int64(0), int64(-1))
	}
	f.Add([]byte{}, int64(0), int64(0))
	f.Add(make([]byte, H+tagSize), int64(0), int64(-1))
	f.Fuzz(func(t *testing.T, ct []byte, off, n int64) {
		got, err := decrypt(fuzzKey, ct, off, n)
		plain, perr := PlainSize(int64(len(ct)))
		inRange := perr == nil && off >= 0 && off <= plain && (n < 0 || n <= plain-off)
		if err != nil {
			if inRange && !errors.Is(err, ErrAuth) {
				t.Fatalf("in-range read failed without ErrAuth: %v", err)
			}
			return
		}
		if !inRange {
			t.Fatalf("read [%d,+%d) of a %d-byte ciphertext succeeded", off, n, len(ct))
		}
		if !bytes.Equal(got, pattern(plain)[off:off+int64(len(got))]) || n >= 0 && int64(len(got)) != n {
			t.Fatalf("read [%d,+%d) yielded bytes that were never encrypted", off, n)
		}
	})
}

var fuzzKey = bytes.Repeat([]byte{7}, KeySize)

const benchSize = 16 << 20

func BenchmarkEncrypt(b *testing.B) {
	key := testKey(b)
	plain := pattern(benchSize)
	b.SetBytes(benchSize)
	for b.Loop() {
		w, err := NewWriter(io.Discard, key)
		if err != nil {
			b.Fatal(err)
		}
		w.Write(plain)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	key := testKey(b)
	ct := encrypt(b, key, pattern(benchSize))
	b.SetBytes(benchSize)
	for b.Loop() {
		f := &fetcher{ct: ct}
		r, err := NewReader(key, int64(len(ct)), f.fetch, 0, -1)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}
