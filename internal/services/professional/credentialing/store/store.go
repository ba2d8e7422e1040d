// Package store keeps credentialing's projection of professionals (with
// the standing and level it owns) and their credentials, with one set of
// queries for SQLite and PostgreSQL. Every change of status or level is a
// conditional update whose affected-row count tells the caller whether it
// won, so concurrent writers (admins, several replicas of the expiry
// check) never publish one change twice.
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/professional/credentialing/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the credentialing tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// ErrStale means the row changed after it was read: the conditional update
// was not applied, another writer came first.
var ErrStale = errors.New("changed concurrently")

// Professional is a professional as credentialing knows them.
type Professional struct {
	ID           string
	Specialties  []vocab.Specialty
	Level        vocab.Level
	Status       domain.StandingStatus
	RegisteredAt time.Time
	UpdatedAt    time.Time
}

// Credential is a stored licence.
type Credential struct {
	ID               string
	ProfessionalID   string
	LicenseNumber    string
	IssuingAuthority string
	Country          string
	Specialty        vocab.Specialty
	ExpiresAt        time.Time
	Status           domain.CredentialStatus
	Reason           string // a rejection's reason, else ""
	SubmittedAt      time.Time
	ReviewedAt       time.Time // zero until reviewed
	ReviewedBy       string    // the reviewing admin, "" until reviewed
}

// Store is the credentialing store.
type Store struct {
	db *sqldb.DB
}

// New returns the store over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// at is how every time is stored: UTC, to the microsecond both engines keep.
func at(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type scanner interface{ Scan(dest ...any) error }

// Register adds p, PENDING at its starting level, unless it is already
// known; it reports whether p was added.
func (s *Store) Register(ctx context.Context, tx *sql.Tx, p Professional) (bool, error) {
	specs, err := json.Marshal(p.Specialties)
	if err != nil {
		return false, fmt.Errorf("register professional %s: %w", p.ID, err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO professionals (id, specialties, level, status, registered_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (id) DO NOTHING`,
		p.ID, string(specs), domain.StartingLevel, domain.StandingPending, at(p.RegisteredAt))
	if err != nil {
		return false, fmt.Errorf("register professional %s: %w", p.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("register professional %s: %w", p.ID, err)
	}
	return n == 1, nil
}

const professionalColumns = `id, specialties, level, status, registered_at, updated_at`

func scanProfessional(r scanner) (Professional, error) {
	var p Professional
	var specs string
	if err := r.Scan(&p.ID, &specs, &p.Level, &p.Status, &p.RegisteredAt, &p.UpdatedAt); err != nil {
		return Professional{}, err
	}
	if err := json.Unmarshal([]byte(specs), &p.Specialties); err != nil {
		return Professional{}, fmt.Errorf("specialties: %w", err)
	}
	p.RegisteredAt, p.UpdatedAt = p.RegisteredAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}

// Professional returns the professional with id; a malformed id is simply
// not found.
func (s *Store) Professional(ctx context.Context, id string) (Professional, error) {
	return professional(ctx, s.db, id)
}

func professional(ctx context.Context, q queryer, id string) (Professional, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Professional{}, fault.NotFound("professional")
	}
	p, err := scanProfessional(q.QueryRowContext(ctx, `SELECT `+professionalColumns+` FROM professionals WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Professional{}, fault.NotFound("professional")
	}
	if err != nil {
		return Professional{}, fmt.Errorf("get professional %s: %w", id, err)
	}
	return p, nil
}

// Lock takes professional id's row lock for the rest of tx and returns the
// row as committed. Every change of a professional's standing or level
// runs under it, so a decision read after Lock is not overtaken by
// another transaction (PostgreSQL reads committed data statement by
// statement; SQLite transactions are serialised anyway).
func (s *Store) Lock(ctx context.Context, tx *sql.Tx, id string, now time.Time) (Professional, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Professional{}, fault.NotFound("professional")
	}
	if _, err := tx.ExecContext(ctx, `UPDATE professionals SET updated_at = $1 WHERE id = $2`, at(now), id); err != nil {
		return Professional{}, fmt.Errorf("lock professional %s: %w", id, err)
	}
	return professional(ctx, tx, id)
}

// SetStatus moves professional id's standing from one status to another,
// or returns ErrStale when it is no longer from.
func (s *Store) SetStatus(ctx context.Context, tx *sql.Tx, id string, from, to domain.StandingStatus, now time.Time) error {
	return conditional(tx.ExecContext(ctx, `UPDATE professionals SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4`,
		to, at(now), id, from))
}

// SetLevel changes professional id's level from one to another, or returns
// ErrStale when it is no longer from.
func (s *Store) SetLevel(ctx context.Context, tx *sql.Tx, id string, from, to vocab.Level, now time.Time) error {
	return conditional(tx.ExecContext(ctx, `UPDATE professionals SET level = $1, updated_at = $2 WHERE id = $3 AND level = $4`,
		to, at(now), id, from))
}

// conditional turns the result of a conditional update of one row into
// nil when it applied, ErrStale when its condition no longer held.
func conditional(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return ErrStale
	}
	return nil
}

// AddCredential stores c as PENDING. A licence (country, authority,
// number) already pending or verified is a conflict.
func (s *Store) AddCredential(ctx context.Context, tx *sql.Tx, c Credential) (Credential, error) {
	c.Status, c.Reason, c.ReviewedAt, c.ReviewedBy = domain.Pending, "", time.Time{}, ""
	c.ExpiresAt, c.SubmittedAt = at(c.ExpiresAt), at(c.SubmittedAt)
	_, err := tx.ExecContext(ctx, `INSERT INTO credentials (id, professional_id, license_number, issuing_authority,
		country, specialty, expires_at, status, submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		c.ID, c.ProfessionalID, c.LicenseNumber, c.IssuingAuthority, c.Country, c.Specialty, c.ExpiresAt, c.Status, c.SubmittedAt)
	if sqldb.IsUniqueViolation(err) {
		return Credential{}, fault.Conflict("Licence already submitted", "this licence is already pending or verified")
	}
	if err != nil {
		return Credential{}, fmt.Errorf("add credential %s: %w", c.ID, err)
	}
	return c, nil
}

const credentialColumns = `id, professional_id, license_number, issuing_authority, country, specialty,
	expires_at, status, reason, submitted_at, reviewed_at, reviewed_by`

func scanCredential(r scanner) (Credential, error) {
	var c Credential
	var reason, by sql.NullString
	var reviewed sql.NullTime
	if err := r.Scan(&c.ID, &c.ProfessionalID, &c.LicenseNumber, &c.IssuingAuthority, &c.Country, &c.Specialty,
		&c.ExpiresAt, &c.Status, &reason, &c.SubmittedAt, &reviewed, &by); err != nil {
		return Credential{}, err
	}
	c.Reason, c.ReviewedBy = reason.String, by.String
	c.ExpiresAt, c.SubmittedAt = c.ExpiresAt.UTC(), c.SubmittedAt.UTC()
	if reviewed.Valid {
		c.ReviewedAt = reviewed.Time.UTC()
	}
	return c, nil
}

// Credential returns the credential with id, read within tx when tx is
// not nil; a malformed id is simply not found.
func (s *Store) Credential(ctx context.Context, tx *sql.Tx, id string) (Credential, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Credential{}, fault.NotFound("credential")
	}
	c, err := scanCredential(s.in(tx).QueryRowContext(ctx, `SELECT `+credentialColumns+` FROM credentials WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Credential{}, fault.NotFound("credential")
	}
	if err != nil {
		return Credential{}, fmt.Errorf("get credential %s: %w", id, err)
	}
	return c, nil
}

// Credentials returns every credential of a professional, read within tx
// when tx is not nil, for the standing rule.
func (s *Store) Credentials(ctx context.Context, tx *sql.Tx, professionalID string) ([]Credential, error) {
	return s.query(ctx, s.in(tx), `SELECT `+credentialColumns+` FROM credentials WHERE professional_id = $1`, professionalID)
}

// in is tx, or the store's pool when tx is nil.
func (s *Store) in(tx *sql.Tx) queryer {
	if tx == nil {
		return s.db
	}
	return tx
}

func (s *Store) query(ctx context.Context, q queryer, query string, args ...any) ([]Credential, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	defer rows.Close()
	var out []Credential
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, fmt.Errorf("list credentials: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list credentials: %w", err)
	}
	return out, nil
}

