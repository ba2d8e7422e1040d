package extract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// Status says how complete an extraction is. A Text carries OK, PARTIAL or
// OCR_UNAVAILABLE; a Page carries OK, OCR_UNAVAILABLE or OCR_FAILED.
type Status string

// The statuses.
const (
	// StatusOK: every page's text was read (a page may be empty: a blank
	// page, or an image in which OCR found no words).
	StatusOK Status = "OK"
	// StatusPartial: some pages have their text, others needed OCR that is
	// not installed or failed; their Status says which.
	StatusPartial Status = "PARTIAL"
	// StatusOCRUnavailable: the document's text is only in images and no OCR
	// engine is installed here, so no text was read. Not an empty success:
	// the document was not analysed.
	StatusOCRUnavailable Status = "OCR_UNAVAILABLE"
	// StatusOCRFailed (pages only): OCR ran and failed on this page.
	StatusOCRFailed Status = "OCR_FAILED"
)

// Method says where a page's text came from.
type Method string

// The methods.
const (
	MethodTextLayer Method = "TEXT_LAYER" // a PDF page's text layer
	MethodPlainText Method = "PLAIN_TEXT" // a UTF-8 text file
	MethodDOCX      Method = "DOCX"       // a Word document's body
	MethodOCR       Method = "OCR"        // tesseract, on an image or a rendered PDF page
)

// Page is one page of extracted text. Number counts from 1. Text is UTF-8
// with "\n" line ends; a citation of Text[Start:End] (byte offsets on rune
// boundaries, as Go slices a string) stays valid for as long as the same
// document is extracted by the same version of this package and, for OCR,
// of tesseract — store the quoted words with a citation, not offsets alone.
type Page struct {
	Number int    `json:"number"`
	Text   string `json:"text"`
	Method Method `json:"method"`
	Status Status `json:"status"`
}

// Tag is one DICOM attribute as text: Tag is "(gggg,eeee)" in upper-case
// hex, Keyword the standard's keyword, Value the value as UTF-8.
type Tag struct {
	Tag     string `json:"tag"`
	Keyword string `json:"keyword"`
	Value   string `json:"value"`
}

// Text is what was extracted from one document. Documents with pages (PDF,
// images, text, DOCX) fill Pages; a DICOM file fills Tags, and Pages is
// empty.
type Text struct {
	FileType vocab.FileType `json:"fileType"`
	Status   Status         `json:"status"`
	Pages    []Page         `json:"pages"`
	Tags     []Tag          `json:"tags,omitempty"`
}

// Quote returns the words a citation points at: Pages[page-1].Text[start:end].
// It fails if the page does not exist, the span is out of the page's text or
// empty, or an offset cuts a character in two.
func (t Text) Quote(page, start, end int) (string, error) {
	if page < 1 || page > len(t.Pages) {
		return "", fmt.Errorf("extract: no page %d (the document has %d)", page, len(t.Pages))
	}
	s := t.Pages[page-1].Text
	if start < 0 || end > len(s) || start >= end {
		return "", fmt.Errorf("extract: span [%d,%d) is outside page %d's %d bytes", start, end, page, len(s))
	}
	if !utf8.RuneStart(s[start]) || end < len(s) && !utf8.RuneStart(s[end]) {
		return "", fmt.Errorf("extract: span [%d,%d) of page %d cuts a character", start, end, page)
	}
	return s[start:end], nil
}

// Tag returns the DICOM attribute tag ("(0008,0060)") if it was extracted.
func (t Text) Tag(tag string) (Tag, bool) {
	for _, x := range t.Tags {
		if x.Tag == tag {
			return x, true
		}
	}
	return Tag{}, false
}

// The errors Extract returns, wrapped in a *fault.Error whose Kind says what
// the caller can do (errors.Is finds these through it). Details never quote
// the document.
var (
	ErrTooLarge    = errors.New("extract: document over a limit")          // fault.KindTooLarge
	ErrUnsupported = errors.New("extract: file type not supported")        // fault.KindUnsupported
	ErrMalformed   = errors.New("extract: document is broken")             // fault.KindInvalid
	ErrEncrypted   = errors.New("extract: document is password-protected") // fault.KindInvalid
	ErrTimeout     = errors.New("extract: time limit reached")             // fault.KindTimeout
	ErrOCRFailed   = errors.New("extract: OCR failed")                     // fault.KindInternal, KindTimeout past OCRTimeout
	ErrEngine      = errors.New("extract: PDF engine failed")              // fault.KindInternal
)

