package dicom

import (
	"encoding/binary"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// segment is a piece of a synthetic file: literal bytes, or fill bytes of a
// repeating pattern that are never held whole.
type segment struct {
	lit  []byte
	fill int64
}

// synthetic streams a file made of segments: 100 MB of pixels cost 64 KiB.
type synthetic struct {
	segs    []segment
	i       int
	off     int64
	pattern []byte
}

func newSynthetic(segs []segment) *synthetic {
	p := make([]byte, 64<<10)
	for i := range p {
		p[i] = byte(i*7 + i>>8)
	}
	return &synthetic{segs: segs, pattern: p}
}

func (s *synthetic) Read(p []byte) (int, error) {
	for s.i < len(s.segs) {
		sg := s.segs[s.i]
		if sg.lit != nil && s.off < int64(len(sg.lit)) {
			n := copy(p, sg.lit[s.off:])
			s.off += int64(n)
			return n, nil
		}
		if s.off < sg.fill {
			n := int(min(int64(len(p)), sg.fill-s.off))
			for done := 0; done < n; {
				done += copy(p[done:n], s.pattern[(s.off+int64(done))%int64(len(s.pattern)):])
			}
			s.off += int64(n)
			return n, nil
		}
		s.i, s.off = s.i+1, 0
	}
	return 0, io.EOF
}

func (s *synthetic) size() int64 {
	var n int64
	for _, sg := range s.segs {
		n += int64(len(sg.lit)) + sg.fill
	}
	return n
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// benchFile is a 200-frame 512×512 16-bit image, 100 MiB of pixels, with
// the identifiers of sampleDS in front, native or as 200 fragments.
func benchFile(explicit, encapsulated bool) []segment {
	const frame = 512 * 512 * 2
	d := &ds{explicit: explicit}
	head := sampleDS(explicit, instUID1, nil)
	head = head[:len(head)-len((&ds{explicit: explicit}).raw(0x7FE00010, "OW", nil).bytes())] // drop the empty pixel data
	d.buf.Write(head)
	ts := tsImplicitLE
	if explicit {
		ts = tsExplicitLE
	}
	if !encapsulated {
		d.header(0x7FE00010, "OW", 200*frame)
		return []segment{{lit: part10(ts, ctClass, instUID1, d.bytes())}, {fill: 200 * frame}}
	}
	d.header(0x7FE00010, "OB", 0xFFFFFFFF).itemTag(0xFFFEE000, 0)
	segs := []segment{{lit: part10("1.2.840.10008.1.2.4.90", ctClass, instUID1, d.bytes())}}
	for range 200 {
		segs = append(segs, segment{lit: explicitDS().itemTag(0xFFFEE000, frame).bytes()}, segment{fill: frame})
	}
	return append(segs, segment{lit: explicitDS().itemTag(0xFFFEE0DD, 0).bytes()})
}

// deflatedBenchFile is benchFile's data set deflated (PS3.5 A.5), built
// once: the pattern compresses to a few MiB.
func deflatedBenchFile(b *testing.B) []segment {
	segs := benchFile(true, false)
	full, err := io.ReadAll(newSynthetic(segs))
	if err != nil {
		b.Fatal(err)
	}
	pos := 132 // past the preamble and DICM, then past the meta elements
	for pos+8 <= len(full) && binary.LittleEndian.Uint16(full[pos:]) == 0x0002 {
		if hasLongLength(string(full[pos+4 : pos+6])) {
			pos += 12 + int(binary.LittleEndian.Uint32(full[pos+8:]))
		} else {
			pos += 8 + int(binary.LittleEndian.Uint16(full[pos+6:]))
		}
	}
	return []segment{{lit: part10(tsDeflatedLE, ctClass, instUID1, deflate(b, full[pos:]))}}
}

// BenchmarkDeidentify100MB de-identifies a 100 MiB file. MB/s is the
// throughput over the data set (inflated, for the deflated case); B/op and
// peak-heap-MB show that memory does not grow with the pixel data.
func BenchmarkDeidentify100MB(b *testing.B) {
	for _, c := range []struct {
		name                   string
		explicit, encapsulated bool
	}{
		{"explicit-native", true, false},
		{"implicit-native", false, false},
		{"jpeg2000-200-fragments", true, true},
		{"deflated", true, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			segs := benchFile(c.explicit, c.encapsulated)
			b.SetBytes(newSynthetic(segs).size())
			if c.name == "deflated" {
				segs = deflatedBenchFile(b)
			}
			b.ReportAllocs()
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			peak := sampleHeap()
			b.ResetTimer()
			for b.Loop() {
				out := &countingWriter{}
				rep, err := Deidentify(out, newSynthetic(segs), Options{UIDKey: testKey})
				if err != nil {
					b.Fatal(err)
				}
				if rep.PixelDataBytes != 200*512*512*2 {
					b.Fatalf("copied %d bytes of pixels", rep.PixelDataBytes)
				}
			}
			b.StopTimer()
			p := peak()
			b.ReportMetric(float64(p)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(int64(p)-int64(base.HeapAlloc))/(1<<20), "heap-growth-MB")
		})
	}
}

// sampleHeap watches the live heap until the returned function is called,
// which stops it and returns the highest value seen.
func sampleHeap() func() uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		wg.Wait()
		return peak.Load()
	}
}
