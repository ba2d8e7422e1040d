package dicom

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// cappedBuffer refuses to grow past its cap, so a deflate bomb in the fuzz
// corpus ends as a write error instead of filling memory with output.
type cappedBuffer struct {
	bytes.Buffer
	cap int
}

var errFull = errors.New("output cap reached")

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.cap {
		return 0, errFull
	}
	return b.Buffer.Write(p)
}

// totalAlloc is the bytes allocated so far by the process; no GC needed,
// the counter only grows.
func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// FuzzRead feeds arbitrary bytes to both entry points. Neither may panic or
// allocate much more than it is given; when Deidentify succeeds, its output
// must read back and de-identify again.
func FuzzRead(f *testing.F) {
	d := sampleDS(true, instUID1, samplePixels)
	leaf := explicitDS().str(0x00081155, "UI", instUID2).str(0x00100010, "PN", "X^Y")
	seeds := [][]byte{
		part10(tsExplicitLE, ctClass, instUID1, d),
		part10(tsImplicitLE, ctClass, instUID1, sampleDS(false, instUID1, samplePixels)),
		part10(tsDeflatedLE, ctClass, instUID1, deflate(f, d)),
		part10("1.2.840.10008.1.2.4.50", ctClass, instUID1, explicitDS().str(0x00100010, "PN", "Doe").encapsulated([]byte{1, 2, 3, 4}, []byte{5, 6}).bytes()),
		part10(tsExplicitLE, ctClass, instUID1, explicitDS().seq(0x00081115, true, leaf, leaf).seq(0x00081140, false, leaf).bytes()),
		part10(tsImplicitLE, ctClass, instUID1, implicitDS().seq(0x00221234, false, implicitDS().str(0x00100010, "PN", "Z")).bytes()),
		part10(tsExplicitLE, ctClass, instUID1, explicitDS().header(0x00221234, "UN", 0xFFFFFFFF).itemTag(0xFFFEE000, 0xFFFFFFFF).itemTag(0xFFFEE00D, 0).itemTag(0xFFFEE0DD, 0).bytes()),
		part10(tsExplicitLE, ctClass, instUID1, explicitDS().header(0x00100010, "UT", 0xFFFFFFF0).bytes()),
		part10(tsExplicitLE, ctClass, instUID1, nil),
	}
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "*.dcm"))
	for _, name := range fixtures {
		if b, err := os.ReadFile(name); err == nil {
			seeds = append(seeds, b)
		}
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		before := totalAlloc()
		_, _ = ReadMetadata(bytes.NewReader(data))
		out := &cappedBuffer{cap: 8 << 20}
		_, err := Deidentify(out, bytes.NewReader(data), Options{UIDKey: testKey})
		if err == nil {
			if _, err := ReadMetadata(bytes.NewReader(out.Bytes())); err != nil {
				t.Fatalf("our output does not read back: %v", err)
			}
			again := &cappedBuffer{cap: 16 << 20}
			if _, err := Deidentify(again, bytes.NewReader(out.Bytes()), Options{UIDKey: testKey}); err != nil {
				t.Fatalf("our output does not de-identify again: %v", err)
			}
		}
		// Fixed costs (read and write buffers, the deflate compressor)
		// are a few MiB; output buffers grow to their caps at most.
		if n := totalAlloc() - before; n > 96<<20 {
			t.Fatalf("allocated %d MiB for %d bytes of input", n>>20, len(data))
		}
	})
}