// Limits bound what one Extract call reads and produces. Zero fields take
// the defaults shown.
type Limits struct {
	MaxBytes     int64         // the largest document: 64 MiB
	MaxPages     int           // the most pages (PDF, TIFF, text, DOCX): 500
	MaxTextBytes int           // the most extracted text, all pages together: 16 MiB
	MaxXMLBytes  int64         // the largest DOCX document part, uncompressed: 64 MiB
	MaxPixels    int64         // the largest image (one page) given to OCR, width × height: 60 million
	Timeout      time.Duration // one document, all pages: 10 minutes
	OCRTimeout   time.Duration // one OCR run (one image, or all pages of a TIFF): 3 minutes
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 64 << 20
	}
	if l.MaxPages <= 0 {
		l.MaxPages = 500
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = 16 << 20
	}
	if l.MaxXMLBytes <= 0 {
		l.MaxXMLBytes = 64 << 20
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = 60_000_000
	}
	if l.Timeout <= 0 {
		l.Timeout = 10 * time.Minute
	}
	if l.OCRTimeout <= 0 {
		l.OCRTimeout = 3 * time.Minute
	}
	return l
}

// Options configure an Extractor. The zero value is usable.
type Options struct {
	Limits Limits
	// Tesseract is the OCR command, looked up on PATH by New: "tesseract"
	// by default. When it is not found, images and image-only PDF pages get
	// StatusOCRUnavailable.
	Tesseract string
	// OCRLanguages is tesseract's -l argument: "eng" by default.
	OCRLanguages string
	// OCRWorkers bounds concurrent OCR runs (each uses one core): half the
	// CPUs by default, at least 1.
	OCRWorkers int
	// PDFWorkers bounds the PDFs read at once: 2 by default. Each has its own
	// sandboxed PDFium instance, created for the document and dropped after.
	PDFWorkers int
	// PDFMemoryMiB caps the memory of one PDFium instance: 1024 by default.
	PDFMemoryMiB int
	// CompileCacheDir, when set, keeps PDFium's compiled machine code between
	// runs (wazero's compilation cache), so a restart does not pay the few
	// seconds of compiling it again. Empty: compile once per process.
	CompileCacheDir string
}

// Extractor extracts text from documents. It is safe for concurrent use.
// PDFium is compiled on the first PDF (a few seconds) and kept until Close.
type Extractor struct {
	lim       Limits
	tesseract string // resolved path, "" when OCR is unavailable
	langs     string
	ocrSlots  chan struct{}
	pdf       *pdfEngine
}

// New returns an Extractor. It looks tesseract up once, here.
func New(opts Options) *Extractor {
	e := &Extractor{lim: opts.Limits.withDefaults(), langs: opts.OCRLanguages}
	if e.langs == "" {
		e.langs = "eng"
	}
	name := opts.Tesseract
	if name == "" {
		name = "tesseract"
	}
	if path, err := exec.LookPath(name); err == nil {
		e.tesseract = path
	}
	n := opts.OCRWorkers
	if n <= 0 {
		n = max(1, runtime.NumCPU()/2)
	}
	e.ocrSlots = make(chan struct{}, n)
	e.pdf = newPDFEngine(opts)
	return e
}

// OCRAvailable reports whether tesseract was found.
func (e *Extractor) OCRAvailable() bool { return e.tesseract != "" }

// Close releases PDFium. The Extractor must not be used afterwards.
func (e *Extractor) Close() error { return e.pdf.close() }

// Warm compiles the PDF engine now (into Options.CompileCacheDir, when
// set) instead of at the first PDF: a process that shares that folder
// with others then finds it compiled.
func (e *Extractor) Warm(ctx context.Context) error {
	inst, err := e.pdf.instance(ctx)
	if err != nil {
		return engineFailure(err)
	}
	return inst.Close()
}

