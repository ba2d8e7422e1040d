package extract

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

func extract(t testing.TB, e *Extractor, ft vocab.FileType, data []byte) (Text, error) {
	t.Helper()
	return e.Extract(context.Background(), ft, bytes.NewReader(data), int64(len(data)))
}

// page is a page read without OCR.
func page(n int, m Method, text string) Page {
	return Page{Number: n, Text: text, Method: m, Status: StatusOK}
}

// wantErr is an error Extract must return: its sentinel and fault kind.
type wantErr struct {
	is   error
	kind fault.Kind
}

func checkErr(t *testing.T, err error, want *wantErr) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("err = %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error; want %v", want.is)
	}
	fe, ok := fault.As(err)
	if !ok || !errors.Is(err, want.is) || fe.Kind != want.kind || fe.Title == "" || fe.Detail == "" {
		t.Fatalf("err = %#v (%v); want %v of kind %d with a title and a detail", err, err, want.is, want.kind)
	}
}

// A document every kind of reader must handle: text we know on known pages.
var (
	reportPage1 = "Findings:\nNo evidence of malignancy.\nMild cardiomégaly."
	reportPage2 = "Impression: community-acquired pneumonia.\nPlan: amoxicillin 500 mg PO TID."
	reportPage3 = "Signed: the reporting radiologist"
)

