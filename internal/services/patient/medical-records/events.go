package medicalrecords

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
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

// subscriptions are the events medical-records consumes: a patient's
// erasure. The handler runs in the inbox's transaction, which commits
// with it and is retried from the start until it succeeds.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.PatientErasedV1, (*Service).onPatientErased),
}

func (s *Service) onPatientErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.PatientErased) error {
	if _, err := uuid.Parse(p.PatientID); err != nil {
		// It would never heal on retry; the dead letter shows it to an admin.
		return fmt.Errorf("%s %s: patient id is not a UUID", e.Type, e.ID)
	}
	return s.erase(ctx, tx, p.PatientID)
}
