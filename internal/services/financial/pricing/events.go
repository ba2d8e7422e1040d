package pricing

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
)

// subscriptions are the events pricing consumes: the erasure of a case
// and of a patient (GDPR Art. 17). It publishes none; its audit entries
// go through its outbox. Each handler runs in the inbox's transaction,
// which commits with it and is retried from the start until it succeeds.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.CaseErasedV1, (*Service).onCaseErased),
	outbox.Handle(events.PatientErasedV1, (*Service).onPatientErased),
}

// onCaseErased deletes the case's quotes, and forgets the Idempotency-Key
// records whose answers showed them.
func (s *Service) onCaseErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseErased) error {
	if _, err := uuid.Parse(p.CaseID); err != nil {
		// It would never heal on retry; the dead letter shows it to an admin.
		return fmt.Errorf("%s %s: case id is not a UUID", e.Type, e.ID)
	}
	n, err := s.store.EraseCase(ctx, tx, p.CaseID)
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	if err := s.ForgetRequests(ctx, tx, p.CaseID); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	s.Log.InfoContext(ctx, "case's quotes erased", "caseId", p.CaseID, "quotes", n)
	return nil
}

// onPatientErased removes everything pricing holds of the patient: their
// quotes and the records of their uses of discount codes
// (store.ErasePatient), and the Idempotency-Key records of their
// requests. A code's total count of uses (discount_codes.uses) is a
// number that names nobody and is kept, so a code limited to N uses stays
// limited to N after its users are erased; only the per-patient count
// goes, with the patient it counted for.
func (s *Service) onPatientErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.PatientErased) error {
	if _, err := uuid.Parse(p.PatientID); err != nil {
		return fmt.Errorf("%s %s: patient id is not a UUID", e.Type, e.ID)
	}
	n, err := s.store.ErasePatient(ctx, tx, p.PatientID)
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	// Only patients ask for quotes, so every keyed request here was a
	// patient's, and its record names them.
	if err := s.ForgetRequests(ctx, tx, p.PatientID); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	s.Log.InfoContext(ctx, "patient's quotes erased", "patientId", p.PatientID, "quotes", n)
	return nil
}