func TestExtract(t *testing.T) {
	report := textPDF(t, reportPage1, reportPage2, reportPage3)
	noOCR := Options{Tesseract: "no-such-tesseract-here"}
	docBody := para("Referral letter") +
		`<w:p><w:r><w:t>Impression:</w:t></w:r><w:r><w:tab/><w:t>no acute disease</w:t></w:r></w:p>` +
		`<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr><w:r><w:t>Tab stops are not text</w:t></w:r></w:p>` +
		`<w:tbl><w:tr><w:tc>` + para("Haemoglobin") + `</w:tc><w:tc>` + para("13.2") + `</w:tc><w:tc>` + para("g/dL") + para("(low)") + `</w:tc></w:tr>` +
		`<w:tr><w:tc>` + para("WBC") + `</w:tc><w:tc>` + para("7.1") + `</w:tc><w:tc>` + para("10^9/L") + `</w:tc></w:tr></w:tbl>` +
		`<w:p><w:r><w:t xml:space="preserve">Deleted </w:t></w:r><w:del><w:r><w:delText>secret </w:delText></w:r></w:del>` +
		`<w:r><w:instrText>PAGE</w:instrText></w:r><w:r><w:t>kept.</w:t></w:r></w:p>` +
		`<w:p><w:r><w:t>Line one</w:t><w:br/><w:t>line two</w:t><w:noBreakHyphen/><w:t>end</w:t></w:r></w:p>` +
		`<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:t>Box text</w:t></mc:Choice>` +
		`<mc:Fallback><w:t>Box text</w:t></mc:Fallback></mc:AlternateContent></w:r></w:p>` +
		`<w:p><w:r><w:br w:type="page"/></w:r></w:p>` + para("Second page: ", "café") +
		`<w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr>`
	docPage1 := "Referral letter\nImpression:\tno acute disease\nTab stops are not text\n" +
		"Haemoglobin\t13.2\tg/dL (low)\nWBC\t7.1\t10^9/L\nDeleted kept.\nLine one\nline two-end\nBox text"
	strictDoc := docxOf(t, "", map[string]string{"word/document.xml": `<?xml version="1.0"?>` +
		`<w:document xmlns:w="http://purl.oclc.org/ooxml/wordprocessingml/main"><w:body>` + para("Strict ", "body") + `</w:body></w:document>`})
	movedDoc := docxOf(t, "", map[string]string{
		"_rels/.rels": `<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="x" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="/word/main.xml"/></Relationships>`,
		"word/document.xml": "",
		"word/main.xml":     `<w:document ` + wordNS + `><w:body>` + para("Moved body") + `</w:body></w:document>`,
	})
	manyBreaks := docxOf(t, strings.Repeat(`<w:p><w:r><w:t>x</w:t><w:br w:type="page"/></w:r></w:p>`, 3), nil)
	bigBody := docxOf(t, para(strings.Repeat(" ", 2<<20)), nil)
	explicit := fixture(t, "one.explicit.dcm")
	dicomTags := []Tag{
		{"(0008,0060)", "Modality", "OT"},
		{"(0018,0015)", "BodyPartExamined", "CHEST"},
		// Not the study's description ("CT CHEST Jane") nor its date:
		// de-identification removes them.
		{"(0008,0016)", "SOPClassUID", "1.2.840.10008.5.1.4.1.1.7"},
		{"(0028,0010)", "Rows", "48"},
		{"(0028,0011)", "Columns", "64"},
	}
	blank := textPDF(t, "")
	protected := func(user string) []byte {
		doc := fpdf.New("P", "mm", "A4", "")
		doc.SetProtection(fpdf.CnProtectPrint, user, "owner-secret")
		doc.AddPage()
		doc.SetFont("Helvetica", "", 14)
		doc.CellFormat(0, 9, "Protected report", "", 1, "L", false, 0, "")
		return pdfBytes(t, doc)
	}

	type cite struct {
		page  int
		words string
	}
	tests := []struct {
		name   string
		opts   Options
		ft     vocab.FileType
		data   []byte
		err    *wantErr
		status Status
		pages  []Page
		tags   []Tag
		cites  []cite
	}{
		// Plain text.
		{name: "text, one page", ft: vocab.FileText, data: []byte("Impression: no acute disease.\nPlan: none.\n"),
			status: StatusOK, pages: []Page{page(1, MethodPlainText, "Impression: no acute disease.\nPlan: none.\n")},
			cites: []cite{{1, "no acute disease"}, {1, "Plan: none."}}},
		{name: "text, form feeds split pages", ft: vocab.FileText, data: []byte("one\ftwo\f\fdernière\f"),
			status: StatusOK, pages: []Page{page(1, MethodPlainText, "one"), page(2, MethodPlainText, "two"),
				page(3, MethodPlainText, ""), page(4, MethodPlainText, "dernière")},
			cites: []cite{{4, "dernière"}, {2, "two"}}},
		{name: "text, BOM and CRLF", ft: vocab.FileText, data: []byte("\uFEFFa\r\nb\rc"),
			status: StatusOK, pages: []Page{page(1, MethodPlainText, "a\nb\nc")}},
		{name: "text, empty", ft: vocab.FileText, data: nil,
			status: StatusOK, pages: []Page{page(1, MethodPlainText, "")}},
		{name: "text, not UTF-8", ft: vocab.FileText, data: []byte("caf\xe9"),
			err: &wantErr{ErrMalformed, fault.KindInvalid}},
		{name: "text, too many pages", opts: Options{Limits: Limits{MaxPages: 2}}, ft: vocab.FileText, data: []byte("1\f2\f3"),
			err: &wantErr{ErrTooLarge, fault.KindTooLarge}},
		{name: "text, two pages under a limit of two", opts: Options{Limits: Limits{MaxPages: 2}}, ft: vocab.FileText, data: []byte("1\f2\f"),
			status: StatusOK, pages: []Page{page(1, MethodPlainText, "1"), page(2, MethodPlainText, "2")}},
		{name: "text, too much text", opts: Options{Limits: Limits{MaxTextBytes: 10}}, ft: vocab.FileText, data: []byte("01234567890"),
			err: &wantErr{ErrTooLarge, fault.KindTooLarge}},
		{name: "any type, over MaxBytes", opts: Options{Limits: Limits{MaxBytes: 10}}, ft: vocab.FileText, data: []byte("01234567890"),
			err: &wantErr{ErrTooLarge, fault.KindTooLarge}},
		{name: "a type we do not know", ft: vocab.FileType("GIF"), data: []byte("GIF89a"),
			err: &wantErr{ErrUnsupported, fault.KindUnsupported}},

		// DOCX.
		{name: "docx: paragraphs, tabs, tables, revisions, breaks", ft: vocab.FileDOCX, data: docxOf(t, docBody, nil),
			status: StatusOK, pages: []Page{page(1, MethodDOCX, docPage1), page(2, MethodDOCX, "Second page: café")},
			cites: []cite{{1, "13.2\tg/dL"}, {1, "no acute disease"}, {2, "café"}}},
		{name: "docx: strict namespace", ft: vocab.FileDOCX, data: strictDoc,
			status: StatusOK, pages: []Page{page(1, MethodDOCX, "Strict body")}},
		{name: "docx: main part named by the relationships", ft: vocab.FileDOCX, data: movedDoc,
			status: StatusOK, pages: []Page{page(1, MethodDOCX, "Moved body")}},
		{name: "docx: too many pages", opts: Options{Limits: Limits{MaxPages: 3}}, ft: vocab.FileDOCX, data: manyBreaks,
			err: &wantErr{ErrTooLarge, fault.KindTooLarge}},
		{name: "docx: body larger than MaxXMLBytes", opts: Options{Limits: Limits{MaxXMLBytes: 1 << 20}}, ft: vocab.FileDOCX, data: bigBody,
			err: &wantErr{ErrTooLarge, fault.KindTooLarge}},
		{name: "docx: body under a lying size", opts: Options{Limits: Limits{MaxXMLBytes: 1 << 20}}, ft: vocab.FileDOCX, data: lyingDOCX(t, 2<<20, 200),
			err: &wantErr{ErrMalformed, fault.KindInvalid}},
		{name: "docx: body declared larger than MaxXMLBytes", opts: Options{Limits: Limits{MaxXMLBytes: 1 << 20}}, ft: vocab.FileDOCX, data: lyingDOCX(t, 100, 2<<20),
			err: &wantErr{ErrTooLarge, fault.KindTooLarge}},
		{name: "docx: more text than MaxTextBytes", opts: Options{Limits: Limits{MaxTextBytes: 1000}}, ft: vocab.FileDOCX, data: bigBody,
			err: &wantErr{ErrTooLarge, fault.KindTooLarge}},
		{name: "docx: not a zip", ft: vocab.FileDOCX, data: []byte("PK\x03\x04 not really"),
			err: &wantErr{ErrMalformed, fault.KindInvalid}},
		{name: "docx: no body", ft: vocab.FileDOCX, data: docxOf(t, "", map[string]string{"word/document.xml": ""}),
			err: &wantErr{ErrMalformed, fault.KindInvalid}},
		{name: "docx: body not XML", ft: vocab.FileDOCX, data: docxOf(t, "", map[string]string{"word/document.xml": "<w:document><w:body>"}),
			err: &wantErr{ErrMalformed, fault.KindInvalid}},

		// DICOM.
		{name: "dicom explicit VR", ft: vocab.FileDICOM, data: explicit, status: StatusOK, pages: []Page{}, tags: dicomTags},
		{name: "dicom implicit VR", ft: vocab.FileDICOM, data: fixture(t, "one.implicit.dcm"), status: StatusOK, pages: []Page{}, tags: dicomTags},
		{name: "dicom deflated", ft: vocab.FileDICOM, data: fixture(t, "one.deflated.dcm"), status: StatusOK, pages: []Page{}, tags: dicomTags},
		{name: "dicom JPEG", ft: vocab.FileDICOM, data: fixture(t, "one.jpeg.dcm"), status: StatusOK, pages: []Page{}, tags: dicomTags},
		{name: "dicom cut short", ft: vocab.FileDICOM, data: explicit[:200],
			err: &wantErr{ErrMalformed, fault.KindInvalid}},
		{name: "dicom without its preamble", ft: vocab.FileDICOM, data: explicit[132:],
			err: &wantErr{ErrMalformed, fault.KindInvalid}},

		// PDF with a text layer.
		{name: "pdf, three pages", ft: vocab.FilePDF, data: report, status: StatusOK,
			pages: []Page{page(1, MethodTextLayer, reportPage1), page(2, MethodTextLayer, reportPage2), page(3, MethodTextLayer, reportPage3)},
			cites: []cite{{1, "No evidence of malignancy."}, {1, "cardiomégaly"}, {2, "amoxicillin 500 mg"}, {3, "radiologist"}}},
		{name: "pdf, blank page needs no OCR", opts: noOCR, ft: vocab.FilePDF, data: blank, status: StatusOK,
			pages: []Page{page(1, MethodTextLayer, "")}},
		{name: "pdf, owner password only", ft: vocab.FilePDF, data: protected(""), status: StatusOK,
			pages: []Page{page(1, MethodTextLayer, "Protected report")}},
		{name: "pdf, user password", ft: vocab.FilePDF, data: protected("user-secret"),
			err: &wantErr{ErrEncrypted, fault.KindInvalid}},
		{name: "pdf, too many pages", opts: Options{Limits: Limits{MaxPages: 2}}, ft: vocab.FilePDF, data: report,
			err: &wantErr{ErrTooLarge, fault.KindTooLarge}},
		{name: "pdf, too much text", opts: Options{Limits: Limits{MaxTextBytes: 100}}, ft: vocab.FilePDF, data: report,
			err: &wantErr{ErrTooLarge, fault.KindTooLarge}},
		{name: "pdf, not a PDF", ft: vocab.FilePDF, data: []byte("%PDF-1.7\nnothing else"),
			err: &wantErr{ErrMalformed, fault.KindInvalid}},
		{name: "pdf, cross-reference that points at itself", ft: vocab.FilePDF, data: selfReferencingPDF(),
			err: &wantErr{ErrMalformed, fault.KindInvalid}},

		// Images and scans, without OCR: an explicit state, never an empty success.
		{name: "png without OCR", opts: noOCR, ft: vocab.FilePNG, data: pngHeader(2480, 3508), status: StatusOCRUnavailable,
			pages: []Page{{Number: 1, Method: MethodOCR, Status: StatusOCRUnavailable}}},
		{name: "jpeg without OCR", opts: noOCR, ft: vocab.FileJPEG, data: jpegOf(t, pngOf(t, 40, 30)), status: StatusOCRUnavailable,
			pages: []Page{{Number: 1, Method: MethodOCR, Status: StatusOCRUnavailable}}},
		{name: "tiff of two pages without OCR", opts: noOCR, ft: vocab.FileTIFF, data: tiffOf(t, pngOf(t, 4, 4), pngOf(t, 8, 8)), status: StatusOCRUnavailable,
			pages: []Page{{Number: 1, Method: MethodOCR, Status: StatusOCRUnavailable}, {Number: 2, Method: MethodOCR, Status: StatusOCRUnavailable}}},
		{name: "scanned pdf without OCR", opts: noOCR, ft: vocab.FilePDF, data: scanPDF(t, "", pngOf(t, 200, 280)), status: StatusOCRUnavailable,
			pages: []Page{{Number: 1, Method: MethodTextLayer, Status: StatusOCRUnavailable}}},
		{name: "pdf of text and a scan, without OCR", opts: noOCR, ft: vocab.FilePDF, data: scanPDF(t, "Cover letter", nil, pngOf(t, 200, 280)), status: StatusPartial,
			pages: []Page{page(1, MethodTextLayer, "Cover letter"), {Number: 2, Method: MethodTextLayer, Status: StatusOCRUnavailable}},
			cites: []cite{{1, "Cover"}}},
		{name: "pdf, scan with a fax stamp in its text layer, without OCR", opts: noOCR, ft: vocab.FilePDF, data: stampedPDF(t, "FAX 01 of 02", 105, 148),
			status: StatusOCRUnavailable, pages: []Page{{Number: 1, Text: "FAX 01 of 02", Method: MethodTextLayer, Status: StatusOCRUnavailable}}},
		{name: "pdf, short letter with a small logo needs no OCR", opts: noOCR, ft: vocab.FilePDF, data: stampedPDF(t, "Dear colleague, see the enclosed.", 20, 20),
			status: StatusOK, pages: []Page{page(1, MethodTextLayer, "Dear colleague, see the enclosed.")}},
		{name: "png larger than MaxPixels", ft: vocab.FilePNG, data: pngHeader(100_000, 100_000),
			err: &wantErr{ErrTooLarge, fault.KindTooLarge}},
		{name: "png not a PNG", ft: vocab.FilePNG, data: []byte("\x89PNG\r\n\x1a\nbroken"),
			err: &wantErr{ErrMalformed, fault.KindInvalid}},
		{name: "tiff whose directories loop", ft: vocab.FileTIFF, data: loopingTIFF(t),
			err: &wantErr{ErrMalformed, fault.KindInvalid}},
		{name: "tiff with more pages than MaxPages", opts: Options{Limits: Limits{MaxPages: 1}}, ft: vocab.FileTIFF, data: tiffOf(t, pngOf(t, 4, 4), pngOf(t, 4, 4)),
			err: &wantErr{ErrTooLarge, fault.KindTooLarge}},
		{name: "tiff page larger than MaxPixels", opts: Options{Limits: Limits{MaxPixels: 15}}, ft: vocab.FileTIFF, data: tiffOf(t, pngOf(t, 3, 3), pngOf(t, 4, 4)),
			err: &wantErr{ErrTooLarge, fault.KindTooLarge}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newExtractor(t, tc.opts)
			got, err := extract(t, e, tc.ft, tc.data)
			checkErr(t, err, tc.err)
			if tc.err != nil {
				if !reflect.DeepEqual(got, Text{}) {
					t.Errorf("an error came with %#v", got)
				}
				return
			}
			if got.FileType != tc.ft || got.Status != tc.status {
				t.Errorf("file type %s, status %s; want %s, %s", got.FileType, got.Status, tc.ft, tc.status)
			}
			if !reflect.DeepEqual(got.Pages, tc.pages) {
				t.Errorf("pages:\n got %#v\nwant %#v", got.Pages, tc.pages)
			}
			if !reflect.DeepEqual(got.Tags, tc.tags) {
				t.Errorf("tags:\n got %#v\nwant %#v", got.Tags, tc.tags)
			}
			for _, c := range tc.cites {
				start := strings.Index(got.Pages[c.page-1].Text, c.words)
				if start < 0 {
					t.Fatalf("%q is not on page %d", c.words, c.page)
				}
				if q, err := got.Quote(c.page, start, start+len(c.words)); err != nil || q != c.words {
					t.Errorf("Quote(%d, %d, %d) = %q, %v; want %q", c.page, start, start+len(c.words), q, err, c.words)
				}
			}
		})
	}
}

