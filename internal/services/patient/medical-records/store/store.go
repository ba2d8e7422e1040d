// Package store keeps medical-records' documents (what each record is,
// whose, its hash and where its encrypted blob is), the patients' wrapped
// data keys and the ids of the patients erased, with one set of queries
// for SQLite and PostgreSQL (but for PostgreSQL's lock of a patient).
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

// ErrErased means the patient was erased: nothing of theirs is kept again.
var ErrErased = errors.New("the patient was erased")

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
// holds its content, ErrErased when its patient was erased.
func (s *Store) Add(ctx context.Context, tx *sql.Tx, d Document) error {
	if err := s.admit(ctx, tx, d.PatientID); err != nil {
		return err
	}
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
// A patient erased gets none: ErrErased.
func (s *Store) AddKey(ctx context.Context, patientID string, wrapped []byte, at time.Time) ([]byte, error) {
	var kept []byte
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.admit(ctx, tx, patientID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO patient_keys (patient_id, wrapped, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (patient_id) DO NOTHING`, patientID, wrapped, at.UTC().Truncate(time.Microsecond)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT wrapped FROM patient_keys WHERE patient_id = $1`, patientID).Scan(&kept)
	})
	if errors.Is(err, ErrErased) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("keep data key of patient %s: %w", patientID, err)
	}
	return kept, nil
}

// Erase forgets patient patientID within tx: it records them as erased,
// so that no key or document of theirs is added after it, and deletes
// their data key, which leaves every blob of theirs unreadable, and their
// documents, whose ids it returns. A second erasure finds nothing to
// delete.
func (s *Store) Erase(ctx context.Context, tx *sql.Tx, patientID string, at time.Time) ([]string, error) {
	if err := s.db.LockKey(ctx, tx, "patient "+patientID); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO erased_patients (patient_id, erased_at) VALUES ($1, $2)
		ON CONFLICT (patient_id) DO NOTHING`, patientID, at.UTC().Truncate(time.Microsecond)); err != nil {
		return nil, fmt.Errorf("erase patient %s: %w", patientID, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM patient_keys WHERE patient_id = $1`, patientID); err != nil {
		return nil, fmt.Errorf("erase data key of patient %s: %w", patientID, err)
	}
	rows, err := tx.QueryContext(ctx, `DELETE FROM documents WHERE patient_id = $1 RETURNING id`, patientID)
	if err != nil {
		return nil, fmt.Errorf("erase documents of patient %s: %w", patientID, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("erase documents of patient %s: %w", patientID, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("erase documents of patient %s: %w", patientID, err)
	}
	return ids, nil
}

// Erased reports whether patient patientID was erased.
func (s *Store) Erased(ctx context.Context, patientID string) (bool, error) {
	return erased(ctx, s.db, patientID)
}

// rowQuerier is the store's database or a transaction.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func erased(ctx context.Context, q rowQuerier, patientID string) (bool, error) {
	var found bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM erased_patients WHERE patient_id = $1)`, patientID).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("erasure of patient %s: %w", patientID, err)
	}
	return found, nil
}

// admit readies tx to add patient patientID's key or a document of
// theirs: it takes the patient's lock, then refuses with ErrErased a
// patient erased. Erase takes the same lock, so an addition either
// commits before the erasure reads what to delete, and goes with the
// rest, or waits for it and sees the patient erased.
func (s *Store) admit(ctx context.Context, tx *sql.Tx, patientID string) error {
	if err := s.db.LockKey(ctx, tx, "patient "+patientID); err != nil {
		return err
	}
	gone, err := erased(ctx, tx, patientID)
	if err != nil {
		return err
	}
	if gone {
		return ErrErased
	}
	return nil
}
