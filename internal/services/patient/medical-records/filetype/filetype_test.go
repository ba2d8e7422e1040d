package filetype_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/kit/fault"
	ft "github.com/secondopinion/platform/internal/services/patient/medical-records/filetype"
)

type tc struct {
	name string
	data []byte
	lim  ft.Limits
	want ft.Type // the type, or the zero Type for a refusal of kind
	kind fault.Kind
	// detail is a phrase the refusal's Detail must hold: it tells apart
	// the guards that refuse one file.
	detail string
}

func ok(name string, data []byte, want ft.Type) tc { return tc{name: name, data: data, want: want} }

func refused(name string, data []byte, kind fault.Kind, detail string) tc {
	return tc{name: name, data: data, kind: kind, detail: detail}
}

const (
	unsup = fault.KindUnsupported
	inval = fault.KindInvalid
)

// cases are the files of the table; the fuzz target starts from them too.
func cases(t testing.TB) []tc {
	pdf, pngb, jpg := minimalPDF(), pngFile(t), jpegFile(t)
	explicit := fixture(t, "one.explicit.dcm")
	pixels := bytes.Index(explicit, []byte{0xe0, 0x7f, 0x10, 0x00})
	le, be := tiffFile(binary.LittleEndian), tiffFile(binary.BigEndian)
	twoPages, _ := tiffOf(binary.LittleEndian, make([]byte, 8), greyPage(8), greyPage(12))
	loop, dirs := tiffOf(binary.LittleEndian, make([]byte, 4), greyPage(8))
	binary.LittleEndian.PutUint32(loop[dirs[0]+2+12*9:], uint32(dirs[0]))
	noWidth := bytes.Clone(le)
	noWidth[8+4+2] = 0xff // tag 256 becomes 511
	farValue, _ := tiffOf(binary.LittleEndian, make([]byte, 4), append(greyPage(8), tiffField{270, 2, 100, 10_000}))
	farStrip := bytes.Clone(le)
	binary.LittleEndian.PutUint32(farStrip[len(farStrip)-4-4:], 400) // StripByteCounts
	// Strip offsets and byte counts read from the same 120 KB: every
	// value is in range, but the walk reads the file twice over.
	const n = 30_000
	shared, _ := tiffOf(binary.LittleEndian, make([]byte, 4*n), []tiffField{
		{256, 3, 1, 1}, {257, 4, 1, n}, {273, 4, n, 8}, {279, 4, n, 8},
	})
	text := "Blood results for Jane Doe\r\n\tHb 13.5 g/dL\f\n"
	binaryish := make([]byte, 600)
	rand.NewChaCha8([32]byte{1}).Read(binaryish)

	return []tc{
		refused("empty", nil, inval, "empty"),

		ok("pdf", pdf, ft.PDF),
		refused("pdf cut short", pdf[:len(pdf)-20], inval, "PDF is incomplete"),
		refused("pdf with its end marker far from the end", append(bytes.Clone(pdf), make([]byte, 2000)...), inval, "PDF is incomplete"),

		ok("png", pngb, ft.PNG),
		refused("png without IHDR", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x00IEND\xaeB`\x82"), inval, "header"),
		refused("png without IEND", pngb[:len(pngb)-12], inval, "PNG image is incomplete"),
		refused("png cut in half", pngb[:len(pngb)/2], inval, "PNG image"),

		ok("jpeg", jpg, ft.JPEG),
		ok("jpeg with bytes after EOI", append(bytes.Clone(jpg), "trailer from a phone"...), ft.JPEG),
		ok("jpeg with a restart marker", withRestart(t, jpg), ft.JPEG),
		ok("jpeg with fill before EOI", splice(jpg, len(jpg)-2, []byte{0xff, 0xff}), ft.JPEG),
		ok("jpeg of 12 bits", twelveBit(t, jpg), ft.JPEG),
		refused("jpeg without EOI", jpg[:len(jpg)-2], inval, "JPEG image is incomplete"),
		refused("jpeg cut in half", jpg[:len(jpg)/2], inval, "JPEG image is incomplete"),
		refused("jpeg with a broken header", []byte("\xff\xd8\xffjunk junk junk junk"), inval, "JPEG image is damaged"),

		ok("tiff little endian", le, ft.TIFF),
		ok("tiff big endian", be, ft.TIFF),
		ok("tiff of two pages", twoPages, ft.TIFF),
		refused("tiff cut short", le[:len(le)-3], inval, "TIFF image is incomplete"),
		refused("tiff with a strip past the end", farStrip, inval, "TIFF image is incomplete"),
		refused("tiff with a value past the end", farValue, inval, "TIFF image is incomplete"),
		refused("tiff without a width", noWidth, inval, "TIFF image is damaged"),
		refused("tiff whose directory loops", loop, inval, "TIFF image is damaged"),
		refused("tiff whose arrays overlap", shared, inval, "TIFF image is damaged"),
		refused("tiff without a directory", []byte("II*\x00\x00\x00\x00\x00"), inval, "TIFF image is damaged"),
		refused("bigtiff", []byte("II+\x00\x08\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00"), unsup, "BigTIFF"),

		ok("dicom explicit", explicit, ft.DICOM),
		ok("dicom implicit", fixture(t, "one.implicit.dcm"), ft.DICOM),
		ok("dicom deflated", fixture(t, "one.deflated.dcm"), ft.DICOM),
		ok("dicom jpeg", fixture(t, "one.jpeg.dcm"), ft.DICOM),
		ok("dicom with a tiff preamble", append([]byte("II*\x00"), explicit[4:]...), ft.DICOM),
		refused("dicom cut in half", explicit[:len(explicit)/2], inval, "DICOM file is incomplete"),
		refused("dicom cut inside the meta", explicit[:metaEnd(t, explicit)-20], inval, "DICOM file"),
		refused("dicom cut after the meta", explicit[:metaEnd(t, explicit)], inval, "DICOM file is incomplete"),
		refused("dicom cut before its pixels", explicit[:pixels], inval, "DICOM file is incomplete"),
		refused("dicom preamble without DICM", append(make([]byte, 128), explicit[132:]...), unsup, "do not recognise"),
		refused("dicom big endian", part10("1.2.840.10008.1.2.2", image8(1, 2), []byte{0, 0}), unsup, "transfer syntax"),
		refused("dicom with a PE header in its preamble", polyglotPE(explicit), unsup, "Windows executable"),
		refused("dicom with an ELF header in its preamble", append([]byte("\x7fELF"), explicit[4:]...), unsup, "ELF"),

		ok("text", []byte(text), ft.Text),
		ok("text with a BOM", []byte("\xef\xbb\xbf"+text), ft.Text),
		ok("text in Greek", []byte("Αιματολογικές εξετάσεις\n"), ft.Text),
		ok("xml as text", []byte(`<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3"/>`), ft.Text),
		ok("text starting MZ", []byte("MZ "+strings.Repeat("results of Jane Doe ", 10)), ft.Text),
		refused("text with a NUL", []byte("Jane Doe\x00results"), unsup, "do not recognise"),
		refused("text with a NUL far in", []byte(strings.Repeat("Jane Doe\n", 1000)+"\x00"), inval, "control characters"),
		refused("text with an escape far in", []byte(strings.Repeat("Jane Doe\n", 1000)+"\x1b[31m"), inval, "control characters"),
		refused("text in Latin-1", []byte("Jane Doe, caf\xe9\n"), inval, "UTF-8"),
		refused("text ending inside a rune", []byte("Jane Doe \xe2\x82"), inval, "UTF-8"),
		refused("text in UTF-16", []byte("\xff\xfeJ\x00a\x00n\x00e\x00"), unsup, "UTF-16"),
		refused("binary", binaryish, unsup, "do not recognise"),

		ok("docx", docx(t), ft.DOCX),
		refused("docx with macros", zipOf(t, append(docxParts(docmMain), part{name: "word/vbaProject.bin", body: "Attribute VB_Name"})...), unsup, "macros"),
		refused("docx with a macro project only", docx(t, part{name: "word/vbaProject.bin", body: "Attribute VB_Name"}), unsup, "macros"),
		refused("docx without content types", zipOf(t, docxParts(wordMain)[1:]...), inval, "[Content_Types].xml"),
		refused("docx without its main part", zipOf(t, docxParts(wordMain)[:2]...), inval, "word/document.xml"),
		refused("docx with the wrong main type", zipOf(t, docxParts("application/xml")...), inval, "damaged"),
		refused("docx with two main parts", docx(t, part{name: "Word/Document.xml", body: "<x/>"}), inval, "damaged"),
		refused("docx with a corrupt part", corruptStored(t, docx(t), "word/document.xml"), inval, "damaged"),
		refused("xlsx", zipOf(t, part{name: "[Content_Types].xml", body: "<Types/>"}, part{name: "xl/workbook.xml", body: "<workbook/>"}), unsup, "Excel"),
		refused("zip", zipOf(t, part{name: "Jane Doe/scan.txt", body: "hello"}), unsup, "ZIP archive that is not a Word document"),
		refused("empty zip", zipOf(t), unsup, "ZIP archive that is not a Word document"),
		refused("zip that is not a zip", []byte("PK\x03\x04 and nothing else"), inval, "damaged ZIP"),
		refused("docx declaring a huge part", zipRaw(t, docxParts(wordMain), rawEntry{"word/media/image1.png", deflate(t, []byte("x")), 1 << 40}), inval, "zip bomb"),
		refused("docx whose part unpacks beyond its size", zipRaw(t, docxParts(wordMain), rawEntry{"word/media/image1.png", deflate(t, make([]byte, 4<<20)), 1024}), inval, "more than it declares"),
		refused("docx with a part of high ratio", docx(t, part{name: "word/media/image1.png", body: string(make([]byte, 10<<20))}), inval, "times its size"),
		{
			name:   "docx over the total",
			data:   docx(t, part{name: "word/media/image1.png", body: string(binaryish)}),
			lim:    ft.Limits{MaxUncompressed: 1024},
			kind:   inval,
			detail: "unpacks to more than",
		},
		{
			// Long comments make the directory bigger than 4 entries
			// may have; without the budget the count would pass.
			name: "docx with an oversized directory",
			data: zipOf(t, withComments(docxParts(wordMain), 60_000)...),
			lim:  ft.Limits{MaxEntries: 4},
			kind: inval, detail: "more than 4 parts",
		},

		refused("elf", append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 56)...), unsup, "ELF"),
		refused("pe", polyglotPE(make([]byte, 256)), unsup, "Windows executable"),
		refused("mach-o", append([]byte("\xcf\xfa\xed\xfe\x07\x00\x00\x01"), make([]byte, 24)...), unsup, "Mach-O"),
		refused("script", []byte("#!/bin/sh\necho Jane Doe\n"), unsup, "script"),
		refused("gif", []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00"), unsup, "GIF"),
		refused("html", []byte("<!DOCTYPE html>\n<html><body>Jane Doe</body></html>"), unsup, "HTML"),
		refused("html fragment", []byte("\xef\xbb\xbf  <p>Jane Doe</p>"), unsup, "HTML"),
		refused("svg", []byte(`<?xml version="1.0"?>`+"\n"+`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), unsup, "SVG"),
		refused("heic", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"), unsup, "HEIC"),
		refused("old office", []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00"), unsup, "older Microsoft Office"),
		refused("gzip", []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"), unsup, "gzip"),
	}
}

func withComments(parts []part, n int) []part {
	for i := range parts {
		parts[i].comment = strings.Repeat("c", n)
	}
	return parts
}

func TestDetect(t *testing.T) {
	for _, c := range cases(t) {
		t.Run(c.name, func(t *testing.T) {
			check(t, c, bytes.NewReader(c.data), int64(len(c.data)))
		})
	}
}

func check(t *testing.T, c tc, r io.ReaderAt, size int64) {
	t.Helper()
	got, err := ft.Detect(r, size, c.lim)
	if c.want != (ft.Type{}) {
		if err != nil || got != c.want {
			t.Fatalf("got %v, %v; want %v", got, err, c.want)
		}
		return
	}
	f, isFault := fault.As(err)
	if !isFault {
		t.Fatalf("got %v, %v; want a fault", got, err)
	}
	if got != (ft.Type{}) {
		t.Errorf("refused, yet typed %v", got)
	}
	if f.Kind != c.kind || !strings.Contains(f.Detail, c.detail) {
		t.Errorf("got kind %d %q; want kind %d with %q", f.Kind, f.Detail, c.kind, c.detail)
	}
	if c.kind == fault.KindInvalid && f.Field != "file" {
		t.Errorf("field %q", f.Field)
	}
	if strings.Contains(f.Title+f.Detail, "Jane") {
		t.Errorf("the refusal quotes the file: %q", f.Detail)
	}
}

// TestTextChunkBoundary puts a rune of each length across the boundary
// between two chunks of the streaming text check, at every split.
func TestTextChunkBoundary(t *testing.T) {
	const chunk = 64 << 10
	for _, r := range []string{"é", "€", "😀"} {
		for split := 1; split < len(r); split++ {
			data := []byte(strings.Repeat("a", chunk-split) + r + "\n")
			if got, err := ft.Detect(bytes.NewReader(data), int64(len(data)), ft.Limits{}); err != nil || got != ft.Text {
				t.Errorf("%q split after %d bytes: %v, %v", r, split, got, err)
			}
		}
	}
	bad := []byte(strings.Repeat("a", chunk-1) + "\xc3(")
	if _, err := ft.Detect(bytes.NewReader(bad), int64(len(bad)), ft.Limits{}); !fault.Is(err, fault.KindInvalid) {
		t.Errorf("a broken rune across the boundary: %v", err)
	}
}

// TestDeflateBomb is a DICOM file whose deflated data set unpacks a
// thousand times: package dicom would read it all, in bounded memory but
// unbounded time.
func TestDeflateBomb(t *testing.T) {
	const side = 4096 // 16 MiB of pixels
	pixels := make([]byte, side*side)
	data := part10("1.2.840.10008.1.2.1.99", deflate(t, append(image8(side, side), pixels...)))
	check(t, tc{kind: fault.KindInvalid, detail: "compression bomb"}, bytes.NewReader(data), int64(len(data)))
	// Pixels that do not compress make the same file a good one.
	rand.NewChaCha8([32]byte{2}).Read(pixels)
	data = part10("1.2.840.10008.1.2.1.99", deflate(t, append(image8(side, side), pixels...)))
	check(t, tc{want: ft.DICOM}, bytes.NewReader(data), int64(len(data)))
}

// TestZipBomb is one entry of 300 MiB of zeros in a Word document, on
// disk as uploads are: about 400 KB.
func TestZipBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 300 MiB through deflate")
	}
	path := filepath.Join(t.TempDir(), "bomb.docx")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := zip.NewWriter(out)
	w.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	for _, p := range docxParts(wordMain) {
		fw, _ := w.Create(p.name)
		io.WriteString(fw, p.body)
	}
	fw, _ := w.Create("word/media/image1.png")
	zeros := make([]byte, 1<<20)
	for range 300 {
		if _, err := fw.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(w.Close(), out.Close()); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	if st.Size() > 1<<20 {
		t.Fatalf("the bomb is %d bytes", st.Size())
	}
	for _, c := range []tc{
		{name: "defaults", kind: fault.KindInvalid, detail: "unpacks to more than 200 MiB"},
		{name: "ratio", lim: ft.Limits{MaxUncompressed: 1 << 40}, kind: fault.KindInvalid, detail: "times its size"},
	} {
		t.Run(c.name, func(t *testing.T) { check(t, c, f, st.Size()) })
	}
}

func TestTooManyEntries(t *testing.T) {
	parts := docxParts(wordMain)
	for i := len(parts); i <= 10_000; i++ {
		parts = append(parts, part{name: fmt.Sprintf("word/media/image%d.png", i)})
	}
	data := zipOf(t, parts...)
	check(t, tc{kind: fault.KindInvalid, detail: "more than 10000 parts"}, bytes.NewReader(data), int64(len(data)))
	data = zipOf(t, parts[:10_000]...)
	check(t, tc{want: ft.DOCX}, bytes.NewReader(data), int64(len(data)))
}

// synth is a file of size bytes: head, then filler repeated.
type synth struct {
	head   []byte
	filler byte
	size   int64
}

func (s synth) ReadAt(p []byte, off int64) (int, error) {
	if off >= s.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.size-off)]
	n := 0
	if off < int64(len(s.head)) {
		n = copy(p, s.head[off:])
	}
	for i := n; i < len(p); i++ {
		p[i] = s.filler
	}
	if off+int64(len(p)) == s.size {
		return len(p), io.EOF
	}
	return len(p), nil
}

// TestBoundedMemory checks big files in what memory a small one takes.
func TestBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 2 GiB of synthetic files")
	}
	const size = 1 << 30
	dcm := part10("1.2.840.10008.1.2.1", image8(32768, 32768))
	for _, c := range []struct {
		name string
		file synth
		want ft.Type
	}{
		{"text", synth{[]byte("Results\n"), 'a', size}, ft.Text},
		{"dicom", synth{dcm, 0, int64(len(dcm)) + size}, ft.DICOM},
	} {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			got, err := ft.Detect(c.file, c.file.size, ft.Limits{})
			runtime.ReadMemStats(&after)
			if err != nil || got != c.want {
				t.Fatalf("%v, %v", got, err)
			}
			if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
				t.Errorf("allocated %d MiB for a %d MiB file", n>>20, c.file.size>>20)
			}
		})
	}
}

// failing fails every read after the first, which is of the signatures.
type failing struct {
	r     io.ReaderAt
	reads int
}

var errDisk = errors.New("disk on fire")

func (f *failing) ReadAt(p []byte, off int64) (int, error) {
	if f.reads++; f.reads > 1 {
		return 0, errDisk
	}
	return f.r.ReadAt(p, off)
}

// TestReadError: a failure to read is ours, not the file's.
func TestReadError(t *testing.T) {
	for _, data := range [][]byte{[]byte(strings.Repeat("text\n", 1000)), minimalPDF(), pngFile(t), jpegFile(t), tiffFile(binary.BigEndian), docx(t), fixture(t, "one.explicit.dcm"), fixture(t, "one.deflated.dcm")} {
		_, err := ft.Detect(&failing{r: bytes.NewReader(data)}, int64(len(data)), ft.Limits{})
		if !errors.Is(err, errDisk) || fault.KindOf(err) != fault.KindInternal {
			t.Errorf("%.8q: %v", data, err)
		}
	}
}

// TestControlCharacters puts each banned character at each place in an
// eight-byte word past the binary window, among multi-byte runes, and
// each allowed one too.
func TestControlCharacters(t *testing.T) {
	prefix := strings.Repeat("é", 5000) // past the window
	for _, c := range []byte{0x00, 0x01, 0x08, 0x0b, 0x0e, 0x1b, 0x1f, 0x7f} {
		for k := range 9 {
			data := []byte(prefix + strings.Repeat("x", k) + string(c) + "yyyyyyyyy")
			if _, err := ft.Detect(bytes.NewReader(data), int64(len(data)), ft.Limits{}); !fault.Is(err, fault.KindInvalid) {
				t.Errorf("%#x after %d: %v", c, k, err)
			}
		}
	}
	for _, c := range "\t\n\f\r ~é\u0080\u009f" {
		for k := range 9 {
			data := []byte(prefix + strings.Repeat("x", k) + string(c) + "yyyyyyyyy")
			if got, err := ft.Detect(bytes.NewReader(data), int64(len(data)), ft.Limits{}); err != nil || got != ft.Text {
				t.Errorf("%q after %d: %v", c, k, err)
			}
		}
	}
}
