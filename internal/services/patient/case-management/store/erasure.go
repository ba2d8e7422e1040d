package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// ErrPatientErased refuses a case for a patient who has been erased: one
// opened while the erasure went through, after patient-identity last
// vouched for the patient.
var ErrPatientErased = errors.New("the patient has been erased")

// Erase removes every case of a patient and its timeline within tx, and
// returns their ids, oldest first. What stays are tombstones, the bare ids
// of the patient and of each case: Create refuses the patient from then
// on, and Erased tells events about the cases from events about cases
// that never were.
func (s *Store) Erase(ctx context.Context, tx *sql.Tx, patientID string, at time.Time) ([]string, error) {
	fail := func(err error) ([]string, error) {
		return nil, fmt.Errorf("erase cases of patient %s: %w", patientID, err)
	}
	if s.db.Engine == sqldb.Postgres {
		// Every write to cases waits until the erasure commits, and every
		// one in progress is waited for, so that none escapes it: the
		// delete below would not see a case of a transaction still open,
		// and a timeline entry added after the timeline's delete would
		// make the case's fail. SQLite's immediate transaction already
		// holds the write lock.
		if _, err := tx.ExecContext(ctx, `LOCK TABLE cases IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return fail(err)
		}
	}
	at = at.UTC().Truncate(time.Microsecond)
	// A patient may be erased twice (a repeated request): the first time
	// stays.
	if _, err := tx.ExecContext(ctx, `INSERT INTO erased_patients (patient_id, erased_at) VALUES ($1, $2)
		ON CONFLICT (patient_id) DO NOTHING`, patientID, at); err != nil {
		return fail(err)
	}
	ids, err := caseIDs(ctx, tx, patientID)
	if err != nil {
		return fail(err)
	}
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `INSERT INTO erased_cases (case_id, erased_at) VALUES ($1, $2)`, id, at); err != nil {
			return fail(err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM case_timeline WHERE case_id IN (SELECT id FROM cases WHERE customer_id = $1)`,
		patientID); err != nil {
		return fail(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM cases WHERE customer_id = $1`, patientID); err != nil {
		return fail(err)
	}
	return ids, nil
}

// Erased reports, within tx, whether case id was erased.
func (s *Store) Erased(ctx context.Context, tx *sql.Tx, id string) (bool, error) {
	if _, err := uuid.Parse(id); err != nil {
		return false, nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM erased_cases WHERE case_id = $1`, id).Scan(&n); err != nil {
		return false, fmt.Errorf("tombstone of case %s: %w", id, err)
	}
	return n > 0, nil
}

// notErased refuses, within tx, a patient who has been erased.
func notErased(ctx context.Context, tx *sql.Tx, patientID string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM erased_patients WHERE patient_id = $1`, patientID).Scan(&n); err != nil {
		return fmt.Errorf("tombstone of patient %s: %w", patientID, err)
	}
	if n > 0 {
		return ErrPatientErased
	}
	return nil
}
