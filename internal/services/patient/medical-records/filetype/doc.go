// Package filetype decides, from a file's content alone, whether an
// uploaded medical record is of a type we accept, and says in words a
// patient can act on why it is not. The file's name and the type its
// uploader declared are never consulted: both are whatever the uploader
// wants them to be.
//
// It owns the allow-list and the checks behind it, and nothing else:
// storage, scanning for malware, de-identification and size limits on the
// upload belong to the service around it.
//
// # Accepted
//
// PDF, PNG, JPEG, classic TIFF (either byte order), DICOM Part 10, plain
// text in UTF-8 (a byte order mark allowed) and Word documents (.docx).
// Each is recognised by its signature and then checked to be whole, as far
// as that can be done without decoding it:
//
//   - PDF: "%PDF-" at the start, "%%EOF" in the last 1024 bytes (where
//     readers look for it); a PDF without it was cut short.
//   - PNG: the header (IHDR, first) decodes, and the chunks run on to IEND.
//   - JPEG: the header decodes up to the frame (or uses a feature
//     image/jpeg does not decode, such as 12-bit samples), and the
//     markers, the entropy-coded data between them skipped, run on to
//     EOI. Bytes after EOI are allowed: phones append motion photos and
//     maker data there.
//   - TIFF: every image directory has a width, a height and strips or
//     tiles, and every value and strip or tile it points to lies inside
//     the file.
//   - DICOM: the whole file is walked by package dicom (see checkDICOM); it
//     must name its SOP class and instance, and an image must have pixels.
//   - Text: every byte is valid UTF-8, without control characters other
//     than tab, line feed, form feed and carriage return. A control
//     character in the first 8 KiB makes the file binary, of a type we do
//     not recognise; later, it makes it broken text.
//   - DOCX: a ZIP whose [Content_Types].xml gives word/document.xml the
//     type of a Word document, within Limits, every entry of which unpacks
//     to exactly its declared size with the right checksum.
//
// # Refused
//
// A file of another recognisable type is refused as unsupported (HTTP 415)
// with what it looks like and, where there is one, what to do instead:
// executables (ELF, PE, Mach-O) and scripts ("#!"), checked before anything
// else because a DICOM preamble or a "text" file can be one too; HTML and
// SVG, which can carry scripts and are rarely whole when saved from a
// browser (print them to PDF); GIF, WebP, HEIC, BigTIFF; older Office
// files; other ZIP-based and compressed archives; Word documents with
// macros; text in UTF-16; DICOM in a transfer syntax package dicom cannot
// read. Anything else that is not text is refused as of a type we do not
// recognise.
//
// A file of an accepted type that is empty, cut short, damaged, or built
// to exhaust whoever opens it (a zip or deflate bomb, a TIFF whose
// directories loop or overlap) is refused as invalid (HTTP 422, field
// "file").
//
// # Bounds
//
// Memory is bounded whatever the file's size: text, PNG and JPEG are read
// through once in fixed buffers; TIFF directories are read one at a time;
// a DOCX's central directory is read under a budget of 512 bytes an
// allowed entry; a DICOM file holds what Limits.DICOM lets package dicom
// hold. Work is a pass or two over the file (a TIFF walk may read no more
// than the file's size, so loops end), plus at most MaxUncompressed of
// unpacking for a DOCX and MaxRatio times the file's size for a Deflated
// DICOM data set.
//
// # Not checked
//
// A PDF's objects and cross-reference table are not parsed, nor are its
// scripts or encryption looked at; image data is not decoded, so an image
// whose compressed data is corrupt but whole passes, as does one of huge
// dimensions; a DOCX's relationships and embedded objects are not
// followed. A file of an accepted type may carry other bytes after its
// end (after a PNG's IEND or a JPEG's EOI, up to 1 KiB after a PDF's
// "%%EOF"), where viewers do not look.
package filetype
