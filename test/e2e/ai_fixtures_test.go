package e2e

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"strings"
	"testing"

	"github.com/go-pdf/fpdf"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

// The AI tests' records are made here from text we wrote, so that what the
// pre-analysis cites can be checked word for word: a report with a text
// layer, a scan of a letter (the text only in the pixels), and the DICOM
// study of the records test.

// reportPDF is a one-page A4 PDF with a text layer, a line of 14-point
// Helvetica per element of lines. PDFium reads it back as the lines joined
// by "\n" (pageText), which is what the citations' offsets count in.
func reportPDF(t testing.TB, lines ...string) []byte {
	t.Helper()
	return linesPDF(t, "A4", lines)
}

// pageText is the text document-analysis extracts from reportPDF(lines).
func pageText(lines ...string) string { return strings.Join(lines, "\n") }

func linesPDF(t testing.TB, size string, lines []string) []byte {
	t.Helper()
	doc := fpdf.New("P", "mm", size, "")
	doc.AddPage()
	doc.SetFont("Helvetica", "", 14)
	for _, line := range lines {
		doc.CellFormat(0, 9, line, "", 1, "L", false, 0, "")
	}
	var buf bytes.Buffer
	if err := doc.Output(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// scanPNG is lines printed on an A6 page and scanned at 300 DPI in grey:
// a PNG whose words only OCR can read. PDFium prints it, as the extract
// package's OCR tests do; Go's standard library draws no text.
func scanPNG(t testing.TB, lines ...string) []byte {
	t.Helper()
	pdf := linesPDF(t, "A6", lines)
	pool, err := webassembly.Init(webassembly.Config{MinIdle: 1, MaxIdle: 1, MaxTotal: 1,
		RuntimeConfig: pdfiumRuntime(t), FSConfig: wazero.NewFSConfig(), Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	inst, err := pool.GetInstanceWithContext(context.Background())
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
	const dpi = 300.0
	ref := requests.Page{ByReference: &page.Page}
	size, err := inst.GetPageSize(&requests.GetPageSize{Page: ref})
	if err != nil {
		t.Fatal(err)
	}
	img, err := inst.RenderPageInPixels(&requests.RenderPageInPixels{Page: ref,
		Width: int(size.Width * dpi / 72), Height: int(size.Height * dpi / 72), ImageFormat: requests.RenderImageFormatGrayscale})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Cleanup()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img.Result.RenderedImage); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pdfiumRuntime is extract's runtime configuration (pdf.go) over the
// shared compilation cache.
func pdfiumRuntime(t testing.TB) wazero.RuntimeConfig {
	t.Helper()
	cache, err := wazero.NewCompilationCacheWithDir(testkit.PDFEngineCache())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close(context.Background()) })
	return wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(1024 * 16).
		WithCompilationCache(cache)
}