// pngOf is a white w×h PNG.
func pngOf(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// loopingTIFF is a TIFF whose second directory points back at the first.
func loopingTIFF(t testing.TB) []byte {
	t.Helper()
	b := tiffOf(t, pngOf(t, 2, 2), pngOf(t, 2, 2))
	first := binary.LittleEndian.Uint32(b[4:])
	// The last four bytes are the second directory's next-directory offset.
	binary.LittleEndian.PutUint32(b[len(b)-4:], first)
	return b
}

// lyingDOCX is a DOCX whose body unpacks to n bytes while its zip header
// says it is declared bytes: a zip bomb that hides its size.
func lyingDOCX(t testing.TB, n, declared int) []byte {
	t.Helper()
	body := []byte(`<w:document ` + wordNS + `><w:body><w:p><w:r><w:t>` + strings.Repeat("a", n) + `</w:t></w:r></w:p></w:body></w:document>`)
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(body)
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "word/document.xml", Method: zip.Deflate,
		CRC32: crc32.ChecksumIEEE(body), CompressedSize64: uint64(comp.Len()), UncompressedSize64: uint64(declared)})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(comp.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// selfReferencingPDF is a PDF whose cross-reference table names itself as
// its previous one: a loop some pure-Go readers never leave.
func selfReferencingPDF() []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n")
	x := strconv.Itoa(b.Len())
	b.WriteString("xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 3 /Root 1 0 R /Prev " + x + " >>\nstartxref\n" + x + "\n%%EOF\n")
	return b.Bytes()
}

