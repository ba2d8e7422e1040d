// Package store keeps search's index: a row per case (cases) with the
// text fetched from case-management (case_texts), the patients' consents
// to share (consents) and the ids of what was erased (erased_ids). The
// writes are one set of queries for SQLite and PostgreSQL; the full-text
// queries, where the engines differ, are in search.go alone.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/platform/search/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// Store is search's store.
type Store struct {
	db *sqldb.DB

	mu   sync.Mutex
	trgm string // the schema of pg_trgm on PostgreSQL, once looked up
}

// New returns the store over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// utc truncates t to what both engines keep: microseconds, UTC.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullTime is t for a nullable column: NULL for the zero time.
func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: utc(t), Valid: true}
}

// Lock holds the lock of case or patient id within tx: every write of a
// case takes its case's lock, then its patient's, so that a rebuild and
// the live consumer, or a text arriving and an erasure, never interleave
// on one case.
func (s *Store) Lock(ctx context.Context, tx *sql.Tx, id string) error {
	return s.db.LockKey(ctx, tx, "search/"+id)
}

// Erased reports whether any of ids (cases, patients) was erased.
func (s *Store) Erased(ctx context.Context, tx *sql.Tx, ids ...string) (bool, error) {
	for _, id := range ids {
		if id == "" {
			continue
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM erased_ids WHERE id = $1`, id).Scan(&n); err != nil {
			return false, fmt.Errorf("read erased ids: %w", err)
		}
		if n > 0 {
			return true, nil
		}
	}
	return false, nil
}

const caseColumns = `case_id, patient_id, case_number, specialty, urgency, language, age_band, pooled_at,
	status, status_at, assignee_id, assignment_id, assignment_at, shared, created_at, updated_at`

// scanner is a row or rows.
type scanner interface{ Scan(dest ...any) error }

// scanCase reads caseColumns, then extra.
func scanCase(r scanner, extra ...any) (domain.Case, error) {
	var c domain.Case
	var status string
	var pooled, statusAt, assigned sql.NullTime
	dest := append([]any{&c.ID, &c.PatientID, &c.Number, &c.Specialty, &c.Urgency, &c.Language, &c.AgeBand, &pooled,
		&status, &statusAt, &c.AssigneeID, &c.AssignmentID, &assigned, &c.Shared, &c.CreatedAt, &c.UpdatedAt}, extra...)
	if err := r.Scan(dest...); err != nil {
		return domain.Case{}, err
	}
	c.Status = vocab.CaseStatus(status)
	c.PooledAt, c.StatusAt, c.AssignmentAt = pooled.Time.UTC(), statusAt.Time.UTC(), assigned.Time.UTC()
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// Case reads case id within tx; found is false when it is not indexed.
func (s *Store) Case(ctx context.Context, tx *sql.Tx, id string) (c domain.Case, found bool, err error) {
	c, err = scanCase(tx.QueryRowContext(ctx, `SELECT `+caseColumns+` FROM cases WHERE case_id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Case{ID: id}, false, nil
	}
	if err != nil {
		return domain.Case{}, false, fmt.Errorf("read case: %w", err)
	}
	return c, true, nil
}

// Save writes c's row (the caller holds its locks). Shared comes from the
// patient's consent, and the text from case_texts when it was fetched:
// c's own values of them are ignored.
func (s *Store) Save(ctx context.Context, tx *sql.Tx, c domain.Case) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO cases (`+caseColumns+`, words, title, question)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
			COALESCE((SELECT granted FROM consents WHERE patient_id = $2), FALSE), $14, $15, $16,
			(SELECT title FROM case_texts WHERE case_id = $1), (SELECT question FROM case_texts WHERE case_id = $1))
		ON CONFLICT (case_id) DO UPDATE SET patient_id = excluded.patient_id, case_number = excluded.case_number,
			specialty = excluded.specialty, urgency = excluded.urgency, language = excluded.language,
			age_band = excluded.age_band, pooled_at = excluded.pooled_at, status = excluded.status,
			status_at = excluded.status_at, assignee_id = excluded.assignee_id, assignment_id = excluded.assignment_id,
			assignment_at = excluded.assignment_at, shared = excluded.shared, created_at = excluded.created_at,
			updated_at = excluded.updated_at, words = excluded.words, title = excluded.title, question = excluded.question`,
		c.ID, c.PatientID, c.Number, c.Specialty, c.Urgency, c.Language, c.AgeBand, nullTime(c.PooledAt),
		string(c.Status), nullTime(c.StatusAt), c.AssigneeID, c.AssignmentID, nullTime(c.AssignmentAt),
		utc(c.CreatedAt), utc(c.UpdatedAt), c.Words())
	if err != nil {
		return fmt.Errorf("save case: %w", err)
	}
	return nil
}

// SetConsent records patient's consent to share unless a later state of
// it is stored, and has their cases follow it. It reports whether it
// changed anything.
func (s *Store) SetConsent(ctx context.Context, tx *sql.Tx, patient string, next domain.Consent) (bool, error) {
	var cur domain.Consent
	err := tx.QueryRowContext(ctx, `SELECT granted, revision, at FROM consents WHERE patient_id = $1`, patient).
		Scan(&cur.Granted, &cur.Revision, &cur.At)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return false, fmt.Errorf("read consent: %w", err)
	case !cur.Before(next):
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO consents (patient_id, granted, revision, at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (patient_id) DO UPDATE SET granted = excluded.granted, revision = excluded.revision, at = excluded.at`,
		patient, next.Granted, next.Revision, utc(next.At)); err != nil {
		return false, fmt.Errorf("save consent: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE cases SET shared = $2 WHERE patient_id = $1 AND shared <> $2`,
		patient, next.Granted); err != nil {
		return false, fmt.Errorf("share cases: %w", err)
	}
	return true, nil
}

