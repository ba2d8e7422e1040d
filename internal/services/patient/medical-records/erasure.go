package medicalrecords

import (
	"context"
	"database/sql"
	"fmt"
)

// blobPrefix is where every blob of patient lies: their records and the
// de-identified copies made of them.
func blobPrefix(patient string) string { return "patients/" + patient + "/" }

// erase forgets patient (GDPR Art. 17) within tx, the inbox transaction
// of their patient.erased, which commits when erase returns nil and is
// run again from the start when it fails or the process dies first.
//
// In tx, the patient is recorded as erased and their data key and
// documents are deleted (store.Erase), and the Idempotency-Key records
// naming them forgotten. Then, before the commit, their unfinished
// uploads and their blobs are deleted: files cannot be rolled back, so
// they go last, and nothing is left for after the commit, where a failure
// would go unnoticed with nothing left to retry. If deleting files fails,
// the transaction rolls back and the retry finds the key and the rows and
// starts over; the files an attempt deleted stay deleted, the others are
// still under a key that still exists, and deleting what is gone is a
// no-op. When the transaction commits, the key goes, and with it every
// copy of the blobs anywhere (a backup, a replica): crypto-shredding.
//
// store.Erase takes the patient's lock, held until the commit: a record
// that committed before it has its blob deleted here with the rest, one
// finishing later waits and is refused, and so is a data key for the
// patient (store.ErrErased).
func (s *Service) erase(ctx context.Context, tx *sql.Tx, patient string) error {
	docs, err := s.store.Erase(ctx, tx, patient, s.cfg.Now())
	if err != nil {
		return err
	}
	// The patient made every request here that may have carried a key;
	// the records' ids find an answer that named one all the same.
	if err := s.ForgetRequests(ctx, tx, append([]string{patient}, docs...)...); err != nil {
		return fmt.Errorf("erase patient %s: %w", patient, err)
	}
	uploads, err := s.dropUploadsOf(ctx, patient)
	if err != nil {
		return fmt.Errorf("erase patient %s: %w", patient, err)
	}
	if err := s.bucket.DeletePrefix(ctx, blobPrefix(patient)); err != nil {
		return fmt.Errorf("erase patient %s: %w", patient, err)
	}
	s.Log.InfoContext(ctx, "patient erased", "patientId", patient, "documents", len(docs), "uploads", uploads)
	return nil
}
