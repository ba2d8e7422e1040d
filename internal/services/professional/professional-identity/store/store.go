// Package store keeps professional profiles in professional-identity's own
// SQL store, one set of queries for SQLite and PostgreSQL. Every write
// commits with its outbox events.
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the professional tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// Professional is a stored profile.
type Professional struct {
	ID          string
	ProNumber   string
	FirstName   string
	LastName    string
	Email       string
	Specialties []vocab.Specialty
	Languages   []vocab.Language
	Country     string
	Bio         string
	Level       vocab.Level
	Status      string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Store reads and writes professionals.
type Store struct{ db *sqldb.DB }

// New returns a store over a migrated database.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// ErrEmailTaken is returned when another professional has the email.
var ErrEmailTaken = fault.Conflict("Email already registered", "a professional with this email address exists")

// maxNumberAttempts bounds the retries on a pro number clash: with 31^6
// numbers per region, a second clash in a row means a fault.
const maxNumberAttempts = 5

// Create stores p as a new profile with the events built for it, in one
// transaction. Its pro number comes from number, drawn again when it
// clashes with an existing one.
func (s *Store) Create(ctx context.Context, p Professional, number func() (string, error), events func(Professional) ([]bus.Event, error)) (Professional, error) {
	p.CreatedAt = p.CreatedAt.UTC().Truncate(time.Microsecond)
	p.UpdatedAt = p.UpdatedAt.UTC().Truncate(time.Microsecond)
	specialties, languages, err := lists(p)
	if err != nil {
		return Professional{}, fmt.Errorf("create professional %s: %w", p.ID, err)
	}
	for range maxNumberAttempts {
		if p.ProNumber, err = number(); err != nil {
			return Professional{}, fmt.Errorf("create professional %s: %w", p.ID, err)
		}
		err = s.db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO professionals (id, pro_number, first_name, last_name, email,
				specialties, languages, country, bio, level, status, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
				p.ID, p.ProNumber, p.FirstName, p.LastName, p.Email, specialties, languages, p.Country, p.Bio,
				p.Level, p.Status, p.CreatedAt, p.UpdatedAt); err != nil {
				return err
			}
			evs, err := events(p)
			if err != nil {
				return err
			}
			return outbox.Add(ctx, tx, evs...)
		})
		if !sqldb.IsUniqueViolation(err) {
			break
		}
		// The clash is the email's (or the id's, which auth made for
		// this email), or else the drawn number's: draw again.
		taken, terr := s.taken(ctx, p.ID, p.Email)
		if terr != nil {
			return Professional{}, fmt.Errorf("create professional %s: %w", p.ID, terr)
		}
		if taken {
			return Professional{}, ErrEmailTaken
		}
	}
	if sqldb.IsUniqueViolation(err) {
		return Professional{}, fmt.Errorf("create professional %s: no free pro number after %d attempts", p.ID, maxNumberAttempts)
	}
	if err != nil {
		return Professional{}, fmt.Errorf("create professional %s: %w", p.ID, err)
	}
	return p, nil
}

// taken reports whether a profile with id or email exists.
func (s *Store) taken(ctx context.Context, id, email string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM professionals WHERE id = $1 OR email = $2`, id, email).Scan(&n)
	return n > 0, err
}

// Get reads a professional; fault.NotFound when there is none.
func (s *Store) Get(ctx context.Context, id string) (Professional, error) {
	return get(ctx, s.db, id, "")
}

// Update changes a professional in one transaction with the events that
// change returns. change computes the new profile from the current one and
// says whether it differs; the events are added even when it does not (an
// admin's audit entry), and an error aborts.
func (s *Store) Update(ctx context.Context, id string, change func(Professional) (Professional, bool, []bus.Event, error)) (Professional, error) {
	var out Professional
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		cur, err := get(ctx, tx, id, s.lock())
		if err != nil {
			return err
		}
		next, changed, events, err := change(cur)
		if err != nil {
			return err
		}
		out = cur
		if changed {
			specialties, languages, err := lists(next)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE professionals SET first_name = $2, last_name = $3, specialties = $4,
				languages = $5, country = $6, bio = $7, updated_at = $8 WHERE id = $1`,
				id, next.FirstName, next.LastName, specialties, languages, next.Country, next.Bio,
				next.UpdatedAt.UTC().Truncate(time.Microsecond)); err != nil {
				return err
			}
			out = next
		}
		return outbox.Add(ctx, tx, events...)
	})
	if err != nil {
		if _, ok := fault.As(err); ok {
			return Professional{}, err
		}
		return Professional{}, fmt.Errorf("update professional %s: %w", id, err)
	}
	return out, nil
}

