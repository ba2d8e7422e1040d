package extract

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"io"
	"path"
	"strings"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// mainPartDefault is where Word puts the document body; _rels/.rels says
// where it really is.
const mainPartDefault = "word/document.xml"

// maxRelsBytes bounds the package relationships part, a few hundred bytes in
// practice.
const maxRelsBytes = 1 << 20

// docx reads the body of a Word document (ECMA-376 WordprocessingML,
// transitional or strict): the text of its paragraphs in document order,
// one line per paragraph; a table row is one line with its cells separated
// by tabs (a cell's paragraphs joined by spaces). An explicit page break
// (w:br w:type="page") starts a new page, so a DOCX has one page unless it
// has such breaks. Deleted revisions, field codes and the fallback copy of
// alternate content are left out; headers, footers, footnotes, endnotes and
// comments live in other parts and are not read.
//
// The archive is read through its central directory; only the relationships
// part and the main part are decompressed, each bounded (Limits.MaxXMLBytes
// for the main part), so a zip bomb costs at most that much reading.
func (e *Extractor) docx(r io.ReaderAt, size int64) (Text, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return Text{}, broken("the DOCX archive is broken", err)
	}
	files := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		files[f.Name] = f
	}
	name := mainPartDefault
	if rels, ok := files["_rels/.rels"]; ok {
		target, err := officeDocument(rels)
		if err != nil {
			return Text{}, err
		}
		if target != "" {
			name = target
		}
	}
	main, ok := files[name]
	if !ok {
		return Text{}, broken("the DOCX has no document body", nil)
	}
	if main.UncompressedSize64 > uint64(e.lim.MaxXMLBytes) {
		return Text{}, failure(fault.KindTooLarge, ErrTooLarge, "Document too large", "the DOCX body is larger than is read")
	}
	rc, err := main.Open()
	if err != nil {
		return Text{}, broken("the DOCX body cannot be opened", err)
	}
	defer rc.Close()
	lr := &io.LimitedReader{R: rc, N: e.lim.MaxXMLBytes + 1}
	w := &docxWriter{budget: textBudget{left: e.lim.MaxTextBytes}, maxPages: e.lim.MaxPages}
	if err := w.read(xml.NewDecoder(lr)); err != nil {
		if lr.N <= 0 {
			return Text{}, failure(fault.KindTooLarge, ErrTooLarge, "Document too large", "the DOCX body is larger than is read")
		}
		return Text{}, err
	}
	return Text{Pages: w.finish()}, nil
}

// officeDocument returns the main part named by the package relationships,
// or "" if they name none.
func officeDocument(f *zip.File) (string, error) {
	if f.UncompressedSize64 > maxRelsBytes {
		return "", broken("the DOCX relationships are too large", nil)
	}
	rc, err := f.Open()
	if err != nil {
		return "", broken("the DOCX relationships cannot be opened", err)
	}
	defer rc.Close()
	var rels struct {
		Rel []struct {
			Type   string `xml:"Type,attr"`
			Target string `xml:"Target,attr"`
			Mode   string `xml:"TargetMode,attr"`
		} `xml:"Relationship"`
	}
	if err := xml.NewDecoder(io.LimitReader(rc, maxRelsBytes)).Decode(&rels); err != nil {
		return "", broken("the DOCX relationships are broken", err)
	}
	for _, r := range rels.Rel {
		if strings.HasSuffix(r.Type, "/officeDocument") && r.Mode != "External" {
			return strings.TrimPrefix(path.Clean("/"+r.Target), "/"), nil
		}
	}
	return "", nil
}

func broken(detail string, cause error) error {
	return &fault.Error{Kind: fault.KindInvalid, Title: "Broken document", Detail: detail, Err: wrapCause(ErrMalformed, cause)}
}

// docxWriter turns the main part's XML into pages of text. Elements are
// matched by local name, so the transitional and strict namespaces read
// alike.
type docxWriter struct {
	pages    []string
	cur      []byte
	inText   int // inside w:t (or a:t, m:t): its character data is text
	inRun    int // inside w:r: tabs and breaks count
	inCell   int // inside w:tc: paragraphs end with a space, not a line
	budget   textBudget
	maxPages int
}

func (w *docxWriter) read(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return broken("the DOCX body is not well-formed XML", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			switch tok.Name.Local {
			case "Fallback": // mc:AlternateContent repeats its Choice here
				if err := d.Skip(); err != nil {
					return broken("the DOCX body is not well-formed XML", err)
				}
			case "t":
				w.inText++
			case "r":
				w.inRun++
			case "tc":
				w.inCell++
			case "tab":
				if w.inRun > 0 {
					w.write("\t")
				}
			case "cr":
				if w.inRun > 0 {
					w.write("\n")
				}
			case "noBreakHyphen":
				w.write("-")
			case "br":
				if w.inRun == 0 {
					break
				}
				if attr(tok, "type") == "page" {
					if err := w.pageBreak(); err != nil {
						return err
					}
				} else {
					w.write("\n")
				}
			}
		case xml.EndElement:
			switch tok.Name.Local {
			case "t":
				w.inText--
			case "r":
				w.inRun--
			case "p":
				if w.inCell > 0 {
					w.write(" ")
				} else {
					w.write("\n")
				}
			case "tc":
				w.inCell--
				w.trimRight(" ")
				w.write("\t")
			case "tr":
				w.trimRight("\t")
				w.write("\n")
			}
		case xml.CharData:
			if w.inText > 0 {
				w.write(string(tok))
			}
		}
		if err := w.budget.take(""); err != nil {
			return err
		}
	}
}

func attr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func (w *docxWriter) write(s string) {
	w.cur = append(w.cur, s...)
	w.budget.left -= len(s)
}

func (w *docxWriter) trimRight(cut string) {
	for len(w.cur) > 0 && strings.ContainsRune(cut, rune(w.cur[len(w.cur)-1])) {
		w.cur = w.cur[:len(w.cur)-1]
		w.budget.left++
	}
}

func (w *docxWriter) pageBreak() error {
	w.pages = append(w.pages, string(w.cur))
	w.cur = w.cur[:0]
	if len(w.pages) >= w.maxPages {
		return tooManyPages(len(w.pages)+1, w.maxPages)
	}
	return nil
}

func (w *docxWriter) finish() []Page {
	all := append(w.pages, string(w.cur))
	pages := make([]Page, len(all))
	for i, s := range all {
		pages[i] = Page{Number: i + 1, Text: normalise(strings.Trim(s, "\n")), Method: MethodDOCX, Status: StatusOK}
	}
	return pages
}
