package filetype

import (
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/secondopinion/platform/internal/kit/dicom"
)

// walkKey keys the UIDs of a de-identified copy that nobody sees: Deidentify
// is run here only to read the whole file.
var walkKey = []byte("filetype: the copy is discarded")

// checkDICOM has package dicom read the file. ReadMetadata reads up to the
// pixel data; Deidentify, into io.Discard, is the one entry point that
// reads a file to its end, so it is what finds a file cut short inside or
// after its pixel data. It streams the pixel data and holds the other
// elements one at a time, within lim.DICOM. A Deflated data set is first
// inflated once under MaxRatio, since package dicom bounds its memory but
// not the time a deflate bomb takes to unpack.
func checkDICOM(f *io.SectionReader, lim Limits) error {
	if off, ok := deflatedDataSet(f); ok {
		if err := checkInflation(f, off, lim.MaxRatio); err != nil {
			return err
		}
	}
	md, err := dicom.ReadMetadata(io.NewSectionReader(f, 0, f.Size()))
	if err != nil {
		return dicomError(err)
	}
	rep, err := dicom.Deidentify(io.Discard, io.NewSectionReader(f, 0, f.Size()), dicom.Options{UIDKey: walkKey, Limits: lim.DICOM})
	if err != nil {
		return dicomError(err)
	}
	// A file cut between two elements reads to its end without error. Every
	// object names its SOP class and instance (SOP Common Module, type 1),
	// and an image has pixels after them.
	if rep.SOPClassUID == "" || rep.SOPInstanceUID == "" || md.Rows > 0 && !md.HasPixelData {
		return dicomError(dicom.ErrTruncated)
	}
	return nil
}

func dicomError(err error) error {
	switch {
	case errors.Is(err, dicom.ErrUnsupportedTransferSyntax):
		return unsupported("a DICOM file in an encoding (transfer syntax) we cannot read", "Ask for a copy in Explicit or Implicit VR Little Endian.")
	case errors.Is(err, dicom.ErrTruncated):
		return invalid(err, "the DICOM file is incomplete: it was cut short; copy or export it again")
	case errors.Is(err, dicom.ErrLimit):
		return invalid(err, "the DICOM file has a part larger or more deeply nested than we accept")
	case errors.Is(err, dicom.ErrMalformed), errors.Is(err, dicom.ErrNotPart10):
		return invalid(err, "the DICOM file is damaged and cannot be read")
	}
	return fmt.Errorf("filetype: dicom: %w", err)
}

const (
	tsDeflated = "1.2.840.10008.1.2.1.99"
	// maxMeta bounds the File Meta walked; package dicom allows 1 MiB.
	maxMeta = 1 << 20
)

// deflatedDataSet reports where the data set of a Part 10 file starts if it
// is deflated. It walks the File Meta (Explicit VR Little Endian, while the
// tags are in group 0002) as package dicom does, and gives up on anything
// odd by reporting false: package dicom then says what is wrong.
func deflatedDataSet(f *io.SectionReader) (int64, bool) {
	pos, ts := int64(132), ""
	for pos < maxMeta {
		var h [12]byte
		n, _ := f.ReadAt(h[:], pos)
		if n < 8 || binary.LittleEndian.Uint16(h[:]) != 0x0002 {
			break
		}
		hl, vl := int64(8), int64(binary.LittleEndian.Uint16(h[6:]))
		if !shortVR[string(h[4:6])] {
			if n < 12 {
				break
			}
			hl, vl = 12, int64(binary.LittleEndian.Uint32(h[8:]))
		}
		if binary.LittleEndian.Uint16(h[2:]) == 0x0010 && vl <= 64 {
			v := make([]byte, vl)
			if m, _ := f.ReadAt(v, pos+hl); int64(m) < vl {
				break
			}
			ts = strings.TrimRight(string(v), " \x00")
		}
		pos += hl + vl
	}
	return pos, ts == tsDeflated && pos < f.Size()
}

// shortVR are the VRs whose explicit length is 16 bits (PS3.5 7.1.2); any
// other, unknown ones included, has a 32-bit length.
var shortVR = map[string]bool{
	"AE": true, "AS": true, "AT": true, "CS": true, "DA": true, "DS": true, "DT": true,
	"FL": true, "FD": true, "IS": true, "LO": true, "LT": true, "PN": true, "SH": true,
	"SL": true, "SS": true, "ST": true, "TM": true, "UI": true, "UL": true, "US": true,
}

// checkInflation inflates the data set from off, counting, up to MaxRatio
// times its compressed size. Errors in the stream are left to package dicom.
func checkInflation(f *io.SectionReader, off, ratio int64) error {
	n := f.Size() - off
	limit := int64(math.MaxInt64 - 1)
	if n < limit/ratio {
		limit = max(n*ratio, ratioGrace)
	}
	got, _ := io.Copy(io.Discard, io.LimitReader(flate.NewReader(io.NewSectionReader(f, off, n)), limit+1))
	if got > limit {
		return invalid(nil, "the DICOM file unpacks to more than %d times its size, as a compression bomb does", ratio)
	}
	return nil
}