func TestQuote(t *testing.T) {
	doc := Text{Pages: []Page{page(1, MethodPlainText, "naïve"), page(2, MethodPlainText, "")}}
	for _, tc := range []struct {
		page, start, end int
		want             string
	}{
		{1, 0, 3, ""}, // cuts ï
		{1, 0, 5, "naïv"},
		{1, 0, 6, "naïve"},
		{1, 2, 4, "ï"},
		{1, 3, 4, ""}, // starts inside ï
		{1, 4, 4, ""}, // empty
		{1, 5, 3, ""}, // backwards
		{1, -1, 2, ""},
		{1, 0, 7, ""},
		{2, 0, 0, ""},
		{0, 0, 1, ""},
		{3, 0, 1, ""},
	} {
		got, err := doc.Quote(tc.page, tc.start, tc.end)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("Quote(%d, %d, %d) = %q, %v; want %q", tc.page, tc.start, tc.end, got, err, tc.want)
		}
	}
	dcm := Text{Tags: []Tag{{"(0008,0060)", "Modality", "CT"}}}
	if tag, ok := dcm.Tag("(0008,0060)"); !ok || tag.Value != "CT" {
		t.Errorf("Tag = %v, %v", tag, ok)
	}
	if _, ok := dcm.Tag("(0010,0010)"); ok {
		t.Error("found a tag that is not there")
	}
}

