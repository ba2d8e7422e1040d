// Package store keeps patient profiles in the patient-identity service's
// own SQL store, one set of queries for SQLite and PostgreSQL. Every write
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

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the patient tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// Patient is a stored profile.
type Patient struct {
	ID                 string
	FirstName          string
	MiddleName         string
	LastName           string
	DateOfBirth        time.Time
	Email              string
	Phone              string
	PreferredChannel   string
	EmailNotifications bool
	SMSNotifications   bool
	Metadata           json.RawMessage
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Store reads and writes patients.
type Store struct{ db *sqldb.DB }

// New returns a store over a migrated database.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// ErrEmailTaken is returned when another patient has the email.
var ErrEmailTaken = fault.Conflict("Email already registered", "a patient with this email address exists")

// Create stores a new patient with the events, in one transaction.
func (s *Store) Create(ctx context.Context, p Patient, events ...bus.Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO patients (id, first_name, middle_name, last_name, date_of_birth,
			email, phone, preferred_channel, email_notifications, sms_notifications, metadata, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			p.ID, p.FirstName, p.MiddleName, p.LastName, p.DateOfBirth.Format(time.DateOnly), p.Email, p.Phone,
			p.PreferredChannel, p.EmailNotifications, p.SMSNotifications, metadata(p.Metadata), p.CreatedAt, p.UpdatedAt); err != nil {
			return err
		}
		return outbox.Add(ctx, tx, events...)
	})
	if sqldb.IsUniqueViolation(err) {
		return ErrEmailTaken
	}
	if err != nil {
		return fmt.Errorf("create patient %s: %w", p.ID, err)
	}
	return nil
}

// Get reads a patient; fault.NotFound when there is none.
func (s *Store) Get(ctx context.Context, id string) (Patient, error) {
	return get(ctx, s.db, id, "")
}

// Update replaces the changeable fields of a patient with the events, in
// one transaction; change computes the new profile from the current one
// and returns the events, or an error to abort.
func (s *Store) Update(ctx context.Context, id string, change func(Patient) (Patient, []bus.Event, error)) (Patient, error) {
	var out Patient
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		// SQLite's immediate transaction already holds the write lock;
		// PostgreSQL needs the row lock against a concurrent update.
		lock := ""
		if s.db.Engine == sqldb.Postgres {
			lock = " FOR UPDATE"
		}
		cur, err := get(ctx, tx, id, lock)
		if err != nil {
			return err
		}
		next, events, err := change(cur)
		if err != nil || len(events) == 0 {
			out = cur
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE patients SET first_name = $2, middle_name = $3, last_name = $4,
			phone = $5, preferred_channel = $6, email_notifications = $7, sms_notifications = $8, metadata = $9,
			updated_at = $10 WHERE id = $1`,
			id, next.FirstName, next.MiddleName, next.LastName, next.Phone, next.PreferredChannel,
			next.EmailNotifications, next.SMSNotifications, metadata(next.Metadata), next.UpdatedAt); err != nil {
			return err
		}
		out = next
		return outbox.Add(ctx, tx, events...)
	})
	if err != nil {
		if _, ok := fault.As(err); ok {
			return Patient{}, err
		}
		return Patient{}, fmt.Errorf("update patient %s: %w", id, err)
	}
	return out, nil
}

// Erase deletes patient id's profile with the events, in one transaction,
// in which within runs too (forgetting what else the service keeps of
// them). fault.NotFound when there is no such patient. Nothing of the
// profile is kept; the patient.erased event among events carries the id
// to every other service.
func (s *Store) Erase(ctx context.Context, id string, within func(*sql.Tx) error, events ...bus.Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM patients WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = fault.NotFound("patient")
			}
			return err
		}
		if err := within(tx); err != nil {
			return err
		}
		return outbox.Add(ctx, tx, events...)
	})
	if err != nil {
		if _, ok := fault.As(err); ok {
			return err
		}
		return fmt.Errorf("erase patient %s: %w", id, err)
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func get(ctx context.Context, q querier, id, lock string) (Patient, error) {
	var p Patient
	var dob string
	var meta sql.NullString
	err := q.QueryRowContext(ctx, `SELECT id, first_name, middle_name, last_name, CAST(date_of_birth AS TEXT), email, phone,
		preferred_channel, email_notifications, sms_notifications, metadata, created_at, updated_at
		FROM patients WHERE id = $1`+lock, id).Scan(&p.ID, &p.FirstName, &p.MiddleName, &p.LastName, &dob, &p.Email, &p.Phone,
		&p.PreferredChannel, &p.EmailNotifications, &p.SMSNotifications, &meta, &p.CreatedAt, &p.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Patient{}, fault.NotFound("patient")
	}
	if err != nil {
		return Patient{}, fmt.Errorf("read patient %s: %w", id, err)
	}
	if p.DateOfBirth, err = time.Parse(time.DateOnly, dob); err != nil {
		return Patient{}, fmt.Errorf("read patient %s: date of birth: %w", id, err)
	}
	if meta.Valid {
		p.Metadata = json.RawMessage(meta.String)
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}

// metadata stores absent metadata as NULL and the rest as JSON text, which
// both TEXT (SQLite) and JSONB (PostgreSQL) accept.
func metadata(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}
