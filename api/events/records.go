package events

import (
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
)

// MedicalRecords produces the events of the documents of cases.
const MedicalRecords = "medical-records"

// DocumentChanged is document.uploaded and document.deleted: a record of
// a case, by id, kind and sniffed type. Its file name and content stay in
// medical-records, where reading them is checked and audited.
type DocumentChanged struct {
	DocumentID string             `json:"documentId" format:"uuid"`
	CaseID     string             `json:"caseId" format:"uuid"`
	PatientID  string             `json:"patientId" format:"uuid"`
	Kind       vocab.DocumentKind `json:"kind"`
	FileType   vocab.FileType     `json:"fileType"`
	Size       int64              `json:"size" minimum:"1" doc:"bytes of the original file"`
	SHA256     string             `json:"sha256" pattern:"^[0-9a-f]{64}$" doc:"of the original file"`
	Timestamp  time.Time          `json:"timestamp"`
}

var (
	DocumentUploadedV1 = bus.Contract[DocumentChanged]{Type: "document.uploaded", Version: 1, Producer: MedicalRecords,
		Summary: "A record was added to a case: checked, hashed and stored encrypted."}
	DocumentDeletedV1 = bus.Contract[DocumentChanged]{Type: "document.deleted", Version: 1, Producer: MedicalRecords,
		Summary: "The patient deleted a record from a case still in draft."}
)
