package extract

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// The OCR tests need tesseract and fail without it (see requireTesseract).
// Their images are text we wrote, printed by PDFium at 300 DPI; the checks
// look for whole lines rather than the exact output, which may change in
// its spacing with tesseract's version.

var (
	scanLines = []string{"Haemoglobin 13.2 g/dL", "No evidence of pneumothorax."}
	faxLines  = []string{"Second page of the referral"}
)

func TestOCR(t *testing.T) {
	requireTesseract(t)
	e := newExtractor(t, Options{})
	if !e.OCRAvailable() {
		t.Fatal("tesseract is on PATH but the Extractor did not find it")
	}
	scan := renderPNG(t, e, cardPDF(t, strings.Join(scanLines, "\n")))
	fax := renderPNG(t, e, cardPDF(t, strings.Join(faxLines, "\n")))

	type want struct {
		method Method
		lines  []string // each must be on the page, whole
		exact  string   // or the page's exact text, when the text layer gave it
	}
	ocr := func(lines []string) want { return want{method: MethodOCR, lines: lines} }
	for _, tc := range []struct {
		name  string
		ft    vocab.FileType
		data  []byte
		pages []want
	}{
		{"png", vocab.FilePNG, scan, []want{ocr(scanLines)}},
		{"jpeg", vocab.FileJPEG, jpegOf(t, scan), []want{ocr(scanLines)}},
		{"tiff of two pages", vocab.FileTIFF, tiffOf(t, scan, fax), []want{ocr(scanLines), ocr(faxLines)}},
		{"pdf scan", vocab.FilePDF, scanPDF(t, "", scan), []want{ocr(scanLines)}},
		{"pdf of text, a scan, and a scan", vocab.FilePDF, scanPDF(t, "Cover letter", nil, scan, fax),
			[]want{{method: MethodTextLayer, exact: "Cover letter"}, ocr(scanLines), ocr(faxLines)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := extract(t, e, tc.ft, tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != StatusOK || len(got.Pages) != len(tc.pages) {
				t.Fatalf("status %s, %d pages; want OK, %d: %#v", got.Status, len(got.Pages), len(tc.pages), got.Pages)
			}
			for i, w := range tc.pages {
				p := got.Pages[i]
				if p.Number != i+1 || p.Method != w.method || p.Status != StatusOK {
					t.Errorf("page %d: %#v; want number %d, method %s, OK", i+1, p, i+1, w.method)
				}
				if w.exact != "" && p.Text != w.exact {
					t.Errorf("page %d: %q; want %q", i+1, p.Text, w.exact)
				}
				if p.Text != strings.TrimSpace(p.Text) || strings.Contains(p.Text, "\f") {
					t.Errorf("page %d: %q is not trimmed of tesseract's page end", i+1, p.Text)
				}
				for _, line := range w.lines {
					start := strings.Index(p.Text, line)
					if start < 0 {
						t.Errorf("page %d: %q is not in %q", i+1, line, p.Text)
						continue
					}
					if q, err := got.Quote(i+1, start, start+len(line)); q != line || err != nil {
						t.Errorf("page %d: Quote = %q, %v; want %q", i+1, q, err, line)
					}
				}
			}
		})
	}
}

// TestOCRFailure: tesseract failing or running out of time is an error for
// an image, a page marked OCR_FAILED in a PDF that has other text, and an
// error for a PDF that has none.
func TestOCRFailure(t *testing.T) {
	requireTesseract(t)
	plain := newExtractor(t, Options{})
	scan := renderPNG(t, plain, cardPDF(t, strings.Join(scanLines, "\n")))
	broken := newExtractor(t, Options{Tesseract: "false"}) // exits 1 at once
	slow := newExtractor(t, Options{Limits: Limits{OCRTimeout: time.Millisecond}})
	mixed := scanPDF(t, "Cover letter", nil, scan)

	t.Run("image, tesseract fails", func(t *testing.T) {
		_, err := extract(t, broken, vocab.FilePNG, scan)
		checkErr(t, err, &wantErr{ErrOCRFailed, fault.KindInternal})
	})
	t.Run("image, OCR time limit", func(t *testing.T) {
		_, err := extract(t, slow, vocab.FilePNG, scan)
		checkErr(t, err, &wantErr{ErrOCRFailed, fault.KindTimeout})
	})
	t.Run("image, document time limit", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := plain.Extract(ctx, vocab.FilePNG, bytesReader(scan), int64(len(scan)))
		checkErr(t, err, &wantErr{ErrTimeout, fault.KindTimeout})
	})
	t.Run("image, more text than allowed", func(t *testing.T) {
		small := newExtractor(t, Options{Limits: Limits{MaxTextBytes: 10}})
		_, err := extract(t, small, vocab.FilePNG, scan)
		checkErr(t, err, &wantErr{ErrTooLarge, fault.KindTooLarge})
	})
	for _, e := range []struct {
		name string
		e    *Extractor
	}{{"fails", broken}, {"runs out of time", slow}} {
		t.Run("pdf with text, tesseract "+e.name, func(t *testing.T) {
			got, err := extract(t, e.e, vocab.FilePDF, mixed)
			if err != nil {
				t.Fatal(err)
			}
			want := []Page{page(1, MethodTextLayer, "Cover letter"), {Number: 2, Method: MethodTextLayer, Status: StatusOCRFailed}}
			if got.Status != StatusPartial || len(got.Pages) != 2 || got.Pages[0] != want[0] || got.Pages[1] != want[1] {
				t.Errorf("%s %#v; want PARTIAL %#v", got.Status, got.Pages, want)
			}
		})
		t.Run("pdf scan only, tesseract "+e.name, func(t *testing.T) {
			_, err := extract(t, e.e, vocab.FilePDF, scanPDF(t, "", scan))
			if !errorsIs(err, ErrOCRFailed) {
				t.Errorf("err = %v; want ErrOCRFailed", err)
			}
		})
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func TestOCRPages(t *testing.T) {
	for _, tc := range []struct {
		out  string
		want []string
	}{
		{"one\n", []string{"one"}},
		{"one\n\ftwo\n", []string{"one", "two"}},   // tesseract 5
		{"one\n\ftwo\n\f", []string{"one", "two"}}, // tesseract 4
		{"one\n\n\f\n\f", []string{"one", ""}},     // a blank second page
		{"", []string{""}},
	} {
		if got := ocrPages(tc.out); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ocrPages(%q) = %q; want %q", tc.out, got, tc.want)
		}
	}
}
