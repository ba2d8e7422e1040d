// Package dicom reads, de-identifies and writes DICOM Part 10 files, using
// the standard library only (no Go DICOM library is available to us). It is
// platform code: it knows DICOM and nothing of cases, patients, records or
// who may see what, and it imports no service.
//
// It owns three things and nothing else:
//
//   - Deidentify: a streaming copy of one Part 10 file with the DICOM PS3.15
//     Annex E Basic Application Level Confidentiality Profile applied — what
//     a caller hands to anyone who must not see the patient's identity.
//   - ReadMetadata: a fixed, small set of descriptive attributes (modality,
//     body part, descriptions, study date, SOP class and instance, study and
//     series UIDs, image size, frames), read without touching the pixel data.
//     It reads none of the patient's identifying attributes.
//   - RemapUID: the keyed UID mapping that Deidentify applies, for callers that
//     must translate an original UID (for example one cited elsewhere) into
//     the de-identified one.
//
// Storage, encryption, consent and who may see what belong to the services
// that use this package, not to it.
//
// # Reading
//
// Input is a Part 10 stream: a 128-byte preamble, "DICM", the File Meta
// Information (group 0002, always Explicit VR Little Endian), then the data
// set in the transfer syntax the meta names:
//
//   - 1.2.840.10008.1.2       Implicit VR Little Endian
//   - 1.2.840.10008.1.2.1     Explicit VR Little Endian
//   - 1.2.840.10008.1.2.1.99  Deflated Explicit VR Little Endian
//   - encapsulated syntaxes, which are Explicit VR Little Endian with
//     compressed pixel data: 1.2.840.10008.1.2.4.* (JPEG, JPEG-LS, JPEG 2000,
//     MPEG, HTJ2K …), 1.2.840.10008.1.2.5 (RLE), 1.2.840.10008.1.2.1.98 and
//     1.2.840.10008.1.2.8.* — their pixel fragments are copied untouched.
//
// Explicit VR Big Endian (retired) and private transfer syntaxes are refused
// with ErrUnsupportedTransferSyntax. Streams without the preamble (bare data
// sets) are refused with ErrNotPart10.
//
// Sequences may have defined or undefined lengths and nest to Limits.MaxDepth.
// In Implicit VR the VR comes from the small dictionary in table.go; unknown
// tags read as UN. A UN value (implicit or explicit) whose bytes parse as a
// sequence of items is treated as a sequence, so a public sequence we do not
// know cannot smuggle identifiers through; one that looks like a sequence but
// does not parse is removed.
//
// Input is hostile until proven otherwise: a length read from the file is
// never allocated up front (buffers grow only as bytes actually arrive), is
// checked against the enclosing defined-length item or sequence, and is
// bounded by Limits. Truncated or malformed input yields ErrTruncated,
// ErrMalformed or ErrLimit, never a panic.
//
// Memory is bounded apart from the non-pixel elements: the data set is
// processed one top-level element at a time; Pixel Data, Float and Double
// Float Pixel Data, and any other retained top-level value over 1 MiB are
// copied from input to output in a streaming fashion, fragment by fragment
// for encapsulated pixel data. Only nested sequences and small values are
// held in memory. A deflated input can expand without bound into the output:
// callers that accept deflated files should bound what they write.
//
// # De-identification
//
// The table in table.go lists every attribute we act on with its Table E.1-1
// Basic Profile action code. How each code is applied:
//
//   - X: the attribute is removed.
//   - Z: it is kept with a zero-length value; a sequence keeps no items.
//   - D: it is replaced by a dummy of its VR ("ANONYMIZED", 19000101, 000000,
//     0, zero bytes …); a UID is remapped as U; a sequence becomes one empty
//     item, so none of its content survives.
//   - U: each UID is replaced by "2.25." followed by the decimal value of
//     HMAC-SHA-256 under Options.UIDKey of a fixed label and the UID,
//     truncated to 128 bits and shaped as a version 8 UUID (see RemapUID). The same original UID under the same key always gives
//     the same new UID, so every file of a study de-identified with the
//     study's (or the case's) key keeps its Study, Series, Frame of Reference
//     and referenced-instance UIDs consistent; under another key the same UID
//     is unlinkable.
//   - K, and attributes not in the table: kept; sequences are kept and the
//     profile is applied to their items recursively.
//   - C (used only by profile options) would need a clean-up of free text we
//     cannot do reliably; it is applied as X.
//   - Compound codes (X/Z, X/D, Z/D, X/Z/D, X/Z/U*) let the profile pick by the
//     attribute's type in the IOD, which we do not model; we take the last
//     alternative, which keeps any IOD conformant: X/Z → Z, X/D, Z/D and
//     X/Z/D → D, X/Z/U* → keep the sequence and recurse (U on its UIDs).
//
// Beyond the table: all private attributes (odd groups, including private
// creators) are removed; group lengths (gggg,0000) other than the File Meta's
// are removed; curve groups (50xx) and overlay groups (60xx, whose Overlay
// Data and Overlay Comments the profile removes) are removed whole; the
// preamble is written as zeros. Patient Identity Removed (0012,0062) is set to
// YES, De-identification Method (0012,0063) and De-identification Method Code
// Sequence (0012,0064, DCM 113100) are written. The File Meta is rewritten:
// Media Storage SOP Instance UID is the new SOP Instance UID, the group length
// is recomputed, Implementation Class UID and Version Name name this package,
// and the source/sending/receiving AE titles and private meta elements are
// dropped. The output is a Part 10 file in the input's transfer syntax.
//
// Options.PatientName and Options.PatientID may give pseudonyms (say, the case
// number) for (0010,0010) and (0010,0020) instead of the profile's empty or
// dummy value.
//
// # Not implemented
//
// None of the profile's options is implemented: Clean Pixel Data, Clean
// Recognizable Visual Features, Clean Graphics, Clean Structured Content,
// Clean Descriptors, Retain Longitudinal Temporal Information (full dates or
// modified dates), Retain Patient Characteristics, Retain Device Identity,
// Retain Institution Identity, Retain UIDs, Retain Safe Private.
//
// In particular the pixel data is not scanned: text burned into the image
// (common in ultrasound, secondary capture and scanned documents) passes
// through. Report.BurnedInAnnotation echoes (0028,0301) so the caller can
// hold such files back; an absent value proves nothing. Dates the profile
// replaces become the dummy 19000101 (or empty), so intervals between studies
// are lost. Study and Series Description are removed (X), as the profile
// says without Clean Descriptors; read them with ReadMetadata from the original
// if the pipeline needs them before the privacy gate.
//
// Content Sequence (0040,A730) is D, so a Structured Report keeps one empty
// item of its content tree; Encapsulated Document (0042,0011) is D, so an
// encapsulated PDF becomes two zero bytes. Clean Structured Content would be
// needed to keep either; documents are better handled as documents.
//
// The table covers Table E.1-1 as of the 2024b edition; attributes added to
// the profile later are kept until the table is extended.
package dicom
