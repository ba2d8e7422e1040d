// Package store keeps medical-records' documents (what each record is,
// whose, its hash and where its encrypted blob is) and the patients'
// wrapped data keys, with one set of queries for SQLite and PostgreSQL.
// The contents themselves are blobs (kit/blob), never rows.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the medical-records tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// ErrDuplicate means the case already holds a document of the same
// content.
var ErrDuplicate = errors.New("the case already holds this content")

// Document is one record of a case.
type Document struct {
	ID, CaseID, PatientID string
	Kind                  vocab.DocumentKind
	FileType              vocab.FileType
	MediaType             string
	FileName              string // as the patient named it: personal data
	Size                  int64
	SHA256                string
	BlobKey               string
	CreatedAt             time.Time
}

// Store is the medical-records store.
type Store struct {
	db *sqldb.DB
}

// New returns the store over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// Querier is the store itself or a transaction.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const columns = `id, case_id, patient_id, kind, file_type, media_type, file_name, size, sha256, blob_key, created_at`

// Add records d within tx, or returns ErrDuplicate when its case already
// holds its content.
func (s *Store) Add(ctx context.Context, tx *sql.Tx, d Document) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO documents (`+columns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		d.ID, d.CaseID, d.PatientID, string(d.Kind), string(d.FileType), d.MediaType, d.FileName, d.Size, d.SHA256,
		d.BlobKey, d.CreatedAt.UTC().Truncate(time.Microsecond))
	if sqldb.IsUniqueViolation(err) {
		return ErrDuplicate
	}
	if err != nil {
		return fmt.Errorf("add document %s of case %s: %w", d.ID, d.CaseID, err)
	}
	return nil
}

// Get reads document id; a missing one (or an id that is not one) is a
// NotFound fault.
func (s *Store) Get(ctx context.Context, id string) (Document, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Document{}, fault.NotFound("record")
	}
	docs, err := s.query(ctx, s.db, `WHERE id = $1`, id)
	if err != nil {
		return Document{}, fmt.Errorf("read document %s: %w", id, err)
	}
	if len(docs) == 0 {
		return Document{}, fault.NotFound("record")
	}
	return docs[0], nil
}

// BySHA256 finds the document of case caseID with content sum, found
// false when it holds none.
func (s *Store) BySHA256(ctx context.Context, caseID, sum string) (d Document, found bool, err error) {
	docs, err := s.query(ctx, s.db, `WHERE case_id = $1 AND sha256 = $2`, caseID, sum)
	if err != nil || len(docs) == 0 {
		return Document{}, false, err
	}
	return docs[0], true, nil
}

// OfCase lists the documents of case caseID, oldest first.
func (s *Store) OfCase(ctx context.Context, caseID string) ([]Document, error) {
	if _, err := uuid.Parse(caseID); err != nil {
		return nil, nil
	}
	docs, err := s.query(ctx, s.db, `WHERE case_id = $1 ORDER BY created_at, id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("documents of case %s: %w", caseID, err)
	}
	return docs, nil
}

// OfPatient lists every document of patient patientID, oldest first.
func (s *Store) OfPatient(ctx context.Context, patientID string) ([]Document, error) {
	if _, err := uuid.Parse(patientID); err != nil {
		return nil, nil
	}
	docs, err := s.query(ctx, s.db, `WHERE patient_id = $1 ORDER BY created_at, id`, patientID)
	if err != nil {
		return nil, fmt.Errorf("documents of patient %s: %w", patientID, err)
	}
	return docs, nil
}

// Delete removes document id within tx; found false when it was gone.
func (s *Store) Delete(ctx context.Context, tx *sql.Tx, id string) (found bool, err error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM documents WHERE id = $1`, id)
	if err != nil {
		return false, fmt.Errorf("delete document %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("delete document %s: %w", id, err)
	}
	return n > 0, nil
}

func (s *Store) query(ctx context.Context, q Querier, where string, args ...any) ([]Document, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+columns+` FROM documents `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Document
	for rows.Next() {
		var d Document
		var kind, fileType string
		if err := rows.Scan(&d.ID, &d.CaseID, &d.PatientID, &kind, &fileType, &d.MediaType, &d.FileName, &d.Size,
			&d.SHA256, &d.BlobKey, &d.CreatedAt); err != nil {
			return nil, err
		}
		d.Kind, d.FileType, d.CreatedAt = vocab.DocumentKind(kind), vocab.FileType(fileType), d.CreatedAt.UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}

// Key is patient patientID's wrapped data key, found false when the
// patient has none yet.
func (s *Store) Key(ctx context.Context, patientID string) (wrapped []byte, found bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT wrapped FROM patient_keys WHERE patient_id = $1`, patientID).Scan(&wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("data key of patient %s: %w", patientID, err)
	}
	return wrapped, true, nil
}

// AddKey keeps wrapped as patient patientID's data key unless the patient
// has one already (a concurrent first upload): the key kept is returned.
func (s *Store) AddKey(ctx context.Context, patientID string, wrapped []byte, at time.Time) ([]byte, error) {
	_, err := s.db.ExecContext(ctx, `INSERT INTO patient_keys (patient_id, wrapped, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (patient_id) DO NOTHING`, patientID, wrapped, at.UTC().Truncate(time.Microsecond))
	if err != nil {
		return nil, fmt.Errorf("keep data key of patient %s: %w", patientID, err)
	}
	kept, found, err := s.Key(ctx, patientID)
	if err == nil && !found {
		err = fmt.Errorf("data key of patient %s vanished as it was kept", patientID)
	}
	return kept, err
}