// List returns up to limit credentials of a professional, newest first,
// after the cursor, with the cursor of the next page ("" on the last).
func (s *Store) List(ctx context.Context, professionalID string, after page.Cursor, limit int) ([]Credential, string, error) {
	q := `SELECT ` + credentialColumns + ` FROM credentials WHERE professional_id = $1`
	args := []any{professionalID}
	if after.ID != "" {
		if _, err := uuid.Parse(after.ID); err != nil {
			return nil, "", fault.Invalid(page.Field, "not a cursor returned by this API")
		}
		q += ` AND (submitted_at < $2 OR (submitted_at = $2 AND id < $3))`
		args = append(args, at(after.Time), after.ID)
	}
	q += fmt.Sprintf(` ORDER BY submitted_at DESC, id DESC LIMIT %d`, limit+1)
	out, err := s.query(ctx, s.db, q, args...)
	if err != nil {
		return nil, "", err
	}
	if len(out) <= limit {
		return out, "", nil
	}
	last := out[limit-1]
	return out[:limit], page.Cursor{Time: last.SubmittedAt, ID: last.ID}.Encode(), nil
}

// Review records an admin's decision on the PENDING credential c within
// tx, or returns ErrStale when another review came first.
func (s *Store) Review(ctx context.Context, tx *sql.Tx, c Credential, to domain.CredentialStatus, reason, by string, now time.Time) (Credential, error) {
	now = at(now)
	err := conditional(tx.ExecContext(ctx, `UPDATE credentials SET status = $1, reason = $2, reviewed_at = $3, reviewed_by = $4
		WHERE id = $5 AND status = $6`, to, nullable(reason), now, by, c.ID, domain.Pending))
	if err != nil {
		return Credential{}, fmt.Errorf("review credential %s: %w", c.ID, err)
	}
	c.Status, c.Reason, c.ReviewedAt, c.ReviewedBy = to, reason, now, by
	return c, nil
}

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// Expire marks EXPIRED, within tx, every PENDING or VERIFIED credential
// whose expiry is not after now, and returns the professionals whose
// VERIFIED credentials it expired, sorted. The updates are conditional, so
// of several concurrent callers exactly one expires (and returns) each
// credential.
func (s *Store) Expire(ctx context.Context, tx *sql.Tx, now time.Time) ([]string, error) {
	now = at(now)
	rows, err := tx.QueryContext(ctx, `UPDATE credentials SET status = $1 WHERE status = $2 AND expires_at <= $3
		RETURNING professional_id`, domain.Expired, domain.Verified, now)
	if err != nil {
		return nil, fmt.Errorf("expire verified credentials: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("expire verified credentials: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("expire verified credentials: %w", err)
	}
	// A pending licence past its expiry can no longer be verified; marking
	// it keeps the list truthful and changes no standing.
	if _, err := tx.ExecContext(ctx, `UPDATE credentials SET status = $1 WHERE status = $2 AND expires_at <= $3`,
		domain.Expired, domain.Pending, now); err != nil {
		return nil, fmt.Errorf("expire pending credentials: %w", err)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}
