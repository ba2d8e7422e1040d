package filetype_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Builders of the files the tests feed to Detect. Each makes a small valid
// file of its type, so that a test can break it in one place.

func pngFile(t testing.TB) []byte {
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 4)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegFile(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for y := range 32 {
		for x := range 32 {
			img.Set(x, y, color.RGBA{uint8(x * 8), uint8(y * 8), uint8(x * y), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withRestart is j with a restart marker in the middle of its scan: decoders
// would mind, the structure walk must not.
func withRestart(t testing.TB, j []byte) []byte {
	sos := bytes.Index(j, []byte{0xff, 0xda})
	if sos < 0 {
		t.Fatal("no SOS")
	}
	at := sos + 2 + int(binary.BigEndian.Uint16(j[sos+2:])) + 10
	return splice(j, at, []byte{0xff, 0xd0})
}

// twelveBit is j with 12-bit samples declared in its frame header, which
// image/jpeg does not decode.
func twelveBit(t testing.TB, j []byte) []byte {
	sof := bytes.Index(j, []byte{0xff, 0xc0})
	if sof < 0 {
		t.Fatal("no SOF0")
	}
	out := bytes.Clone(j)
	out[sof+1], out[sof+4] = 0xc1, 12
	return out
}

func splice(b []byte, at int, in []byte) []byte {
	return append(append(append([]byte(nil), b[:at]...), in...), b[at:]...)
}

// minimalPDF is a one-page PDF with a correct cross-reference table.
func minimalPDF() []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
	}
	var offs []int
	for i, o := range objs {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// tiffField is one directory entry; value is the value itself (a SHORT or
// LONG of count 1) or an offset.
type tiffField struct {
	tag, typ uint16
	count    uint32
	value    uint32
}

// byteOrder is what binary.LittleEndian and binary.BigEndian both are.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// tiffOf lays out a classic TIFF: the header, blob at offset 8, then the
// directories in order, each pointing to the next. It returns the file and
// where each directory starts.
func tiffOf(order byteOrder, blob []byte, pages ...[]tiffField) ([]byte, []int) {
	b := []byte("II*\x00\x00\x00\x00\x00")
	if order == binary.BigEndian {
		b = []byte("MM\x00*\x00\x00\x00\x00")
	}
	b = append(b, blob...)
	var dirs []int
	link := 4 // where the offset of the next directory goes
	for _, p := range pages {
		order.PutUint32(b[link:], uint32(len(b)))
		dirs = append(dirs, len(b))
		b = order.AppendUint16(b, uint16(len(p)))
		for _, f := range p {
			b = order.AppendUint16(b, f.tag)
			b = order.AppendUint16(b, f.typ)
			b = order.AppendUint32(b, f.count)
			if f.typ == 3 && f.count == 1 {
				b = order.AppendUint16(b, uint16(f.value))
				b = append(b, 0, 0)
			} else {
				b = order.AppendUint32(b, f.value)
			}
		}
		link = len(b)
		b = append(b, 0, 0, 0, 0)
	}
	return b, dirs
}

// greyPage describes a 2×2 8-bit grey image whose 4 bytes are at strip.
func greyPage(strip uint32) []tiffField {
	return []tiffField{
		{256, 3, 1, 2}, {257, 3, 1, 2}, {258, 3, 1, 8}, {259, 3, 1, 1}, {262, 3, 1, 1},
		{273, 4, 1, strip}, {277, 3, 1, 1}, {278, 3, 1, 2}, {279, 4, 1, 4},
	}
}

func tiffFile(order byteOrder) []byte {
	b, _ := tiffOf(order, []byte{0, 64, 128, 255}, greyPage(8))
	return b
}

// part is a ZIP entry.
type part struct {
	name, body string
	store      bool   // stored rather than deflated
	comment    string // in the central directory
}

func zipOf(t testing.TB, parts ...part) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, p := range parts {
		m := zip.Deflate
		if p.store {
			m = zip.Store
		}
		fw, err := w.CreateHeader(&zip.FileHeader{Name: p.name, Method: m, Comment: p.comment})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(fw, p.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const (
	wordMain = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
	docmMain = "application/vnd.ms-word.document.macroEnabled.main+xml"
)

// docxParts are the parts of a one-paragraph Word document whose main part
// has content type main.
func docxParts(main string) []part {
	return []part{
		{name: "[Content_Types].xml", body: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="` + main + `"/></Types>`},
		{name: "_rels/.rels", body: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`},
		{name: "word/document.xml", store: true, body: `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Jane Doe, blood results</w:t></w:r></w:p></w:body></w:document>`},
	}
}

func docx(t testing.TB, extra ...part) []byte {
	return zipOf(t, append(docxParts(wordMain), extra...)...)
}

// rawEntry is a deflated entry whose central directory says what the test
// wants, whatever data follows.
type rawEntry struct {
	name         string
	data         []byte // deflated
	uncompressed uint64
}

func zipRaw(t testing.TB, parts []part, raws ...rawEntry) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, p := range parts {
		fw, err := w.Create(p.name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(fw, p.body)
	}
	for _, r := range raws {
		fw, err := w.CreateRaw(&zip.FileHeader{
			Name: r.name, Method: zip.Deflate,
			CompressedSize64: uint64(len(r.data)), UncompressedSize64: r.uncompressed,
		})
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(r.data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func deflate(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// corruptStored flips a byte in the data of the stored entry name.
func corruptStored(t testing.TB, z []byte, name string) []byte {
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			off, err := f.DataOffset()
			if err != nil {
				t.Fatal(err)
			}
			out := bytes.Clone(z)
			out[off+10] ^= 0x20
			return out
		}
	}
	t.Fatalf("no %s", name)
	return nil
}

// fixture reads a file of testdata: copies of package dicom's, which dcmtk
// made from a synthetic image and fake identifiers.
func fixture(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// metaEnd is where the File Meta of a fixture ends, from its group length.
func metaEnd(t testing.TB, d []byte) int {
	if string(d[132:138]) != "\x02\x00\x00\x00UL" {
		t.Fatal("fixture without a File Meta group length")
	}
	return 144 + int(binary.LittleEndian.Uint32(d[140:]))
}

// elem is an Explicit VR Little Endian element; length is len(v) unless
// given.
func elem(group, element uint16, vr string, v []byte, length ...uint32) []byte {
	n := uint32(len(v))
	if len(length) > 0 {
		n = length[0]
	}
	b := binary.LittleEndian.AppendUint16(nil, group)
	b = binary.LittleEndian.AppendUint16(b, element)
	b = append(b, vr...)
	switch vr {
	case "OB", "OW", "SQ", "UN", "UT":
		b = append(b, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, n)
	default:
		b = binary.LittleEndian.AppendUint16(b, uint16(n))
	}
	return append(b, v...)
}

func uid(s string) []byte {
	if len(s)%2 == 1 {
		s += "\x00"
	}
	return []byte(s)
}

const (
	scClass = "1.2.840.10008.5.1.4.1.1.7"
	anInst  = "1.2.826.0.1.3680043.2.1125.9.9"
)

// part10 is a preamble of zeros, "DICM", a File Meta naming ts, and data.
func part10(ts string, data ...[]byte) []byte {
	b := append(make([]byte, 128), "DICM"...)
	b = append(b, elem(2, 1, "OB", []byte{0, 1})...)
	b = append(b, elem(2, 2, "UI", uid(scClass))...)
	b = append(b, elem(2, 3, "UI", uid(anInst))...)
	b = append(b, elem(2, 0x10, "UI", uid(ts))...)
	for _, d := range data {
		b = append(b, d...)
	}
	return b
}

// image8 is the start of a data set of a rows×cols 8-bit image, up to its
// Pixel Data header, whose value the caller appends.
func image8(rows, cols uint16) []byte {
	var b []byte
	b = append(b, elem(8, 0x16, "UI", uid(scClass))...)
	b = append(b, elem(8, 0x18, "UI", uid(anInst))...)
	b = append(b, elem(0x10, 0x10, "PN", []byte("Doe^Jane"))...)
	b = append(b, elem(0x28, 0x10, "US", binary.LittleEndian.AppendUint16(nil, rows))...)
	b = append(b, elem(0x28, 0x11, "US", binary.LittleEndian.AppendUint16(nil, cols))...)
	n := uint32(rows) * uint32(cols)
	return append(b, elem(0x7fe0, 0x10, "OW", nil, n+n%2)...)
}

func polyglotPE(d []byte) []byte {
	out := bytes.Clone(d)
	copy(out, "MZ")
	binary.LittleEndian.PutUint32(out[0x3c:], 0x40)
	copy(out[0x40:], "PE\x00\x00")
	return out
}
