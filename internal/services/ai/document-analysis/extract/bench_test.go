package extract

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/secondopinion/platform/api/vocab"
)

// BenchmarkExtract measures Extract per document type, one document per op
// in one goroutine, and reports pages/s, docs/s and MiB/s of the document's
// bytes (b.SetBytes adds Go's MB/s, 10^6 bytes). The documents carry the
// same made-up report (benchReport), 50 lines of 10-point text per A4 page:
//
//   - pdf: 20 pages with a text layer (fpdf, compressed, standard fonts);
//   - pdf200: the same kind of report at 200 pages, where the cost of a
//     document's start (a PDFium instance, opening the file) weighs less;
//   - docx: the 20 pages, a paragraph per line, a page break between pages;
//   - text: the 20 pages, a form feed between pages;
//   - dicom: kit/dicom's testdata one.explicit.dcm (attributes, no pages);
//   - png-ocr: page 1 of the PDF rendered at 300 DPI, through tesseract
//     (skipped when tesseract is not installed).
//
// Each sub-benchmark extracts once and checks the result (status, pages, and
// for the text layer, DOCX and text the very words written) before its
// timer starts, so compiling PDFium and loading tesseract's language data
// are not measured.
//
// With EXTRACT_BENCH_OUT set to a directory (an absolute path: go test runs
// in this package's directory), the documents are also written there as
// report.pdf, report200.pdf, report.docx, report.txt (the text file, also
// the words of report.pdf) and page1.png, for a peer such as pdftotext to
// read the same bytes (bench/run.sh extract does).
func BenchmarkExtract(b *testing.B) {
	e := newExtractor(b, Options{})
	pages := benchReport(1, benchPages)
	long := benchReport(2, 10*benchPages)
	words := func(pages [][]string) []string { return strings.Fields(string(reportText(pages))) }
	docs := []struct {
		name  string
		file  string
		ft    vocab.FileType
		data  []byte
		pages int      // 0: the document has no pages (DICOM)
		words []string // the words written into it, nil for DICOM
		ocr   bool     // the words are read by OCR: most of them suffice
	}{
		{"pdf", "report.pdf", vocab.FilePDF, reportPDF(b, pages), benchPages, words(pages), false},
		{"pdf200", "report200.pdf", vocab.FilePDF, reportPDF(b, long), len(long), words(long), false},
		{"docx", "report.docx", vocab.FileDOCX, reportDOCX(b, pages), benchPages, words(pages), false},
		{"text", "report.txt", vocab.FileText, reportText(pages), benchPages, words(pages), false},
		{"dicom", "", vocab.FileDICOM, fixture(b, "one.explicit.dcm"), 0, nil, false},
		{"png-ocr", "page1.png", vocab.FilePNG, nil, 1, words(pages[:1]), true}, // rendered below
	}
	if _, err := exec.LookPath("tesseract"); err == nil {
		docs[len(docs)-1].data = renderPNG(b, e, reportPDF(b, pages[:1]))
	}
	if dir := os.Getenv("EXTRACT_BENCH_OUT"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for _, d := range docs {
			if d.file == "" || d.data == nil {
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, d.file), d.data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, d := range docs {
		b.Run(d.name, func(b *testing.B) {
			if d.data == nil {
				b.Skip("tesseract (Debian tesseract-ocr) is not installed: no OCR to measure")
			}
			ctx := context.Background()
			r := bytes.NewReader(d.data)
			size := int64(len(d.data))
			got, err := e.Extract(ctx, d.ft, r, size)
			if err != nil {
				b.Fatal(err)
			}
			if got.Status != StatusOK || len(got.Pages) != d.pages || d.pages == 0 && len(got.Tags) == 0 {
				b.Fatalf("status %s, %d pages, %d tags; want OK and %d pages", got.Status, len(got.Pages), len(got.Tags), d.pages)
			}
			var text strings.Builder
			for _, p := range got.Pages {
				if len(p.Text) < 100 {
					b.Fatalf("page %d has %d bytes of text (%s): %q", p.Number, len(p.Text), p.Method, p.Text)
				}
				text.WriteString(p.Text + "\n")
			}
			switch got := strings.Fields(text.String()); {
			case d.ocr:
				if found := wordsFound(d.words, got); found < 0.9 {
					b.Fatalf("OCR found %.0f%% of the words written", 100*found)
				}
			case d.words != nil && !slices.Equal(got, d.words):
				b.Fatalf("the %s's text is not the words written into it", d.name)
			}
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if _, err := e.Extract(ctx, d.ft, r, size); err != nil {
					b.Fatal(err)
				}
			}
			sec := time.Since(start).Seconds()
			b.StopTimer()
			if d.pages > 0 {
				b.ReportMetric(float64(d.pages*b.N)/sec, "pages/s")
			}
			b.ReportMetric(float64(b.N)/sec, "docs/s")
			b.ReportMetric(float64(size)*float64(b.N)/sec/(1<<20), "MiB/s")
		})
	}
}

// wordsFound is the share of the words written that were read, each word
// counted as often as it was written.
func wordsFound(written, read []string) float64 {
	left := make(map[string]int, len(read))
	for _, w := range read {
		left[w]++
	}
	found := 0
	for _, w := range written {
		if left[w] > 0 {
			left[w]--
			found++
		}
	}
	return float64(found) / float64(max(1, len(written)))
}

// benchPages is the length of the benchmark's report.
const benchPages = 20

// Report pages: each fills an A4 page in 10-point Helvetica (reportPDF).
const (
	reportFontPt   = 10
	reportLineMM   = 5
	reportWidthMM  = 180
	reportLines    = 50
	reportMarginMM = 15
)

// benchReport makes n pages of a made-up clinical report, the same for the
// same seed: each page is its lines, wrapped to reportWidthMM in the
// report's font, at most reportLines of them. Plain ASCII, so every reader
// (and pdftotext) sees the same characters.
func benchReport(seed uint64, n int) [][]string {
	rng := rand.New(rand.NewPCG(seed, 11))
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	sections := []string{"CLINICAL HISTORY", "EXAMINATION", "INVESTIGATIONS", "FINDINGS", "IMPRESSION", "PLAN", "MEDICATION"}
	conditions := []string{"type 2 diabetes mellitus", "essential hypertension", "atrial fibrillation", "chronic kidney disease stage 3",
		"community-acquired pneumonia", "iron deficiency anaemia", "hypothyroidism", "chronic obstructive pulmonary disease",
		"heart failure with reduced ejection fraction", "osteoarthritis of the left knee", "migraine without aura"}
	drugs := []string{"metformin 1000 mg twice daily", "ramipril 5 mg once daily", "apixaban 5 mg twice daily",
		"levothyroxine 75 micrograms once daily", "atorvastatin 40 mg at night", "bisoprolol 2.5 mg once daily",
		"furosemide 40 mg in the morning", "amoxicillin 500 mg three times daily for 5 days"}
	organs := []string{"liver", "spleen", "both kidneys", "the gallbladder", "the pancreas", "the thyroid", "the aortic root", "the left ventricle"}
	templates := []func() string{
		func() string {
			return fmt.Sprintf("The patient is a %d-year-old with a history of %s and %s.", 30+rng.IntN(60), pick(conditions), pick(conditions))
		},
		func() string {
			return fmt.Sprintf("Blood pressure %d/%d mmHg, heart rate %d beats per minute, temperature 36.%d C, oxygen saturation %d%% on room air.",
				100+rng.IntN(80), 60+rng.IntN(40), 50+rng.IntN(60), rng.IntN(10), 90+rng.IntN(10))
		},
		func() string {
			return fmt.Sprintf("Haemoglobin %d.%d g/dL, white cell count %d.%d x10^9/L, creatinine %d umol/L, HbA1c %d mmol/mol.",
				9+rng.IntN(8), rng.IntN(10), 3+rng.IntN(12), rng.IntN(10), 50+rng.IntN(150), 35+rng.IntN(50))
		},
		func() string {
			return fmt.Sprintf("Ultrasound shows %s of normal size and echotexture, with no focal lesion; %s is unremarkable.", pick(organs), pick(organs))
		},
		func() string {
			return fmt.Sprintf("There is no evidence of %s. The findings are most consistent with %s.", pick(conditions), pick(conditions))
		},
		func() string {
			return fmt.Sprintf("Continue %s and start %s; review in %d weeks.", pick(drugs), pick(drugs), 2+rng.IntN(10))
		},
		func() string {
			return fmt.Sprintf("Her mother had %s. She denies chest pain, palpitations or shortness of breath on exertion.", pick(conditions))
		},
		func() string {
			return fmt.Sprintf("Compared with the study of %d March 20%02d, %s is unchanged and no new abnormality is seen.", 1+rng.IntN(28), 10+rng.IntN(15), pick(organs))
		},
	}

	doc := fpdf.New("P", "mm", "A4", "")
	doc.SetFont("Helvetica", "", reportFontPt)
	wrap := func(s string) []string { return doc.SplitText(s, reportWidthMM) }

	out := make([][]string, n)
	for i := range out {
		lines := []string{fmt.Sprintf("Synthetic report 0001 (made up, no real patient), page %d of %d", i+1, n), ""}
		for {
			var para []string
			if rng.IntN(4) == 0 {
				para = []string{"", pick(sections)}
			} else {
				var b strings.Builder
				for k := 2 + rng.IntN(4); k > 0; k-- {
					b.WriteString(templates[rng.IntN(len(templates))]())
					if k > 1 {
						b.WriteByte(' ')
					}
				}
				para = wrap(b.String())
			}
			if len(lines)+len(para) > reportLines {
				break
			}
			lines = append(lines, para...)
		}
		out[i] = lines
	}
	return out
}

// reportPDF lays the pages out on A4, one line of text per line of the page.
func reportPDF(t testing.TB, pages [][]string) []byte {
	t.Helper()
	doc := fpdf.New("P", "mm", "A4", "")
	doc.SetCompression(true)
	doc.SetMargins(reportMarginMM, reportMarginMM, reportMarginMM)
	doc.SetAutoPageBreak(false, 0)
	for _, p := range pages {
		doc.AddPage()
		doc.SetFont("Helvetica", "", reportFontPt)
		for _, line := range p {
			doc.CellFormat(0, reportLineMM, line, "", 1, "L", false, 0, "")
		}
	}
	return pdfBytes(t, doc)
}

// reportText is the pages as a text file: lines ended by "\n", pages by a
// form feed.
func reportText(pages [][]string) []byte {
	var b strings.Builder
	for _, p := range pages {
		b.WriteString(strings.Join(p, "\n"))
		b.WriteString("\n\f")
	}
	return []byte(b.String())
}

// reportDOCX is the pages as a Word document: a paragraph per line, a page
// break between pages.
func reportDOCX(t testing.TB, pages [][]string) []byte {
	t.Helper()
	var body strings.Builder
	for i, p := range pages {
		if i > 0 {
			body.WriteString(`<w:p><w:r><w:br w:type="page"/></w:r></w:p>`)
		}
		for _, line := range p {
			body.WriteString(para(line))
		}
	}
	return docxOf(t, body.String(), nil)
}
