package medicalrecords

import (
	"bufio"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// The upload benchmarks send generated plain text through the multipart
// endpoint over HTTP, as a patient's browser would, and make bench (bench/
// run.sh) sets their figures beside BenchmarkFileCopy's, run in the same
// process on the same disk. MB/s is go test's (10⁶ bytes); MiB/s is the
// same rate in 2²⁰ bytes, as bench/RESULTS.md shows it.

// uploadSize is the file of BenchmarkUpload and BenchmarkFileCopy.
const uploadSize = 64 << 20

// BenchmarkUpload uploads a 64 MiB text file per op to a new case of the
// patient: spooled while hashed, sniffed (a text file is read whole to
// check it is UTF-8), encrypted into the blob store under DATA_DIR, and
// recorded with its event, on each engine.
func BenchmarkUpload(b *testing.B) {
	for _, e := range testkit.Engines(b) {
		b.Run(string(e), func(b *testing.B) {
			h := newHarness(b, testkit.OpenDB(b, e, Name), Config{})
			b.SetBytes(uploadSize)
			n := 0
			for b.Loop() {
				h.uploadText(h.newCase(patientA, "NEUROLOGY", "DRAFT"), uploadSize)
				n++
			}
			b.ReportMetric(mibPerSecond(b, n, uploadSize), "MiB/s")
		})
	}
}

// BenchmarkFileCopy is BenchmarkUpload's peer: a 64 MiB file copied to a
// new file in the same kind of temporary folder, on the same disk. The
// bytes pass through a 32 KiB buffer in the program, as they pass through
// the service (io.Copy into the spool, then into the encrypter), not by
// copy_file_range, which would copy in the kernel without reading them.
// Neither side syncs: the spool file and fileblob's objects are closed
// without fsync (kit/blob, gocloud's fileblob), so both measure writing
// into the page cache, with the kernel's writeback as it comes. The copies
// stay until the benchmark ends, as the uploads' blobs do.
func BenchmarkFileCopy(b *testing.B) {
	dir := b.TempDir()
	src := filepath.Join(dir, "source.txt")
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(f, io.LimitReader(newText(0), uploadSize)); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	b.SetBytes(uploadSize)
	n := 0
	for b.Loop() {
		copyFile(b, src, filepath.Join(dir, "copy-"+strconv.Itoa(n)+".txt"), buf)
		n++
	}
	b.ReportMetric(mibPerSecond(b, n, uploadSize), "MiB/s")
}

// BenchmarkUpload1GiB uploads a 1 GiB text file per op (run it with
// -benchtime 1x) on SQLite, and reports how far the process's resident
// memory rose above where it stood before the upload: the client streams
// from a generator through a pipe, so the growth is the server's. The
// high-water mark is reset before each upload (clear_refs, Linux ≥ 4.0);
// where that is refused, the growth is the mark's own rise, which misses a
// peak lower than an earlier one.
func BenchmarkUpload1GiB(b *testing.B) {
	const size = 1 << 30
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("peak RSS is read from /proc/self/status, missing here")
	}
	h := newHarness(b, testkit.OpenDB(b, sqldb.SQLite, Name), Config{})
	b.SetBytes(size)
	var growth int64
	n := 0
	for b.Loop() {
		b.StopTimer()
		c := h.newCase(patientA, "NEUROLOGY", "DRAFT")
		// From the smallest footprint the heap has: the upload's own
		// allocations are counted, not hidden in memory freed earlier.
		runtime.GC()
		debug.FreeOSMemory()
		base, reset := resetPeak(b)
		if !reset && n == 0 {
			b.Log("/proc/self/clear_refs refused: peak RSS growth is the rise of VmHWM, a lower bound")
		}
		b.StartTimer()
		h.uploadText(c, size)
		b.StopTimer()
		growth = max(growth, procStatus(b, "VmHWM")-base)
		b.StartTimer()
		n++
	}
	b.ReportMetric(mibPerSecond(b, n, size), "MiB/s")
	b.ReportMetric(float64(growth)/(1<<20), "peak-RSS-growth-MiB")
}

// uploads numbers the files the benchmarks generate, so none has the
// content of another: the service keeps one record per content and case.
var uploads atomic.Int64

// uploadText sends size bytes of generated text as the file part of a
// multipart upload to case caseID, as its patient, and requires a new
// record. The body is written into a pipe as the request reads it: the
// client never holds the file.
func (h *harness) uploadText(caseID string, size int64) {
	h.t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", "notes.txt")
		if err == nil {
			_, err = io.Copy(part, io.LimitReader(newText(uploads.Add(1)), size))
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err) // nil: EOF
	}()
	req, err := http.NewRequest(http.MethodPost, h.base+"/api/v1/cases/"+caseID+"/documents?kind=OTHER", pr)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res := h.send(req, "a")
	if res.status != http.StatusCreated || res.body["size"] != float64(size) {
		h.t.Fatalf("upload of %d bytes: %d %s", size, res.status, res.raw)
	}
}

// text is an endless plain-text file of numbered lines, each naming the
// file's number: 100 bytes of memory for any length.
type text struct {
	line []byte
	off  int   // the next byte of line to read
	n    int64 // the number of the line in line
}

const (
	textLine = "file 000000 line 0000000000: patient reports intermittent headaches, examination unremarkable.\n"
	fileNum  = len("file ")
	lineNum  = len("file 000000 line ")
)

func newText(file int64) *text {
	t := &text{line: []byte(textLine)}
	putDigits(t.line[fileNum:fileNum+6], file)
	t.off = len(t.line)
	return t
}

func (t *text) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if t.off == len(t.line) {
			t.n++
			putDigits(t.line[lineNum:lineNum+10], t.n)
			t.off = 0
		}
		c := copy(p[n:], t.line[t.off:])
		t.off += c
		n += c
	}
	return n, nil
}

// putDigits writes v in decimal into all of b, zero-padded, keeping the
// last len(b) digits.
func putDigits(b []byte, v int64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}

func copyFile(b *testing.B, src, dst string, buf []byte) {
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	// Only Reader and Writer: io.CopyBuffer would otherwise hand the copy
	// to the kernel (copy_file_range).
	if _, err := io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{in}, buf); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}

func mibPerSecond(b *testing.B, ops int, size int64) float64 {
	return float64(ops) * float64(size) / (1 << 20) / b.Elapsed().Seconds()
}

// resetPeak resets the process's resident-memory high-water mark to its
// resident memory now and returns that, with true; where the reset is
// refused, it returns the mark as it stands, with false.
func resetPeak(b *testing.B) (int64, bool) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return procStatus(b, "VmHWM"), false
	}
	return procStatus(b, "VmRSS"), true
}

// procStatus is a field of /proc/self/status given in kB, in bytes.
func procStatus(b *testing.B, field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				b.Fatalf("%s in /proc/self/status: %q", field, v)
			}
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
