// Package store keeps patient-consent's history of grants and withdrawals,
// append-only, and the ids of the patients erased, with one set of queries
// for SQLite and PostgreSQL (but for PostgreSQL's lock of a patient). A
// row is never updated, and deleted only with every other of its patient
// when they are erased (Erase): a consent's state is folded from its rows
// (domain.Fold), and a change is appended at the next revision, which the
// key lets only one writer take.
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
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the patient-consent tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// ErrStale means another change of the same consent took the revision
// first: read the history again and decide anew.
var ErrStale = errors.New("consent changed concurrently")

// Change is one stored change of a patient's consent, with where the
// request that made it came from.
type Change struct {
	PatientID string
	domain.Change
	ClientAddr string
}

// Store is the patient-consent store.
type Store struct {
	db *sqldb.DB
}

// New returns the store over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// at is how every time is stored: UTC, to the microsecond both engines keep.
func at(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// History is every change of patient id's consents, oldest first within
// each purpose, read within tx when tx is not nil. A malformed id has none.
func (s *Store) History(ctx context.Context, tx *sql.Tx, patientID string) ([]Change, error) {
	if _, err := uuid.Parse(patientID); err != nil {
		return nil, nil
	}
	var q queryer = s.db
	if tx != nil {
		q = tx
	}
	rows, err := q.QueryContext(ctx, `SELECT patient_id, purpose, revision, kind, version, changed_at, client_addr
		FROM consent_changes WHERE patient_id = $1 ORDER BY purpose, revision`, patientID)
	if err != nil {
		return nil, fmt.Errorf("consent history of %s: %w", patientID, err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var purpose, kind string
		if err := rows.Scan(&c.PatientID, &purpose, &c.Revision, &kind, &c.Version, &c.At, &c.ClientAddr); err != nil {
			return nil, fmt.Errorf("consent history of %s: %w", patientID, err)
		}
		c.Purpose, c.Kind, c.At = vocab.ConsentPurpose(purpose), domain.Kind(kind), c.At.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("consent history of %s: %w", patientID, err)
	}
	return out, nil
}

// Append records c within tx, or returns ErrStale when its revision is
// taken: another change of the consent came first.
func (s *Store) Append(ctx context.Context, tx *sql.Tx, c Change) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO consent_changes (patient_id, purpose, revision, kind, version, changed_at, client_addr)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.PatientID, string(c.Purpose), c.Revision, string(c.Kind), c.Version, at(c.At), c.ClientAddr)
	if sqldb.IsUniqueViolation(err) {
		return ErrStale
	}
	if err != nil {
		return fmt.Errorf("append consent change of %s: %w", c.PatientID, err)
	}
	return nil
}
