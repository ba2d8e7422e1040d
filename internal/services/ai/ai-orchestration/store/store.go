// Package store keeps ai-orchestration's processings — where each run of
// the AI over a case or a document stands, and its result — with one set
// of queries for SQLite and PostgreSQL, beside the jobs (kit/jobs) that
// run them.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/jobs"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/ai/ai-orchestration/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the processings and the jobs' tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := db.Migrate(ctx, migrations, "migrations", "goose_db_version"); err != nil {
		return err
	}
	return jobs.Migrate(ctx, db)
}

// Store is the processings.
type Store struct{ db *sqldb.DB }

// New returns the store over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// DB is the store's database, for the transactions that change a
// processing, publish its events and enqueue its jobs together.
func (s *Store) DB() *sqldb.DB { return s.db }

const columns = `id, kind, case_id, document_id, patient_id, specialty, case_number, status, attempts, due_at,
	reason, created_at, updated_at, completed_at`

// Insert adds p within tx; inserted is false when the case already has a
// processing (a redelivered case.submitted), which changes nothing.
func (s *Store) Insert(ctx context.Context, tx *sql.Tx, p domain.Processing) (inserted bool, err error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO processings (`+columns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING`,
		p.ID, p.Kind, p.CaseID, p.DocumentID, p.PatientID, p.Specialty, p.CaseNumber, p.Status, p.Attempts, p.Due.UTC(), p.Reason,
		p.CreatedAt.UTC(), p.UpdatedAt.UTC(), nullTime(p.CompletedAt))
	if err != nil {
		return false, fmt.Errorf("insert processing %s: %w", p.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("insert processing %s: %w", p.ID, err)
	}
	return n == 1, nil
}

// Lock reads processing id within tx, locking its row until tx ends (on
// SQLite the immediate transaction holds the whole database already).
func (s *Store) Lock(ctx context.Context, tx *sql.Tx, id string) (domain.Processing, error) {
	p, err := scan(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM processings WHERE id = $1`+s.forUpdate(), id))
	if err != nil {
		return p, fmt.Errorf("processing %s: %w", id, err)
	}
	return p, nil
}

// LockCase reads and locks, within tx, the processing of case caseID.
func (s *Store) LockCase(ctx context.Context, tx *sql.Tx, caseID string) (domain.Processing, error) {
	p, err := scan(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM processings WHERE case_id = $1 AND kind = 'CASE'`+
		s.forUpdate(), caseID))
	if err != nil {
		return p, fmt.Errorf("processing of case %s: %w", caseID, err)
	}
	return p, nil
}

func (s *Store) forUpdate() string {
	if s.db.Engine == sqldb.Postgres {
		return ` FOR UPDATE`
	}
	return ""
}

// Get reads processing id; a missing one is a NotFound fault.
func (s *Store) Get(ctx context.Context, id string) (domain.Processing, error) {
	p, err := scan(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM processings WHERE id = $1`, id))
	if err != nil {
		return p, fmt.Errorf("processing %s: %w", id, err)
	}
	return p, nil
}

// OfCase reads the processing of case id; a case without one is a
// NotFound fault.
func (s *Store) OfCase(ctx context.Context, caseID string) (domain.Processing, error) {
	p, err := scan(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM processings WHERE case_id = $1 AND kind = 'CASE'`, caseID))
	if err != nil {
		return p, fmt.Errorf("processing of case %s: %w", caseID, err)
	}
	return p, nil
}

// Update writes p's state within tx, and its result when result is not
// nil.
func (s *Store) Update(ctx context.Context, tx *sql.Tx, p domain.Processing, result []byte) error {
	q := `UPDATE processings SET status = $2, attempts = $3, due_at = $4, reason = $5, updated_at = $6, completed_at = $7`
	args := []any{p.ID, p.Status, p.Attempts, p.Due.UTC(), p.Reason, p.UpdatedAt.UTC(), nullTime(p.CompletedAt)}
	if result != nil {
		q += `, result = $8`
		args = append(args, string(result))
	}
	if _, err := tx.ExecContext(ctx, q+` WHERE id = $1`, args...); err != nil {
		return fmt.Errorf("update processing %s: %w", p.ID, err)
	}
	return nil
}

// Result reads the result of processing id: nil until it has one.
func (s *Store) Result(ctx context.Context, id string) ([]byte, error) {
	var r sql.NullString
	if err := s.db.QueryRowContext(ctx, `SELECT result FROM processings WHERE id = $1`, id).Scan(&r); err != nil {
		return nil, fmt.Errorf("result of processing %s: %w", id, notFound(err))
	}
	if !r.Valid {
		return nil, nil
	}
	return []byte(r.String), nil
}

// Open lists the processings of patient that are not final, within tx,
// locked (PostgreSQL) against a concurrent attempt.
func (s *Store) Open(ctx context.Context, tx *sql.Tx, patientID string) ([]domain.Processing, error) {
	return s.list(ctx, tx, `SELECT `+columns+` FROM processings
		WHERE patient_id = $1 AND status IN ('QUEUED', 'RUNNING', 'ORPHANED') ORDER BY id`+s.forUpdate(), patientID)
}

// Stuck lists up to limit processings not final whose due time passed
// before cutoff: their job was lost, or their process died.
func (s *Store) Stuck(ctx context.Context, cutoff time.Time, limit int) ([]domain.Processing, error) {
	return s.list(ctx, s.db, `SELECT `+columns+` FROM processings WHERE status IN ('QUEUED', 'RUNNING') AND due_at < $1
		ORDER BY due_at LIMIT $2`, cutoff.UTC(), limit)
}

// Orphaned lists up to limit case processings in triage, the longest
// waiting first.
func (s *Store) Orphaned(ctx context.Context, limit int) ([]domain.Processing, error) {
	return s.list(ctx, s.db, `SELECT `+columns+` FROM processings WHERE status = 'ORPHANED' ORDER BY updated_at, id LIMIT $1`, limit)
}

// ForgetCase deletes every processing of case id and its results, within
// tx. Their jobs, if any remain, hold only the processings' ids and end
// finding nothing.
func (s *Store) ForgetCase(ctx context.Context, tx *sql.Tx, caseID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM processings WHERE case_id = $1`, caseID); err != nil {
		return fmt.Errorf("forget processings of case %s: %w", caseID, err)
	}
	return nil
}

// ForgetDocument deletes the document processings of document id and
// their results, within tx.
func (s *Store) ForgetDocument(ctx context.Context, tx *sql.Tx, documentID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM processings WHERE document_id = $1 AND kind = 'DOCUMENT'`, documentID); err != nil {
		return fmt.Errorf("forget processings of document %s: %w", documentID, err)
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) list(ctx context.Context, q querier, query string, args ...any) ([]domain.Processing, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list processings: %w", err)
	}
	defer rows.Close()
	var out []domain.Processing
	for rows.Next() {
		p, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list processings: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func scan(row interface{ Scan(...any) error }) (domain.Processing, error) {
	var p domain.Processing
	var completed sql.NullTime
	err := row.Scan(&p.ID, &p.Kind, &p.CaseID, &p.DocumentID, &p.PatientID, &p.Specialty, &p.CaseNumber, &p.Status, &p.Attempts,
		&p.Due, &p.Reason, &p.CreatedAt, &p.UpdatedAt, &completed)
	if err != nil {
		return p, notFound(err)
	}
	p.Due, p.CreatedAt, p.UpdatedAt = p.Due.UTC(), p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	if completed.Valid {
		p.CompletedAt = completed.Time.UTC()
	}
	return p, nil
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fault.NotFound("processing")
	}
	return err
}

func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC(), Valid: true}
}
