package dicom

import (
	"encoding/binary"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Metadata describes a file without looking at its pixels: what it is, what
// it shows, and when. Strings are UTF-8, padding removed.
type Metadata struct {
	TransferSyntaxUID string
	SOPClassUID       string
	SOPInstanceUID    string
	StudyInstanceUID  string
	SeriesInstanceUID string

	Modality          string // (0008,0060), e.g. CT, MR, US
	BodyPartExamined  string // (0018,0015), e.g. CHEST
	StudyDescription  string // (0008,1030)
	SeriesDescription string // (0008,103E)
	StudyDate         string // (0008,0020) as stored: YYYYMMDD, or "" when unknown

	Rows, Columns int
	// NumberOfFrames is (0028,0008), or 1 for an image that leaves it out
	// (single-frame IODs do), or 0 for an object without pixel data.
	NumberOfFrames int
	HasPixelData   bool
}

// maxMetaString bounds the values ReadMetadata reads; the attributes it
// wants are at most a few hundred bytes, so anything longer is skipped.
const maxMetaString = 64 << 10

// ReadMetadata reads the File Meta and the data set of a Part 10 stream up to
// the pixel data, and stops there: the pixels are never read. Values it does
// not need are skipped without being held.
func ReadMetadata(r io.Reader) (Metadata, error) {
	ds, err := openDataset(r, Limits{}.withDefaults())
	if err != nil {
		return Metadata{}, err
	}
	defer ds.close()
	md := Metadata{
		TransferSyntaxUID: ds.meta.transferSyntax,
		SOPClassUID:       ds.meta.sopClassUID,
		SOPInstanceUID:    ds.meta.sopInstanceUID,
	}
	dec := ds.dec
	var charset string
	for {
		eof, err := dec.atEOF()
		if err != nil {
			return Metadata{}, err
		}
		if eof {
			break
		}
		h, err := dec.readHeader(noLimit)
		if err != nil {
			return Metadata{}, err
		}
		if h.tag.group() == 0xFFFE {
			return Metadata{}, dec.errorf(ErrMalformed, "%s outside a sequence", h.tag)
		}
		if h.tag >= tagFloatPixelData {
			md.HasPixelData = isPixelTag(h.tag)
			break
		}
		dec.budget = dec.lim.MaxElementBytes
		if !wantedMetadata[h.tag] || h.vr == "SQ" || h.length == undefinedLength || h.length > maxMetaString {
			if _, err := dec.readElement(h, 0, noLimit, false); err != nil {
				return Metadata{}, err
			}
			continue
		}
		v, err := dec.readValue(h.length)
		if err != nil {
			return Metadata{}, err
		}
		text := func() string { return decodeText(v, charset) }
		switch h.tag {
		case tagSpecificCharacterSet:
			charset = trimValue(v)
		case tagSOPClassUID:
			md.SOPClassUID = trimValue(v)
		case tagSOPInstanceUID:
			md.SOPInstanceUID = trimValue(v)
		case tagStudyInstanceUID:
			md.StudyInstanceUID = trimValue(v)
		case tagSeriesInstanceUID:
			md.SeriesInstanceUID = trimValue(v)
		case tagModality:
			md.Modality = text()
		case tagBodyPartExamined:
			md.BodyPartExamined = text()
		case tagStudyDescription:
			md.StudyDescription = text()
		case tagSeriesDescription:
			md.SeriesDescription = text()
		case tagStudyDate:
			md.StudyDate = text()
		case tagRows:
			md.Rows = int(uint16Value(v))
		case tagColumns:
			md.Columns = int(uint16Value(v))
		case tagNumberOfFrames:
			// IS may be multi-valued in theory; the first value counts.
			first, _, _ := strings.Cut(trimValue(v), `\`)
			if n, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && n > 0 {
				md.NumberOfFrames = n
			}
		}
	}
	if md.NumberOfFrames == 0 && md.HasPixelData {
		md.NumberOfFrames = 1
	}
	return md, nil
}

var wantedMetadata = map[tag]bool{
	tagSpecificCharacterSet: true,
	tagSOPClassUID:          true,
	tagSOPInstanceUID:       true,
	tagStudyInstanceUID:     true,
	tagSeriesInstanceUID:    true,
	tagModality:             true,
	tagBodyPartExamined:     true,
	tagStudyDescription:     true,
	tagSeriesDescription:    true,
	tagStudyDate:            true,
	tagRows:                 true,
	tagColumns:              true,
	tagNumberOfFrames:       true,
}

func uint16Value(v []byte) uint16 {
	if len(v) < 2 {
		return 0
	}
	return binary.LittleEndian.Uint16(v)
}

// decodeText turns a string value into UTF-8. Of the character sets of PS3.3
// C.12.1.1.2 we convert the default repertoire, Latin-1 (ISO_IR 100) and
// UTF-8 (ISO_IR 192); anything else keeps its ASCII and loses the rest to
// U+FFFD rather than passing on bytes that are not UTF-8.
func decodeText(v []byte, charset string) string {
	s := trimValue(v)
	first, _, _ := strings.Cut(charset, `\`)
	if strings.TrimSpace(first) == "ISO_IR 100" {
		var b strings.Builder
		for _, c := range []byte(s) {
			b.WriteRune(rune(c))
		}
		return b.String()
	}
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