// Extract reads the text of one document of type ft, size bytes long, from r.
// Each file type is read as its package documentation says. A document over
// a limit, broken, or not of a type we read is an error (a *fault.Error);
// a document whose text needs OCR that is unavailable or failed is not: its
// Status says so.
func (e *Extractor) Extract(ctx context.Context, ft vocab.FileType, r io.ReaderAt, size int64) (Text, error) {
	if !ft.Valid() {
		return Text{}, failure(fault.KindUnsupported, ErrUnsupported, "Unsupported file type", "this file type cannot be read")
	}
	if size < 0 {
		return Text{}, failure(fault.KindInvalid, ErrMalformed, "Broken document", "the document has no content")
	}
	if size > e.lim.MaxBytes {
		return Text{}, failure(fault.KindTooLarge, ErrTooLarge, "Document too large",
			fmt.Sprintf("the document is %d bytes; at most %d are read", size, e.lim.MaxBytes))
	}
	ctx, cancel := context.WithTimeout(ctx, e.lim.Timeout)
	defer cancel()
	sr := io.NewSectionReader(r, 0, size)
	var (
		t   Text
		err error
	)
	switch ft {
	case vocab.FileText:
		t, err = e.plainText(sr)
	case vocab.FileDOCX:
		t, err = e.docx(sr, size)
	case vocab.FilePDF:
		t, err = e.pdfText(ctx, sr, size)
	case vocab.FilePNG, vocab.FileJPEG, vocab.FileTIFF:
		t, err = e.image(ctx, ft, sr)
	case vocab.FileDICOM:
		t, err = dicomText(sr)
	}
	if err != nil {
		if ctx.Err() != nil && fault.KindOf(err) == fault.KindInternal {
			err = timeout(ctx, err)
		}
		return Text{}, err
	}
	t.FileType = ft
	if t.Status == "" {
		t.Status = summarise(t.Pages)
	}
	if t.Pages == nil {
		t.Pages = []Page{}
	}
	return t, nil
}

// summarise derives a document's status from its pages'.
func summarise(pages []Page) Status {
	read, unavailable := 0, 0
	for _, p := range pages {
		switch p.Status {
		case StatusOK:
			read++
		case StatusOCRUnavailable:
			unavailable++
		}
	}
	switch {
	case read == len(pages):
		return StatusOK
	case read == 0 && unavailable == len(pages):
		return StatusOCRUnavailable
	default:
		return StatusPartial
	}
}

// failure builds the *fault.Error Extract returns.
func failure(kind fault.Kind, sentinel error, title, detail string) *fault.Error {
	return &fault.Error{Kind: kind, Title: title, Detail: detail, Err: sentinel}
}

// readFailure reports that the document's bytes could not be read (the
// store failed, not the document).
func readFailure(err error) error {
	return &fault.Error{Kind: fault.KindInternal, Title: "Document unreadable", Detail: "the document could not be read", Err: err}
}

// wrapCause keeps a cause for logs under a sentinel for errors.Is.
func wrapCause(sentinel, cause error) error {
	if cause == nil {
		return sentinel
	}
	return fmt.Errorf("%w: %w", sentinel, cause)
}

func timeout(ctx context.Context, cause error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &fault.Error{Kind: fault.KindTimeout, Title: "Document took too long",
			Detail: "reading the document's text took longer than allowed", Err: wrapCause(ErrTimeout, cause)}
	}
	return &fault.Error{Kind: fault.KindTimeout, Title: "Extraction cancelled",
		Detail: "reading the document's text was cancelled", Err: wrapCause(ErrTimeout, ctx.Err())}
}

// textBudget counts the text produced against Limits.MaxTextBytes.
type textBudget struct {
	left int
}

func (b *textBudget) take(s string) error {
	b.left -= len(s)
	if b.left < 0 {
		return failure(fault.KindTooLarge, ErrTooLarge, "Document too large", "the document holds more text than is read")
	}
	return nil
}

func tooManyPages(n, limit int) error {
	return failure(fault.KindTooLarge, ErrTooLarge, "Too many pages",
		fmt.Sprintf("the document has %d pages or more; at most %d are read", n, limit))
}

// normalise makes line ends "\n" and drops NUL characters, so every method
// gives text of the same shape.
func normalise(s string) string {
	if strings.ContainsAny(s, "\r\x00") {
		s = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\x00", "").Replace(s)
	}
	return s
}

// once runs an initialisation once and remembers its result.
type once struct {
	mu   sync.Mutex
	done bool
	err  error
}

func (o *once) do(f func() error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.done {
		o.err = f()
		o.done = true
	}
	return o.err
}
