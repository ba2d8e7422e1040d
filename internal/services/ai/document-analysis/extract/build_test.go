package extract

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-pdf/fpdf"
	"github.com/klippa-app/go-pdfium/requests"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

// The test files are made here, from text we know, so every expectation can
// be exact.

// newExtractor returns an Extractor for one test, closed at its end. Every
// Extractor of the test binary shares one compilation cache directory, so
// PDFium is compiled once per binary at most (and, since the directory
// outlives the run, once per machine): under the race detector compiling it
// takes half a minute.
func newExtractor(t testing.TB, opts Options) *Extractor {
	t.Helper()
	opts.CompileCacheDir = compileCacheDir(t)
	e := New(opts)
	t.Cleanup(func() { e.Close() })
	return e
}

func compileCacheDir(testing.TB) string { return testkit.PDFEngineCache() }

// requireTesseract fails the test when tesseract is missing: CI installs
// it (.ci/run), and an OCR test that skipped would pass for nothing.
func requireTesseract(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("tesseract"); err != nil {
		t.Fatal("tesseract (Debian tesseract-ocr) is needed for the OCR tests: apt-get install tesseract-ocr")
	}
}

// textPDF makes a PDF with one page per element of pages; each line of a
// page is written on its own line of the page, in 14-point Helvetica.
func textPDF(t testing.TB, pages ...string) []byte {
	t.Helper()
	return sizedPDF(t, "A4", pages...)
}

// cardPDF is textPDF on A6 pages: what the OCR tests print and scan, a
// quarter of the pixels of A4 to render, encode and read.
func cardPDF(t testing.TB, pages ...string) []byte {
	t.Helper()
	return sizedPDF(t, "A6", pages...)
}

func sizedPDF(t testing.TB, size string, pages ...string) []byte {
	t.Helper()
	doc := fpdf.New("P", "mm", size, "")
	doc.SetCompression(true)
	tr := doc.UnicodeTranslatorFromDescriptor("") // cp1252, for "é"
	for _, p := range pages {
		doc.AddPage()
		doc.SetFont("Helvetica", "", 14)
		for _, line := range strings.Split(p, "\n") {
			doc.CellFormat(0, 9, tr(line), "", 1, "L", false, 0, "")
		}
	}
	return pdfBytes(t, doc)
}

// scanPDF makes a PDF whose pages are the given PNGs, each filling an A6
// page, with no text layer: what a scanner makes. A page given as nil is
// a text page saying text instead.
func scanPDF(t testing.TB, text string, pngs ...[]byte) []byte {
	t.Helper()
	doc := fpdf.New("P", "mm", "A6", "")
	for i, img := range pngs {
		doc.AddPage()
		if img == nil {
			doc.SetFont("Helvetica", "", 14)
			doc.CellFormat(0, 9, text, "", 1, "L", false, 0, "")
			continue
		}
		name := "scan" + string(rune('a'+i))
		doc.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(img))
		doc.ImageOptions(name, 0, 0, 105, 148, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	}
	return pdfBytes(t, doc)
}

func pdfBytes(t testing.TB, doc *fpdf.Fpdf) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := doc.Output(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// renderPNG renders page 1 of a PDF through the extractor's own PDFium, the
// way a scanner would see the printed page.
func renderPNG(t testing.TB, e *Extractor, pdf []byte) []byte {
	t.Helper()
	inst, err := e.pdf.instance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	doc, err := inst.OpenDocument(&requests.OpenDocument{File: &pdf})
	if err != nil {
		t.Fatal(err)
	}
	page, err := inst.FPDF_LoadPage(&requests.FPDF_LoadPage{Document: doc.Document, Index: 0})
	if err != nil {
		t.Fatal(err)
	}
	img, err := e.renderPage(inst, requests.Page{ByReference: &page.Page})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func decodePNG(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func jpegOf(t testing.TB, pngBytes []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, decodePNG(t, pngBytes), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tiffOf writes an uncompressed 8-bit grey little-endian TIFF with one page
// per image (one strip each).
func tiffOf(t testing.TB, pngs ...[]byte) []byte {
	t.Helper()
	le := binary.LittleEndian
	out := []byte("II*\x00\x00\x00\x00\x00")
	next := 4 // where the offset of the next directory goes
	for _, p := range pngs {
		src := decodePNG(t, p)
		b := src.Bounds()
		grey := image.NewGray(b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				grey.Set(x, y, src.At(x, y))
			}
		}
		stripAt := len(out)
		out = append(out, grey.Pix...)
		if len(out)%2 == 1 {
			out = append(out, 0)
		}
		dirAt := len(out)
		le.PutUint32(out[next:], uint32(dirAt))
		entries := [][3]uint32{ // tag, type, value
			{256, 4, uint32(b.Dx())}, {257, 4, uint32(b.Dy())}, {258, 3, 8}, {259, 3, 1},
			{262, 3, 1}, {273, 4, uint32(stripAt)}, {277, 3, 1}, {278, 4, uint32(b.Dy())},
			{279, 4, uint32(len(grey.Pix))},
		}
		dir := le.AppendUint16(nil, uint16(len(entries)))
		for _, en := range entries {
			dir = le.AppendUint16(dir, uint16(en[0]))
			dir = le.AppendUint16(dir, uint16(en[1]))
			dir = le.AppendUint32(dir, 1)
			if en[1] == 3 {
				dir = le.AppendUint16(dir, uint16(en[2]))
				dir = le.AppendUint16(dir, 0)
			} else {
				dir = le.AppendUint32(dir, en[2])
			}
		}
		out = append(out, dir...)
		next = len(out)
		out = append(out, 0, 0, 0, 0)
	}
	return out
}

// pngHeader is a PNG signature and IHDR claiming w×h pixels, and nothing
// else: enough for image.DecodeConfig.
func pngHeader(w, h uint32) []byte {
	var buf bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	png.Encode(&buf, img)
	b := buf.Bytes()
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29])) // IHDR's type and data
	return b
}

const wordNS = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" ` +
	`xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"`

// docxOf makes a Word document whose body is body (WordprocessingML inside
// w:body). Extra parts may be added or the standard ones replaced by name.
func docxOf(t testing.TB, body string, parts map[string]string) []byte {
	t.Helper()
	all := map[string]string{
		"[Content_Types].xml": `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>`,
		"_rels/.rels": `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`,
		"word/document.xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document ` + wordNS + `><w:body>` + body + `</w:body></w:document>`,
	}
	for name, content := range parts {
		if content == "" {
			delete(all, name)
			continue
		}
		all[name] = content
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"[Content_Types].xml", "_rels/.rels", "word/document.xml"} {
		if c, ok := all[name]; ok {
			writeZip(t, zw, name, c)
			delete(all, name)
		}
	}
	for name, c := range all {
		writeZip(t, zw, name, c)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeZip(t testing.TB, zw *zip.Writer, name, content string) {
	t.Helper()
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
}

// para is a paragraph of runs of text.
func para(runs ...string) string {
	var b strings.Builder
	b.WriteString("<w:p>")
	for _, r := range runs {
		b.WriteString(`<w:r><w:t xml:space="preserve">` + r + `</w:t></w:r>`)
	}
	b.WriteString("</w:p>")
	return b.String()
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "kit", "dicom", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
