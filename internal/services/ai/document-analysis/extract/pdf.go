package extract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math"
	"strings"
	"unicode"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/enums"
	pdfiumerrors "github.com/klippa-app/go-pdfium/errors"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// OCR of a PDF page: the page is rendered at ocrDPI, scaled down if it
// would be wider or taller than ocrMaxSide pixels or larger than
// Limits.MaxPixels.
const (
	ocrDPI     = 300
	ocrMaxSide = 5000
)

// A page is read through OCR when its text layer has fewer than
// sparseText letters and digits and an image (or a form XObject, which may
// hold one) covers at least bigImage of it — a scan, perhaps with a line
// stamped on by a fax machine — or when it has no letter or digit at all and
// any image. A scan already given an invisible text layer by its scanner
// keeps that layer.
const (
	sparseText = 200
	bigImage   = 0.3
)

// pdfEngine holds PDFium compiled to WebAssembly and run by wazero, in
// process and without cgo. Each document gets a fresh instance with its own
// memory (capped by Options.PDFMemoryMiB) and no file system, dropped after
// the document; a document that runs past its deadline has its instance
// killed (wazero's close-on-context-done), so a hostile PDF costs at most
// its limits.
type pdfEngine struct {
	opts  Options
	start once
	pool  pdfium.Pool
	cache wazero.CompilationCache
}

func newPDFEngine(opts Options) *pdfEngine {
	if opts.PDFWorkers <= 0 {
		opts.PDFWorkers = 2
	}
	if opts.PDFMemoryMiB <= 0 {
		opts.PDFMemoryMiB = 1024
	}
	return &pdfEngine{opts: opts}
}

// instance compiles PDFium on first use and returns a fresh instance.
func (p *pdfEngine) instance(ctx context.Context) (pdfium.Pdfium, error) {
	err := p.start.do(func() error {
		rc := wazero.NewRuntimeConfig().
			WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
			WithCloseOnContextDone(true).
			WithMemoryLimitPages(uint32(p.opts.PDFMemoryMiB * 16)) // 64 KiB pages
		if p.opts.CompileCacheDir != "" {
			cache, err := wazero.NewCompilationCacheWithDir(p.opts.CompileCacheDir)
			if err != nil {
				return fmt.Errorf("compilation cache: %w", err)
			}
			p.cache = cache
			rc = rc.WithCompilationCache(cache)
		}
		pool, err := webassembly.Init(webassembly.Config{
			MaxIdle:       p.opts.PDFWorkers,
			MaxTotal:      p.opts.PDFWorkers,
			RuntimeConfig: rc,
			FSConfig:      wazero.NewFSConfig(), // nothing mounted
			Stdout:        io.Discard,
			Stderr:        io.Discard,
		})
		if err != nil {
			return err
		}
		p.pool = pool
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p.pool.GetInstanceWithContext(ctx)
}

func (p *pdfEngine) close() error {
	var err error
	p.start.do(func() error { return errors.New("closed") })
	if p.pool != nil {
		err = p.pool.Close()
	}
	if p.cache != nil {
		err = errors.Join(err, p.cache.Close(context.Background()))
	}
	return err
}

// pdfText reads a PDF page by page: the text layer as PDFium lays it out,
// or OCR of the rendered page where the text is in an image (see
// sparseText). Encrypted PDFs open if they need no password to be read.
func (e *Extractor) pdfText(ctx context.Context, r io.ReadSeeker, size int64) (Text, error) {
	inst, err := e.pdf.instance(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return Text{}, timeout(ctx, err)
		}
		return Text{}, engineFailure(err)
	}
	stop := context.AfterFunc(ctx, func() { inst.Kill() })
	defer func() {
		if stop() {
			inst.Close()
		}
	}()
	// Any failure after ctx is done is the kill's doing: report the time.
	fail := func(err error) (Text, error) {
		if ctx.Err() != nil {
			return Text{}, timeout(ctx, err)
		}
		return Text{}, err
	}

	doc, err := inst.OpenDocument(&requests.OpenDocument{FileReader: r, FileReaderSize: size})
	switch {
	case errors.Is(err, pdfiumerrors.ErrPassword), errors.Is(err, pdfiumerrors.ErrSecurity):
		return fail(&fault.Error{Kind: fault.KindInvalid, Title: "Document is protected",
			Detail: "the PDF needs a password to be read", Err: wrapCause(ErrEncrypted, err)})
	case err != nil:
		return fail(broken("the PDF is broken", err))
	}
	count, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc.Document})
	if err != nil {
		return fail(broken("the PDF is broken", err))
	}
	if count.PageCount <= 0 {
		return fail(broken("the PDF has no pages", nil))
	}
	if count.PageCount > e.lim.MaxPages {
		return fail(tooManyPages(count.PageCount, e.lim.MaxPages))
	}
	budget := textBudget{left: e.lim.MaxTextBytes}
	pages := make([]Page, 0, count.PageCount)
	var ocrErr error
	for i := range count.PageCount {
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		page, err := e.pdfPage(ctx, inst, doc.Document, i)
		if err != nil {
			if !errors.Is(err, ErrOCRFailed) || ctx.Err() != nil {
				return fail(err)
			}
			ocrErr = err
		}
		if err := budget.take(page.Text); err != nil {
			return fail(err)
		}
		pages = append(pages, page)
	}
	t := Text{Pages: pages, Status: summarise(pages)}
	if ocrErr != nil && t.Status == StatusPartial && !anyRead(pages) {
		// Every page needed OCR and it failed on some: nothing was read.
		return Text{}, ocrErr
	}
	return t, nil
}

