// Package store keeps document-analysis's results, one per record, with
// one set of queries for SQLite and PostgreSQL (where the result is JSONB).
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the analyses table.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// Analysis is a stored result; Result is its JSON.
type Analysis struct {
	DocumentID, CaseID, PatientID string
	Status, Version               string
	Result                        []byte
	AnalyzedAt                    time.Time
}

// Store keeps the analyses.
type Store struct{ db *sqldb.DB }

// New returns the store over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// Save stores a, replacing an earlier analysis of the same record.
func (s *Store) Save(ctx context.Context, a Analysis) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO analyses (document_id, case_id, patient_id, status, version, result, analyzed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (document_id) DO UPDATE SET case_id = excluded.case_id, patient_id = excluded.patient_id,
			status = excluded.status, version = excluded.version, result = excluded.result, analyzed_at = excluded.analyzed_at`,
		a.DocumentID, a.CaseID, a.PatientID, a.Status, a.Version, string(a.Result), a.AnalyzedAt.UTC())
	if err != nil {
		return fmt.Errorf("save analysis of record %s: %w", a.DocumentID, err)
	}
	return nil
}

// Get reads the analysis of record id: fault.NotFound when there is none.
func (s *Store) Get(ctx context.Context, id string) (Analysis, error) {
	var a Analysis
	var result string
	err := s.db.QueryRowContext(ctx, `SELECT document_id, case_id, patient_id, status, version, result, analyzed_at
		FROM analyses WHERE document_id = $1`, id).Scan(&a.DocumentID, &a.CaseID, &a.PatientID, &a.Status, &a.Version, &result, &a.AnalyzedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Analysis{}, fault.NotFound("analysis")
	}
	if err != nil {
		return Analysis{}, fmt.Errorf("read analysis of record %s: %w", id, err)
	}
	a.Result = []byte(result)
	return a, nil
}

// DeleteDocument forgets the analysis of a deleted record.
func (s *Store) DeleteDocument(ctx context.Context, tx *sql.Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM analyses WHERE document_id = $1`, id); err != nil {
		return fmt.Errorf("delete analysis of record %s: %w", id, err)
	}
	return nil
}

// DeleteCase forgets the analyses of an erased case's records.
func (s *Store) DeleteCase(ctx context.Context, tx *sql.Tx, caseID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM analyses WHERE case_id = $1`, caseID); err != nil {
		return fmt.Errorf("delete analyses of case %s: %w", caseID, err)
	}
	return nil
}