// TestDICOMPrivacy: of a file full of the patient's identity, nothing but
// the descriptive attributes comes out.
func TestDICOMPrivacy(t *testing.T) {
	e := newExtractor(t, Options{})
	for _, name := range []string{"one.explicit.dcm", "one.implicit.dcm", "one.deflated.dcm", "one.jpeg.dcm", "two.jpeg.dcm"} {
		got, err := extract(t, e, vocab.FileDICOM, fixture(t, name))
		if err != nil {
			t.Fatal(name, err)
		}
		out, _ := json.Marshal(got)
		for _, secret := range []string{
			"Doe", "PID123", "19800101", "OTHERID7", "Elm Road", "555-1234", "call Jane", "Nested",
			"ACC999", "General Hospital", "Main Street", "Smith", "Jones", "STUDY77", "101500",
			"1.2.276.0.7230010", // the instance, series and study UIDs
		} {
			if bytes.Contains(out, []byte(secret)) {
				t.Errorf("%s: %q came out: %s", name, secret, out)
			}
		}
		for _, tag := range got.Tags {
			if strings.HasPrefix(tag.Tag, "(0010,") {
				t.Errorf("%s: patient attribute %v came out", name, tag)
			}
		}
	}
}

// TestPDFDeadline: a PDF that runs past its time is stopped, reported as a
// timeout, and its killed PDFium instance does not harm the next document.
func TestPDFDeadline(t *testing.T) {
	e := newExtractor(t, Options{PDFWorkers: 1})
	pages := make([]string, 300)
	for i := range pages {
		pages[i] = strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n", 20)
	}
	long := textPDF(t, pages...)
	short := textPDF(t, "after the deadline")
	if _, err := extract(t, e, vocab.FilePDF, short); err != nil { // PDFium compiled before the clock starts
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := e.Extract(ctx, vocab.FilePDF, bytes.NewReader(long), int64(len(long)))
	checkErr(t, err, &wantErr{ErrTimeout, fault.KindTimeout})

	cancelled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	_, err = e.Extract(cancelled, vocab.FilePDF, bytes.NewReader(short), int64(len(short)))
	checkErr(t, err, &wantErr{ErrTimeout, fault.KindTimeout})

	for range 3 { // the single worker was killed and is replaced
		got, err := extract(t, e, vocab.FilePDF, short)
		if err != nil || len(got.Pages) != 1 || got.Pages[0].Text != "after the deadline" {
			t.Fatalf("after a kill: %#v, %v", got, err)
		}
	}

	slow := newExtractor(t, Options{Limits: Limits{Timeout: 50 * time.Millisecond}})
	if _, err := extract(t, slow, vocab.FilePDF, short); err == nil { // compiling alone takes longer
		t.Log("PDFium compiled within 50 ms")
	}
	_, err = extract(t, slow, vocab.FilePDF, long)
	checkErr(t, err, &wantErr{ErrTimeout, fault.KindTimeout})
}

// TestPDFConcurrent: several documents at once on two instances, each with
// its own text (run under the race detector by make test).
func TestPDFConcurrent(t *testing.T) {
	e := newExtractor(t, Options{PDFWorkers: 2})
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := "Document number " + strconv.Itoa(i)
			doc := textPDF(t, want, "second page of "+strconv.Itoa(i))
			got, err := extract(t, e, vocab.FilePDF, doc)
			if err != nil || len(got.Pages) != 2 || got.Pages[0].Text != want {
				t.Errorf("document %d: %#v, %v", i, got, err)
			}
		}()
	}
	wg.Wait()
}

