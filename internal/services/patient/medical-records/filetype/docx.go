package filetype

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"path"
	"strings"
)

const (
	docxMain     = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
	docmMain     = "application/vnd.ms-word.document.macroEnabled.main+xml"
	templateMain = "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml"
	dotmMain     = "application/vnd.ms-word.template.macroEnabledTemplate.main+xml"

	// maxContentTypes bounds [Content_Types].xml, which lists a few dozen
	// parts in a few KiB.
	maxContentTypes = 1 << 20

	// A central directory may take dirSlack (for archive/zip's search for
	// its end record) and dirPerEntry per allowed entry; Word's entries
	// take about a hundred bytes.
	dirSlack    = 128 << 10
	dirPerEntry = 512
)

// budget fails reads once n bytes have been read through it. zip.NewReader
// holds the whole central directory in memory, however many entries it
// claims, so the directory is read under a budget; lifted once it is read.
type budget struct {
	r io.ReaderAt
	n int64
}

var errBudget = errors.New("filetype: zip directory over budget")

func (b *budget) ReadAt(p []byte, off int64) (int, error) {
	if b.n -= int64(len(p)); b.n < 0 {
		return 0, errBudget
	}
	return b.r.ReadAt(p, off)
}

// checkDOCX decides from the central directory what the ZIP is and whether
// its sizes are within lim, reads [Content_Types].xml, and then unpacks
// every entry to check it. archive/zip fails an entry that unpacks to more
// than its declared size (ErrFormat) or to other bytes (ErrChecksum), so
// sizes that lie cost no more than the limits on what they declare.
func checkDOCX(f *io.SectionReader, lim Limits) error {
	b := &budget{r: f, n: dirSlack + int64(lim.MaxEntries)*dirPerEntry}
	zr, err := zip.NewReader(b, f.Size())
	if errors.Is(err, errBudget) {
		return tooManyEntries(lim)
	}
	if err != nil {
		return invalid(err, "the file is a damaged ZIP archive or Word document; save it again")
	}
	b.n = math.MaxInt64
	if len(zr.File) > lim.MaxEntries {
		return tooManyEntries(lim)
	}
	parts := make(map[string]*zip.File, len(zr.File))
	macros := false
	for _, e := range zr.File {
		// Part names are case-insensitive (ECMA-376 Part 2, 9.1.1.1). Two
		// entries of one name are read differently by different programs,
		// which is how a check like this one is fooled.
		name := strings.ToLower(e.Name)
		if parts[name] != nil {
			return docxDamaged(nil)
		}
		parts[name] = e
		macros = macros || path.Base(name) == "vbaproject.bin"
	}
	ct, doc := parts["[content_types].xml"], parts["word/document.xml"]
	if doc == nil {
		switch {
		case parts["xl/workbook.xml"] != nil:
			return unsupported("an Excel workbook", "Save it as PDF.")
		case parts["ppt/presentation.xml"] != nil:
			return unsupported("a PowerPoint presentation", "Save it as PDF.")
		case parts["mimetype"] != nil && parts["content.xml"] != nil:
			return unsupported("an OpenDocument file", "Save it as .docx or PDF.")
		case ct == nil:
			return unsupported("a ZIP archive that is not a Word document", "Upload the files inside it one by one.")
		}
		return invalid(nil, "the Word document is damaged: its main part (word/document.xml) is missing; save it again")
	}
	if ct == nil {
		return invalid(nil, "the Word document is damaged: its list of parts ([Content_Types].xml) is missing; save it again")
	}
	if err := checkSizes(zr.File, lim); err != nil {
		return err
	}
	main, err := mainType(ct)
	if err != nil {
		return docxDamaged(err)
	}
	switch {
	case macros || main == docmMain || main == dotmMain:
		return unsupported("a Word document with macros", "Save it as a Word document without macros (.docx) or as PDF.")
	case main == templateMain:
		return unsupported("a Word template", "Save it as a Word document (.docx).")
	case main != docxMain:
		return docxDamaged(nil)
	}
	for _, e := range zr.File {
		if err := unpack(e); err != nil {
			return err
		}
	}
	return nil
}

func tooManyEntries(lim Limits) error {
	return invalid(nil, "the Word document has more than %d parts, as a zip bomb might; save it again", lim.MaxEntries)
}

func docxDamaged(cause error) error {
	return invalid(cause, "the Word document is damaged; save it again")
}

// checkSizes applies lim to the sizes the central directory declares.
func checkSizes(files []*zip.File, lim Limits) error {
	var total uint64
	for _, e := range files {
		u, c := e.UncompressedSize64, e.CompressedSize64
		if u > uint64(lim.MaxUncompressed)-total {
			return invalid(nil, "the Word document unpacks to more than %d MiB, as a zip bomb does", lim.MaxUncompressed>>20)
		}
		total += u
		if u > ratioGrace && (c == 0 || u/c > uint64(lim.MaxRatio)) {
			return invalid(nil, "a part of the Word document unpacks to more than %d times its size, as a zip bomb does", lim.MaxRatio)
		}
	}
	return nil
}

// mainType is the content type [Content_Types].xml gives word/document.xml.
func mainType(ct *zip.File) (string, error) {
	if ct.UncompressedSize64 > maxContentTypes {
		return "", errors.New("filetype: [Content_Types].xml too large")
	}
	rc, err := ct.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var types struct {
		Default []struct {
			Extension   string `xml:",attr"`
			ContentType string `xml:",attr"`
		}
		Override []struct {
			PartName    string `xml:",attr"`
			ContentType string `xml:",attr"`
		}
	}
	if err := xml.NewDecoder(rc).Decode(&types); err != nil {
		return "", err
	}
	for _, o := range types.Override {
		if strings.EqualFold(o.PartName, "/word/document.xml") {
			return o.ContentType, nil
		}
	}
	for _, d := range types.Default {
		if strings.EqualFold(d.Extension, "xml") {
			return d.ContentType, nil
		}
	}
	return "", nil
}

// unpack reads entry e to its end.
func unpack(e *zip.File) error {
	rc, err := e.Open()
	if err != nil {
		return docxDamaged(err)
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	switch {
	case errors.Is(err, zip.ErrFormat):
		return invalid(err, "a part of the Word document unpacks to more than it declares, as a zip bomb does")
	case err != nil:
		return docxDamaged(err)
	}
	return nil
}
