// Package extract reads the text of a medical record, so that document
// analysis can work on it and every finding can cite where it came from: a
// page and a span of that page's text, or a DICOM attribute. It owns text
// extraction and nothing else: no language processing, no storage, no
// HTTP, no decision about who may see the text.
//
// One Extractor (New) serves every document; Extract takes the record's
// file type (api/vocab FileType, as medical-records sniffed it), its bytes
// through an io.ReaderAt, and its size, and returns a Text:
//
//   - Pages, numbered from 1, each with its Text (UTF-8, "\n" line ends),
//     the Method that read it and its Status. Offsets into a page's Text
//     are byte offsets on rune boundaries, as Go slices strings; Text.Quote
//     returns the words at a span, so a citation (document id, page, start,
//     end) can be checked against the text it points at.
//   - Tags, for DICOM: descriptive attributes as (tag, keyword, value).
//   - Status: OK; PARTIAL when some pages could not be read (OCR missing or
//     failed for them); OCR_UNAVAILABLE when the text was only in images
//     and tesseract is not installed. A document whose text could not be
//     read is never an empty OK.
//
// # Per file type
//
//   - TEXT: UTF-8 (a byte-order mark is dropped; other encodings are
//     broken). A form feed starts a new page; otherwise the file is one page.
//     Apart from line ends ("\r\n" and "\r" become "\n"), the text is the
//     file's.
//   - DOCX: the main document part (named by the package relationships),
//     read with archive/zip and encoding/xml: paragraphs in document order,
//     table rows as lines of tab-separated cells; deleted revisions, field
//     codes and alternate-content fallbacks left out. Pages split at explicit
//     page breaks only (Word's layout is not reproduced). Headers, footers,
//     footnotes and comments are not read.
//   - PDF: PDFium (github.com/klippa-app/go-pdfium, PDFium built to
//     WebAssembly and run in process by wazero, no cgo), page by page: the
//     text layer as PDFium orders it; a page whose text is in an image (a
//     scan: almost no text and an image over a good part of the page) is
//     rendered at 300 DPI and read by OCR instead. A PDF that needs a
//     password is refused; one that only restricts printing or copying is
//     read.
//   - PNG, JPEG, TIFF (every page of a multi-page TIFF): OCR.
//   - DICOM: the descriptive attributes package kit/dicom reads without the
//     pixels (see dicomText): modality, body part, descriptions, study date,
//     SOP class, image size. Never the patient's identity, the people and
//     places of the study, or the UIDs.
//
// OCR is the tesseract command (Debian tesseract-ocr), run per image with
// the image on its standard input and the text read from its standard
// output ("tesseract stdin stdout -l eng"), one thread each, a few at a time
// (Options.OCRWorkers), each run bounded by Limits.OCRTimeout. Where it is
// not installed, pages that need it say OCR_UNAVAILABLE.
//
// # Hostile input
//
// Records are uploaded by anyone, so every reader is bounded: the document's
// size (Limits.MaxBytes), its pages (MaxPages), the text it may produce
// (MaxTextBytes), a DOCX body's unpacked size (MaxXMLBytes, checked against
// the zip header and while unpacking), an image's declared pixels before
// tesseract sees it (MaxPixels; TIFF directories are walked for it, loops
// refused), and time (Timeout for the document, OCRTimeout per OCR run).
// PDFium runs in a WebAssembly sandbox: a fresh instance per document with
// its own memory, capped (Options.PDFMemoryMiB), no file system, killed when
// the document's time is up; a pure-Go PDF reader would share the process's
// memory and could not be stopped. Errors are *fault.Error values whose
// Kind says what the caller can do (too large, broken, unsupported,
// timeout); their details never quote the document.
//
// # Not done
//
// Text burned into DICOM pixels, encapsulated documents in DICOM, PDF
// annotations and form fields, OCR confidence per word, layout (columns,
// reading order beyond PDFium's), and language detection for OCR (the
// languages are configured, "eng" by default).
package extract
