package extract

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/secondopinion/platform/internal/kit/dicom"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// dicomText reads a DICOM Part 10 file's descriptive attributes that
// de-identification keeps (PS3.15 Basic Profile, dicom.Kept), in this
// order, each only when present and not empty: Modality (0008,0060), Body
// Part Examined (0018,0015), SOP Class UID (0008,0016), Rows (0028,0010),
// Columns (0028,0011), and Number of Frames (0028,0008) when above 1.
//
// Never read: the patient's attributes (name, ID, birth date, sex, age,
// address …), the people and places of the study, accession numbers, UIDs,
// and the study's and series' descriptions and dates, free text and dates
// written at the scanner that the profile removes because they may name or
// date the patient. Pixel data is not read: text burned into the image is
// not extracted.
func dicomText(r io.Reader) (Text, error) {
	md, err := dicom.ReadMetadata(r)
	if err != nil {
		var fe *fault.Error
		if errors.As(err, &fe) {
			return Text{}, err
		}
		switch {
		case errors.Is(err, dicom.ErrUnsupportedTransferSyntax):
			return Text{}, &fault.Error{Kind: fault.KindUnsupported, Title: "Unsupported file type",
				Detail: "the DICOM file's transfer syntax is not read", Err: wrapCause(ErrUnsupported, err)}
		case errors.Is(err, dicom.ErrNotPart10), errors.Is(err, dicom.ErrTruncated),
			errors.Is(err, dicom.ErrMalformed), errors.Is(err, dicom.ErrLimit):
			return Text{}, broken("the DICOM file is broken", err)
		default:
			return Text{}, readFailure(err)
		}
	}
	var tags []Tag
	// Only what de-identification keeps (dicom.Kept): the analysis is
	// shown to the professional, who receives the study de-identified.
	add := func(group, element uint16, keyword, value string) {
		if value != "" && dicom.Kept(group, element) {
			tags = append(tags, Tag{Tag: fmt.Sprintf("(%04X,%04X)", group, element), Keyword: keyword, Value: value})
		}
	}
	count := func(n int) string {
		if n <= 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	add(0x0008, 0x0060, "Modality", md.Modality)
	add(0x0018, 0x0015, "BodyPartExamined", md.BodyPartExamined)
	add(0x0008, 0x0016, "SOPClassUID", md.SOPClassUID)
	add(0x0028, 0x0010, "Rows", count(md.Rows))
	add(0x0028, 0x0011, "Columns", count(md.Columns))
	if md.NumberOfFrames > 1 {
		add(0x0028, 0x0008, "NumberOfFrames", count(md.NumberOfFrames))
	}
	return Text{Status: StatusOK, Tags: tags}, nil
}
