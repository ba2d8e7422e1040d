package patientconsent

import (
	"context"
	"database/sql"
	"fmt"
)

// erase forgets patient (GDPR Art. 17) within tx, the inbox transaction
// of their patient.erased, which commits when erase returns nil and is
// run again from the start when it fails or the process dies first.
//
// In tx, the patient is recorded as erased (their id only) and their
// whole history of grants and withdrawals, with the client addresses it
// kept, is deleted (store.Erase), and the Idempotency-Key records of
// their requests forgotten. No consent.withdrawn is published: the
// consents are not withdrawn but forgotten, and every service that knew
// them erases the patient on the same patient.erased. A change of theirs
// that comes later is refused (store.ErrErased).
func (s *Service) erase(ctx context.Context, tx *sql.Tx, patient string) error {
	n, err := s.store.Erase(ctx, tx, patient)
	if err != nil {
		return err
	}
	// Only the patient changes their consents, so every request here
	// that may have carried a key was theirs, and its record names them.
	if err := s.ForgetRequests(ctx, tx, patient); err != nil {
		return fmt.Errorf("erase patient %s: %w", patient, err)
	}
	s.Log.InfoContext(ctx, "patient's consents erased", "patientId", patient, "changes", n)
	return nil
}