// TestPDFKill: a page that keeps PDFium busy for seconds is stopped when
// the document's time is up, not when PDFium is done with it.
func TestPDFKill(t *testing.T) {
	doc := fpdf.New("P", "mm", "A4", "")
	doc.SetAutoPageBreak(false, 0)
	doc.AddPage()
	doc.SetFont("Helvetica", "", 8)
	for i := range 300_000 { // about 3 s of PDFium's time on this machine
		doc.Text(float64(10+i%150), float64(10+(i/150)%270), "word")
	}
	heavy := pdfBytes(t, doc)
	e := newExtractor(t, Options{Limits: Limits{Timeout: 200 * time.Millisecond}})
	extract(t, e, vocab.FilePDF, textPDF(t, "compile PDFium before the clock starts"))

	start := time.Now()
	_, err := extract(t, e, vocab.FilePDF, heavy)
	elapsed := time.Since(start)
	checkErr(t, err, &wantErr{ErrTimeout, fault.KindTimeout})
	if elapsed > 1500*time.Millisecond {
		t.Errorf("stopped after %v; the limit was 200ms", elapsed)
	}
}

// stampedPDF is an A6 page with one line of text and a white image of w×h
// millimetres in its corner: a scan stamped by a fax machine when the image
// covers the page, a letter with a logo when it is small.
func stampedPDF(t testing.TB, text string, w, h float64) []byte {
	t.Helper()
	doc := fpdf.New("P", "mm", "A6", "")
	doc.AddPage()
	doc.RegisterImageOptionsReader("img", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(pngOf(t, 50, 70)))
	doc.ImageOptions("img", 0, 0, w, h, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	doc.SetFont("Helvetica", "", 10)
	doc.SetXY(10, 10)
	doc.CellFormat(0, 6, text, "", 1, "L", false, 0, "")
	return pdfBytes(t, doc)
}
