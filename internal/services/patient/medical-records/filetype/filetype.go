package filetype

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/secondopinion/platform/internal/kit/dicom"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// Type is an accepted kind of file.
type Type struct {
	MediaType string
	Name      string // short upper-case name
}

// The accepted types.
var (
	PDF   = Type{"application/pdf", "PDF"}
	PNG   = Type{"image/png", "PNG"}
	JPEG  = Type{"image/jpeg", "JPEG"}
	TIFF  = Type{"image/tiff", "TIFF"}
	DICOM = Type{"application/dicom", "DICOM"}
	Text  = Type{"text/plain; charset=utf-8", "TEXT"}
	DOCX  = Type{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "DOCX"}
)

// Accepted lists the accepted types.
var Accepted = []Type{PDF, PNG, JPEG, TIFF, DICOM, Text, DOCX}

// Limits bound the work and memory of a check. Zero fields take the
// defaults.
type Limits struct {
	// MaxEntries bounds the entries of a DOCX (default 10,000; Word
	// writes a few dozen, one more per picture).
	MaxEntries int
	// MaxUncompressed bounds the sizes the entries of a DOCX declare, in
	// total (default 200 MiB).
	MaxUncompressed int64
	// MaxRatio bounds how many times its compressed size a DOCX entry, or
	// the data set of a Deflated DICOM file, may unpack to once it is over
	// 1 MiB (default 100). Text and XML compress 5 to 30 times, images
	// barely; a bomb a thousand times.
	MaxRatio int64
	// DICOM bounds what package dicom holds in memory while it walks a
	// DICOM file. Zero fields take that package's defaults, which are
	// what Deidentify runs with unless told otherwise: a file accepted
	// here is then one it can read.
	DICOM dicom.Limits
}

const (
	defaultMaxEntries      = 10_000
	defaultMaxUncompressed = 200 << 20
	defaultMaxRatio        = 100

	// ratioGrace is the size under which MaxRatio does not apply: small
	// XML parts reach ratios of a few hundred and cannot hurt.
	ratioGrace = 1 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxEntries <= 0 {
		l.MaxEntries = defaultMaxEntries
	}
	if l.MaxUncompressed <= 0 {
		l.MaxUncompressed = defaultMaxUncompressed
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = defaultMaxRatio
	}
	return l
}

// accepted ends every refusal of a type, so the patient knows what to send.
const accepted = "We accept PDF, PNG, JPEG, TIFF, DICOM, plain text (UTF-8) and Word (.docx) files."

// headLen is how much of the start of the file the signatures need.
const headLen = 512

// Detect reads r, of size bytes, and returns its type if it is one we
// accept. Otherwise it returns a *fault.Error: fault.KindUnsupported for a
// file of another or unknown type, fault.KindInvalid (field "file") for a
// file of an accepted type that is empty, incomplete, damaged or a bomb.
// Its Title and Detail never quote the file. A failure to read r is
// returned as it is (fault.KindInternal): it is not the file's fault.
func Detect(r io.ReaderAt, size int64, lim Limits) (Type, error) {
	if size < 0 {
		return Type{}, errors.New("filetype: negative size")
	}
	if size == 0 {
		return Type{}, fault.Invalid("file", "the file is empty")
	}
	f := &file{r: r}
	t, err := detect(io.NewSectionReader(f, 0, size), lim.withDefaults())
	if f.err != nil {
		return Type{}, fmt.Errorf("filetype: read: %w", f.err)
	}
	if err != nil {
		return Type{}, err
	}
	return t, nil
}

// file remembers the first read error that is not the end of the file.
// The checks take a failed read for the end of a file cut short, which is
// the file's fault; if it failed otherwise, Detect returns this error
// instead, which is ours.
type file struct {
	r   io.ReaderAt
	err error
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.r.ReadAt(p, off)
	if err != nil && err != io.EOF && f.err == nil {
		f.err = err
	}
	return n, err
}

func detect(f *io.SectionReader, lim Limits) (Type, error) {
	head := make([]byte, min(f.Size(), headLen))
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	if what := program(f, head); what != "" {
		return Type{}, unsupported(what, "")
	}
	// Before the other signatures: the 128-byte preamble of a DICOM file
	// may hold anything, a TIFF header included (PS3.10 7.5).
	if len(head) >= 132 && string(head[128:132]) == "DICM" {
		return DICOM, checkDICOM(f, lim)
	}
	switch {
	case hasPrefix(head, "%PDF-"):
		return PDF, checkPDF(f)
	case hasPrefix(head, pngSignature):
		return PNG, checkPNG(f)
	case hasPrefix(head, "\xff\xd8\xff"):
		return JPEG, checkJPEG(f)
	case hasPrefix(head, "II*\x00"), hasPrefix(head, "MM\x00*"):
		return TIFF, checkTIFF(f)
	case hasPrefix(head, "PK\x03\x04"):
		return DOCX, checkDOCX(f, lim)
	}
	if what, hint := other(head); what != "" {
		return Type{}, unsupported(what, hint)
	}
	return Text, checkText(f)
}

