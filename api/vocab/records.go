package vocab

import "slices"

// DocumentKind is what a medical record is, as the patient files it: the
// checklists of the specialties are written in these.
type DocumentKind string

const (
	DocumentPathologyReport  DocumentKind = "PATHOLOGY_REPORT"
	DocumentImagingReport    DocumentKind = "IMAGING_REPORT"
	DocumentImaging          DocumentKind = "IMAGING"
	DocumentLabResults       DocumentKind = "LAB_RESULTS"
	DocumentTreatmentHistory DocumentKind = "TREATMENT_HISTORY"
	DocumentDischargeSummary DocumentKind = "DISCHARGE_SUMMARY"
	DocumentReferralLetter   DocumentKind = "REFERRAL_LETTER"
	DocumentPrescription     DocumentKind = "PRESCRIPTION"
	DocumentOther            DocumentKind = "OTHER"
)

// DocumentKinds lists every document kind.
var DocumentKinds = []DocumentKind{DocumentPathologyReport, DocumentImagingReport, DocumentImaging, DocumentLabResults,
	DocumentTreatmentHistory, DocumentDischargeSummary, DocumentReferralLetter, DocumentPrescription, DocumentOther}

func (DocumentKind) Values() []string { return strings(DocumentKinds) }

// Valid reports whether k is a document kind.
func (k DocumentKind) Valid() bool { return slices.Contains(DocumentKinds, k) }

// FileType is the type of a record's content, sniffed from its bytes.
type FileType string

const (
	FilePDF   FileType = "PDF"
	FilePNG   FileType = "PNG"
	FileJPEG  FileType = "JPEG"
	FileTIFF  FileType = "TIFF"
	FileDICOM FileType = "DICOM"
	FileText  FileType = "TEXT"
	FileDOCX  FileType = "DOCX"
)

// FileTypes lists every accepted file type.
var FileTypes = []FileType{FilePDF, FilePNG, FileJPEG, FileTIFF, FileDICOM, FileText, FileDOCX}

func (FileType) Values() []string { return strings(FileTypes) }

// Valid reports whether t is an accepted file type.
func (t FileType) Valid() bool { return slices.Contains(FileTypes, t) }
