package extract

import (
	"errors"
	"io"
	"strconv"

	"github.com/secondopinion/platform/internal/kit/dicom"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// dicomText reads a DICOM Part 10 file's descriptive attributes, in this
// order, each only when present and not empty: Modality (0008,0060), Body
// Part Examined (0018,0015), Study Description (0008,1030), Series
// Description (0008,103E), Study Date (0008,0020), SOP Class UID
// (0008,0016), Rows (0028,0010), Columns (0028,0011), and Number of Frames
// (0028,0008) when above 1.
//
// Never read: the patient's attributes (name, ID, birth date, sex, age,
// address …), the people and places of the study (physicians, operators,
// institution, station), accession numbers, and the instance, series and
// study UIDs — the document's id already names the file. The descriptions
// are free text written at the scanner and may still name someone: the
// privacy gate before an external provider must treat them as text to
// redact. Pixel data is not read: text burned into the image is not
// extracted.
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
	add := func(tag, keyword, value string) {
		if value != "" {
			tags = append(tags, Tag{Tag: tag, Keyword: keyword, Value: value})
		}
	}
	count := func(n int) string {
		if n <= 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	add("(0008,0060)", "Modality", md.Modality)
	add("(0018,0015)", "BodyPartExamined", md.BodyPartExamined)
	add("(0008,1030)", "StudyDescription", md.StudyDescription)
	add("(0008,103E)", "SeriesDescription", md.SeriesDescription)
	add("(0008,0020)", "StudyDate", md.StudyDate)
	add("(0008,0016)", "SOPClassUID", md.SOPClassUID)
	add("(0028,0010)", "Rows", count(md.Rows))
	add("(0028,0011)", "Columns", count(md.Columns))
	if md.NumberOfFrames > 1 {
		add("(0028,0008)", "NumberOfFrames", count(md.NumberOfFrames))
	}
	return Text{Status: StatusOK, Tags: tags}, nil
}
