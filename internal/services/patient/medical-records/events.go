package medicalrecords

import (
	"time"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/services/patient/medical-records/store"
)

// Published events are keyed by the case, so a case's records are in
// order, and carry ids, the kind, the sniffed type, the size and the
// hash: never the file name or the content.

// documentEvent is document.uploaded, or document.deleted when deleted,
// which happened at.
func documentEvent(d store.Document, deleted bool, at time.Time) (bus.Event, error) {
	c := events.DocumentUploadedV1
	if deleted {
		c = events.DocumentDeletedV1
	}
	return c.New(Name, d.CaseID, events.DocumentChanged{DocumentID: d.ID, CaseID: d.CaseID, PatientID: d.PatientID,
		Kind: d.Kind, FileType: d.FileType, Size: d.Size, SHA256: d.SHA256, Timestamp: at})
}