// program names the executable f is, or returns "". Programs are looked
// for before anything else, because a file can be a program and something
// we accept at once: a DICOM preamble has room for the headers of a PE or
// ELF executable (CVE-2019-11687), and a script is text.
func program(f io.ReaderAt, head []byte) string {
	switch {
	case hasPrefix(head, "\x7fELF"):
		return "an executable program (ELF)"
	case hasPrefix(head, "\xfe\xed\xfa\xce"), hasPrefix(head, "\xfe\xed\xfa\xcf"),
		hasPrefix(head, "\xce\xfa\xed\xfe"), hasPrefix(head, "\xcf\xfa\xed\xfe"):
		return "a macOS executable program (Mach-O)"
	case hasPrefix(head, "\xca\xfe\xba\xbe"):
		return "a macOS executable program (Mach-O) or a Java class"
	case hasPrefix(head, "MZ") && isPE(f, head):
		return "a Windows executable program (PE)"
	case hasPrefix(head, "#!"):
		// A script is text, but it is a program, and no record starts
		// with "#!": kept, it is one chmod away from running.
		return "a script (a program)"
	}
	return ""
}

// isPE reports whether the MZ header at the start of f points to a PE
// header. "MZ" alone would also match text that starts so.
func isPE(f io.ReaderAt, head []byte) bool {
	if len(head) < 0x40 {
		return false
	}
	var sig [4]byte
	n, _ := f.ReadAt(sig[:], int64(binary.LittleEndian.Uint32(head[0x3c:])))
	return n == 4 && string(sig[:]) == "PE\x00\x00"
}

// others are signatures of types we refuse, with what to do instead.
var others = []struct{ magic, what, hint string }{
	{"GIF87a", "a GIF image", "Save it as PNG."},
	{"GIF89a", "a GIF image", "Save it as PNG."},
	{"II+\x00", "a BigTIFF image", "Save it as a standard TIFF, PNG or JPEG."},
	{"MM\x00+", "a BigTIFF image", "Save it as a standard TIFF, PNG or JPEG."},
	{"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an older Microsoft Office file (such as .doc) or a password-protected one", "Save it without a password as .docx or PDF."},
	{"{\\rtf", "an RTF document", "Save it as .docx or PDF."},
	{"%!PS", "a PostScript document", "Print it to PDF."},
	{"PK\x05\x06", "a ZIP archive that is not a Word document", "Upload the files inside it one by one."},
	{"Rar!\x1a\x07", "a RAR archive", "Upload the files inside it one by one."},
	{"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "Upload the files inside it one by one."},
	{"\x1f\x8b", "a gzip archive", "Upload the files inside it one by one."},
	{"\xff\xfe", "text in UTF-16 or UTF-32", "Save it as UTF-8."},
	{"\xfe\xff", "text in UTF-16", "Save it as UTF-8."},
	{"\x00\x00\xfe\xff", "text in UTF-32", "Save it as UTF-8."},
}

// heifBrands are the ISO BMFF brands of HEIF images, as iPhones take them.
var heifBrands = map[string]bool{"heic": true, "heix": true, "hevc": true, "heim": true, "heis": true, "hevm": true, "hevs": true, "mif1": true, "msf1": true, "avif": true}

// other names the type we refuse that head starts, or returns "".
func other(head []byte) (what, hint string) {
	for _, o := range others {
		if hasPrefix(head, o.magic) {
			return o.what, o.hint
		}
	}
	switch {
	case hasPrefix(head, "RIFF") && len(head) >= 12 && string(head[8:12]) == "WEBP":
		return "a WebP image", "Save it as PNG or JPEG."
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		if heifBrands[string(head[8:12])] {
			return "a HEIC or AVIF image", "Export it as JPEG (on an iPhone, choose Most Compatible)."
		}
		return "a video or audio file", ""
	}
	return markup(head)
}

// markup names HTML and SVG, which we refuse though they are text: they
// can carry scripts and load remote content when opened, and a page saved
// from a browser rarely holds its pictures. A PDF of it keeps what the
// patient saw. Other XML (such as an HL7 CDA document) is accepted as text.
func markup(head []byte) (what, hint string) {
	s := bytes.TrimLeft(bytes.TrimPrefix(head, []byte(utf8BOM)), " \t\r\n\f")
	if hasPrefixFold(s, "<?xml") {
		if i := bytes.Index(s, []byte("?>")); i >= 0 {
			s = bytes.TrimLeft(s[i+2:], " \t\r\n\f")
		}
	}
	if hasPrefixFold(s, "<svg") || hasPrefixFold(s, "<!doctype svg") {
		return "an SVG image", "Save it as PNG."
	}
	for _, tag := range htmlTags {
		if hasPrefixFold(s, tag) && len(s) > len(tag) && (s[len(tag)] == ' ' || s[len(tag)] == '>') {
			return "a web page (HTML)", "Print it to PDF."
		}
	}
	return "", ""
}

// htmlTags start an HTML document when followed by a space or ">": the
// list net/http sniffs by, less "<!--", which starts XML as well.
var htmlTags = []string{"<!doctype html", "<html", "<head", "<script", "<iframe", "<h1", "<div", "<font", "<table", "<a", "<style", "<title", "<b", "<body", "<br", "<p"}

const utf8BOM = "\xef\xbb\xbf"

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }

func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && bytes.EqualFold(b[:len(s)], []byte(s))
}

func unsupported(what, hint string) error {
	detail := "The file is " + what + "."
	if hint != "" {
		detail += " " + hint
	}
	return &fault.Error{
		Kind:   fault.KindUnsupported,
		Title:  "Unsupported file type",
		Detail: detail + " " + accepted,
	}
}

// invalid reports a file of an accepted type that is broken; cause, if
// any, is kept for the logs.
func invalid(cause error, format string, args ...any) error {
	e := fault.Invalid("file", format, args...)
	e.Err = cause
	return e
}
