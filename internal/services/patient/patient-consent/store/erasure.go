package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrErased means the patient was erased: no consent of theirs is
// recorded again.
var ErrErased = errors.New("the patient was erased")

// Erase forgets patient patientID within tx (GDPR Art. 17): it records
// them as erased, their id only, so that no change of theirs is appended
// after it, and deletes their whole history, the only rows that hold
// their consents. It returns how many changes it deleted; a second
// erasure finds none.
//
// It takes the patient's lock (see Admit) until tx ends: a change that
// committed before it is deleted with the rest, one that comes later
// waits for the commit and is refused.
func (s *Store) Erase(ctx context.Context, tx *sql.Tx, patientID string) (int64, error) {
	if err := s.db.LockKey(ctx, tx, "patient "+patientID); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO erased_patients (patient_id) VALUES ($1)
		ON CONFLICT (patient_id) DO NOTHING`, patientID); err != nil {
		return 0, fmt.Errorf("erase patient %s: %w", patientID, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM consent_changes WHERE patient_id = $1`, patientID)
	if err != nil {
		return 0, fmt.Errorf("erase consents of patient %s: %w", patientID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("erase consents of patient %s: %w", patientID, err)
	}
	return n, nil
}

// Admit readies tx to change patient patientID's consents: it takes the
// patient's lock, then refuses with ErrErased a patient erased. Erase
// takes the same lock, so a change either commits before the erasure
// deletes the history, and goes with it, or waits for it and sees the
// patient erased. Call it first in tx, before reading the history.
func (s *Store) Admit(ctx context.Context, tx *sql.Tx, patientID string) error {
	if err := s.db.LockKey(ctx, tx, "patient "+patientID); err != nil {
		return err
	}
	var gone bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM erased_patients WHERE patient_id = $1)`,
		patientID).Scan(&gone); err != nil {
		return fmt.Errorf("erasure of patient %s: %w", patientID, err)
	}
	if gone {
		return ErrErased
	}
	return nil
}