func anyRead(pages []Page) bool {
	for _, p := range pages {
		if p.Status == StatusOK {
			return true
		}
	}
	return false
}

// pdfPage reads page i (0-based). An OCR failure returns the page marked
// StatusOCRFailed together with the error.
func (e *Extractor) pdfPage(ctx context.Context, inst pdfium.Pdfium, doc references.FPDF_DOCUMENT, i int) (Page, error) {
	loaded, err := inst.FPDF_LoadPage(&requests.FPDF_LoadPage{Document: doc, Index: i})
	if err != nil {
		return Page{}, broken(fmt.Sprintf("page %d of the PDF is broken", i+1), err)
	}
	defer inst.FPDF_ClosePage(&requests.FPDF_ClosePage{Page: loaded.Page})
	ref := requests.Page{ByReference: &loaded.Page}
	text, err := inst.GetPageText(&requests.GetPageText{Page: ref})
	if err != nil {
		return Page{}, broken(fmt.Sprintf("page %d of the PDF is broken", i+1), err)
	}
	page := Page{Number: i + 1, Text: normalise(text.Text), Method: MethodTextLayer, Status: StatusOK}
	scan, err := needsOCR(inst, ref, loaded.Page, page.Text)
	if err != nil {
		return Page{}, broken(fmt.Sprintf("page %d of the PDF is broken", i+1), err)
	}
	if !scan {
		return page, nil
	}
	if !e.OCRAvailable() {
		page.Status = StatusOCRUnavailable
		return page, nil
	}
	img, err := e.renderPage(inst, ref)
	if err != nil {
		return Page{}, &fault.Error{Kind: fault.KindInternal, Title: "PDF page not rendered",
			Detail: fmt.Sprintf("page %d of the PDF could not be rendered for OCR", i+1), Err: wrapCause(ErrEngine, err)}
	}
	out, err := e.ocr(ctx, img)
	if err != nil {
		page.Status = StatusOCRFailed
		return page, err
	}
	return Page{Number: i + 1, Text: strings.Join(ocrPages(out), "\n"), Method: MethodOCR, Status: StatusOK}, nil
}

// needsOCR applies the rule of sparseText to a page.
func needsOCR(inst pdfium.Pdfium, ref requests.Page, page references.FPDF_PAGE, text string) (bool, error) {
	letters := 0
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			letters++
			if letters >= sparseText {
				return false, nil
			}
		}
	}
	size, err := inst.GetPageSize(&requests.GetPageSize{Page: ref})
	if err != nil {
		return false, err
	}
	area := size.Width * size.Height
	n, err := inst.FPDFPage_CountObjects(&requests.FPDFPage_CountObjects{Page: ref})
	if err != nil {
		return false, err
	}
	for j := range n.Count {
		obj, err := inst.FPDFPage_GetObject(&requests.FPDFPage_GetObject{Page: ref, Index: j})
		if err != nil {
			return false, err
		}
		typ, err := inst.FPDFPageObj_GetType(&requests.FPDFPageObj_GetType{PageObject: obj.PageObject})
		if err != nil {
			return false, err
		}
		if typ.Type != enums.FPDF_PAGEOBJ_IMAGE && typ.Type != enums.FPDF_PAGEOBJ_FORM {
			continue
		}
		if letters == 0 {
			return true, nil
		}
		b, err := inst.FPDFPageObj_GetBounds(&requests.FPDFPageObj_GetBounds{PageObject: obj.PageObject})
		if err != nil {
			return false, err
		}
		w := math.Min(float64(b.Right), size.Width) - math.Max(float64(b.Left), 0)
		h := math.Min(float64(b.Top), size.Height) - math.Max(float64(b.Bottom), 0)
		if w > 0 && h > 0 && area > 0 && w*h >= bigImage*area {
			return true, nil
		}
	}
	return false, nil
}

// renderPage renders a page in grey for OCR and returns it as a PNG.
func (e *Extractor) renderPage(inst pdfium.Pdfium, ref requests.Page) ([]byte, error) {
	size, err := inst.GetPageSize(&requests.GetPageSize{Page: ref})
	if err != nil {
		return nil, err
	}
	scale := ocrDPI / 72.0
	w, h := size.Width*scale, size.Height*scale
	if w < 1 || h < 1 {
		return nil, errors.New("page has no area")
	}
	if side := math.Max(w, h); side > ocrMaxSide {
		w, h = w*ocrMaxSide/side, h*ocrMaxSide/side
	}
	if px := w * h; px > float64(e.lim.MaxPixels) {
		f := math.Sqrt(float64(e.lim.MaxPixels) / px)
		w, h = w*f, h*f
	}
	img, err := inst.RenderPageInPixels(&requests.RenderPageInPixels{
		Page: ref, Width: int(w), Height: int(h), ImageFormat: requests.RenderImageFormatGrayscale,
	})
	if err != nil {
		return nil, err
	}
	defer img.Cleanup()
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img.Result.RenderedImage); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func engineFailure(err error) error {
	return &fault.Error{Kind: fault.KindInternal, Title: "PDF engine failed", Detail: "the PDF reader could not start", Err: wrapCause(ErrEngine, err)}
}