// remember records ids as erased at at.
func remember(ctx context.Context, tx *sql.Tx, at time.Time, ids ...string) error {
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `INSERT INTO erased_ids (id, erased_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
			id, utc(at)); err != nil {
			return fmt.Errorf("record erasure: %w", err)
		}
	}
	return nil
}

// EraseCase removes case id and its text, and remembers it as erased.
func (s *Store) EraseCase(ctx context.Context, tx *sql.Tx, id string, at time.Time) error {
	for _, q := range []string{`DELETE FROM cases WHERE case_id = $1`, `DELETE FROM case_texts WHERE case_id = $1`} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("erase case: %w", err)
		}
	}
	return remember(ctx, tx, at, id)
}

// ErasePatient removes patient's cases, their texts and the patient's
// consent, remembers all of them as erased, and returns the cases' ids.
func (s *Store) ErasePatient(ctx context.Context, tx *sql.Tx, patient string, at time.Time) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT case_id FROM cases WHERE patient_id = $1 ORDER BY case_id`, patient)
	if err != nil {
		return nil, fmt.Errorf("erase patient: %w", err)
	}
	ids, err := collect[string](rows)
	if err != nil {
		return nil, fmt.Errorf("erase patient: %w", err)
	}
	for _, id := range ids {
		if err := s.EraseCase(ctx, tx, id, at); err != nil {
			return nil, err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM consents WHERE patient_id = $1`, patient); err != nil {
		return nil, fmt.Errorf("erase patient: %w", err)
	}
	return ids, remember(ctx, tx, at, patient)
}

// collect reads a single column of rows and closes them.
func collect[T any](rows *sql.Rows) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Untexted lists up to limit indexed cases whose text was not fetched
// yet, oldest first.
func (s *Store) Untexted(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.case_id FROM cases c
		WHERE NOT EXISTS (SELECT 1 FROM case_texts t WHERE t.case_id = c.case_id)
		ORDER BY c.created_at, c.case_id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list cases without text: %w", err)
	}
	ids, err := collect[string](rows)
	if err != nil {
		return nil, fmt.Errorf("list cases without text: %w", err)
	}
	return ids, nil
}

// SetText stores the title and question of case id, which patient owns,
// and indexes them, unless the case is no longer indexed (erased
// meanwhile, or a rebuild has not brought it back yet). It reports
// whether it stored them.
func (s *Store) SetText(ctx context.Context, id, patient, title, question string, at time.Time) (bool, error) {
	stored := false
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.Lock(ctx, tx, id); err != nil {
			return err
		}
		if patient != "" {
			if err := s.Lock(ctx, tx, patient); err != nil {
				return err
			}
		}
		// An erasure deleted the row under these locks; a rebuild
		// brings it back if its events are in the journal.
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM cases WHERE case_id = $1`, id).Scan(&n); err != nil || n == 0 {
			return err
		}
		title, question = domain.Clean(title), domain.Clean(question)
		if _, err := tx.ExecContext(ctx, `INSERT INTO case_texts (case_id, title, question, fetched_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (case_id) DO UPDATE SET title = excluded.title, question = excluded.question, fetched_at = excluded.fetched_at`,
			id, title, question, utc(at)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE cases SET title = $2, question = $3 WHERE case_id = $1`, id, title, question); err != nil {
			return err
		}
		stored = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store text: %w", err)
	}
	return stored, nil
}

// Reset empties the index for a rebuild: the cases and the consents,
// which the journal holds the events of. The fetched texts stay, and the
// erasures, whose events the journal no longer holds.
func (s *Store) Reset(ctx context.Context) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM cases`, `DELETE FROM consents`} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("reset index: %w", err)
			}
		}
		return nil
	})
}

// DropOrphanTexts deletes the texts of cases no longer indexed, which a
// rebuild leaves when the events of a case are gone from the journal.
func (s *Store) DropOrphanTexts(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM case_texts WHERE NOT EXISTS
		(SELECT 1 FROM cases c WHERE c.case_id = case_texts.case_id)`)
	if err != nil {
		return 0, fmt.Errorf("drop orphan texts: %w", err)
	}
	return res.RowsAffected()
}