// SetStatus sets a professional's status within tx as of at, unless a
// later status is already recorded; it reports whether it did.
func (s *Store) SetStatus(ctx context.Context, tx *sql.Tx, id, status string, at time.Time) (bool, error) {
	return s.setStanding(ctx, tx, id, "status", status, at)
}

// SetLevel sets a professional's level within tx as of at, unless a later
// level is already recorded; it reports whether it did.
func (s *Store) SetLevel(ctx context.Context, tx *sql.Tx, id string, level vocab.Level, at time.Time) (bool, error) {
	return s.setStanding(ctx, tx, id, "level", string(level), at)
}

// setStanding sets column (status or level, never input) and its _at time.
// The comparison runs here rather than in SQL, so both engines compare
// times, not their text.
func (s *Store) setStanding(ctx context.Context, tx *sql.Tx, id, column, value string, at time.Time) (bool, error) {
	if _, err := uuid.Parse(id); err != nil {
		return false, fault.NotFound("professional")
	}
	at = at.UTC().Truncate(time.Microsecond)
	var last sql.NullTime
	err := tx.QueryRowContext(ctx, `SELECT `+column+`_at FROM professionals WHERE id = $1`+s.lock(), id).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fault.NotFound("professional")
	}
	if err != nil {
		return false, fmt.Errorf("read %s of professional %s: %w", column, id, err)
	}
	if last.Valid && last.Time.After(at) {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE professionals SET `+column+` = $2, `+column+`_at = $3 WHERE id = $1`, id, value, at); err != nil {
		return false, fmt.Errorf("set %s of professional %s: %w", column, id, err)
	}
	return true, nil
}

// lock is the row lock a read-then-write needs on PostgreSQL; SQLite's
// immediate transaction already holds the write lock.
func (s *Store) lock() string {
	if s.db.Engine == sqldb.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func get(ctx context.Context, q querier, id, lock string) (Professional, error) {
	// A malformed id names no professional (PostgreSQL would fail on it).
	if _, err := uuid.Parse(id); err != nil {
		return Professional{}, fault.NotFound("professional")
	}
	var p Professional
	var specialties, languages string
	err := q.QueryRowContext(ctx, `SELECT id, pro_number, first_name, last_name, email, specialties, languages,
		country, bio, level, status, created_at, updated_at FROM professionals WHERE id = $1`+lock, id).Scan(
		&p.ID, &p.ProNumber, &p.FirstName, &p.LastName, &p.Email, &specialties, &languages,
		&p.Country, &p.Bio, &p.Level, &p.Status, &p.CreatedAt, &p.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Professional{}, fault.NotFound("professional")
	}
	if err != nil {
		return Professional{}, fmt.Errorf("read professional %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(specialties), &p.Specialties); err != nil {
		return Professional{}, fmt.Errorf("read professional %s: specialties: %w", id, err)
	}
	if err := json.Unmarshal([]byte(languages), &p.Languages); err != nil {
		return Professional{}, fmt.Errorf("read professional %s: languages: %w", id, err)
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}

// lists encodes the specialties and languages as JSON text, which both
// TEXT (SQLite) and JSONB (PostgreSQL) accept.
func lists(p Professional) (string, string, error) {
	s, err := json.Marshal(nonNil(p.Specialties))
	if err != nil {
		return "", "", err
	}
	l, err := json.Marshal(nonNil(p.Languages))
	return string(s), string(l), err
}

func nonNil[T any](vs []T) []T {
	if vs == nil {
		return []T{}
	}
	return vs
}
