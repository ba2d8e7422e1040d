// Package store keeps the auth service's users, credentials, second-factor
// challenges, TOTP recovery codes, refresh-token families, reset tokens and
// embedded sessions, one set of queries for SQLite and PostgreSQL. Times
// are compared in Go against the caller's clock, never in SQL, so both
// engines and injected test clocks agree.
package store

import (
	"context"
	"database/sql"
	"embed"
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

// Migrate creates or upgrades the auth tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// User is a stored account.
type User struct {
	ID              string
	Email           string // lower case
	PasswordHash    string
	HashScheme      string
	Role            string
	TwoFactorMethod string
	TOTPSecret      string // as stored: sealed by the service ("v1:..."), or plaintext from before
	TOTPPending     string // sealed secret of an enrolment not yet confirmed; "" if none
	Phone           string
	Status          string
	FailedAttempts  int
	LockedUntil     time.Time // zero when not locked
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Store reads and writes the auth tables.
type Store struct{ db *sqldb.DB }

// New returns a store over a migrated database.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// ErrEmailTaken is returned when another user has the email.
var ErrEmailTaken = fault.Conflict("Email already registered", "a user with this email address exists")

// CreateUser stores a new user with its events.
func (s *Store) CreateUser(ctx context.Context, u User, events ...bus.Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, password_hash, hash_scheme, role,
			two_factor_method, totp_secret, phone, status, failed_attempts, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $10)`,
			u.ID, u.Email, u.PasswordHash, u.HashScheme, u.Role, u.TwoFactorMethod, u.TOTPSecret, u.Phone,
			u.Status, u.CreatedAt); err != nil {
			return err
		}
		return outbox.Add(ctx, tx, events...)
	})
	if sqldb.IsUniqueViolation(err) {
		return ErrEmailTaken
	}
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.ID, err)
	}
	return nil
}

const userColumns = `id, email, password_hash, hash_scheme, role, two_factor_method, totp_secret, totp_pending_secret,
	phone, status, failed_attempts, locked_until, created_at, updated_at`

// UserByEmail finds a user by lower-case email; fault.NotFound if none.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	return scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email))
}

// User reads a user by id; fault.NotFound if none.
func (s *Store) User(ctx context.Context, id string) (User, error) {
	return scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

func scanUser(row *sql.Row) (User, error) {
	var u User
	var locked sql.NullTime
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.HashScheme, &u.Role, &u.TwoFactorMethod, &u.TOTPSecret,
		&u.TOTPPending, &u.Phone, &u.Status, &u.FailedAttempts, &locked, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fault.NotFound("user")
	}
	if err != nil {
		return User{}, fmt.Errorf("read user: %w", err)
	}
	if locked.Valid {
		u.LockedUntil = locked.Time.UTC()
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, nil
}

// HasAdmin reports whether any admin exists.
func (s *Store) HasAdmin(ctx context.Context) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin'`).Scan(&n); err != nil {
		return false, fmt.Errorf("count admins: %w", err)
	}
	return n > 0, nil
}

// DeleteUser removes a user and everything hanging off it.
func (s *Store) DeleteUser(ctx context.Context, id string, events ...bus.Event) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("delete user %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fault.NotFound("user")
		}
		// SQLite enforces the cascades only with foreign_keys on; the
		// explicit deletes keep both engines alike either way.
		for _, table := range []string{"challenges", "recovery_codes", "refresh_tokens", "reset_tokens", "sessions"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE user_id = $1`, id); err != nil {
				return fmt.Errorf("delete user %s: %s: %w", id, table, err)
			}
		}
		return outbox.Add(ctx, tx, events...)
	})
}

// EraseUser deletes user id and everything of theirs within tx, and
// returns the user as they were (zero when there was none: an erasure
// carried out before) and the ids of their sessions, which may live
// outside the store too.
func (s *Store) EraseUser(ctx context.Context, tx *sql.Tx, id string) (User, []string, error) {
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if p, ok := fault.As(err); ok && p.Kind == fault.KindNotFound {
		return User{}, nil, nil
	}
	if err != nil {
		return User{}, nil, fmt.Errorf("erase user %s: %w", id, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT session_id FROM refresh_tokens WHERE user_id = $1
		UNION SELECT id FROM sessions WHERE user_id = $1`, id)
	if err != nil {
		return User{}, nil, fmt.Errorf("erase user %s: sessions: %w", id, err)
	}
	defer rows.Close()
	var sessions []string
	for rows.Next() {
		var sid string
		if err := rows.Scan(&sid); err != nil {
			return User{}, nil, fmt.Errorf("erase user %s: sessions: %w", id, err)
		}
		sessions = append(sessions, sid)
	}
	if err := rows.Err(); err != nil {
		return User{}, nil, fmt.Errorf("erase user %s: sessions: %w", id, err)
	}
	for _, table := range []string{"challenges", "recovery_codes", "refresh_tokens", "reset_tokens", "sessions", "users"} {
		col := "user_id"
		if table == "users" {
			col = "id"
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+col+` = $1`, id); err != nil {
			return User{}, nil, fmt.Errorf("erase user %s: %s: %w", id, table, err)
		}
	}
	return u, sessions, nil
}

// RecordFailures keeps the account's failure count and lock with events
// (user.locked when a lock begins); a zero lockedUntil clears the lock.
func (s *Store) RecordFailures(ctx context.Context, id string, failures int, lockedUntil, now time.Time, events ...bus.Event) error {
	var locked any
	if !lockedUntil.IsZero() {
		locked = lockedUntil
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET failed_attempts = $2, locked_until = $3, updated_at = $4
			WHERE id = $1`, id, failures, locked, now); err != nil {
			return fmt.Errorf("record failures of %s: %w", id, err)
		}
		return outbox.Add(ctx, tx, events...)
	})
}

// SetPassword replaces a user's password hash and revokes every refresh
// token of the user, so a reset ends all sessions.
func (s *Store) SetPassword(ctx context.Context, id, hash, scheme string, now time.Time) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = $2, hash_scheme = $3, failed_attempts = 0,
			locked_until = NULL, updated_at = $4 WHERE id = $1`, id, hash, scheme, now); err != nil {
			return fmt.Errorf("set password of %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`,
			id, now); err != nil {
			return fmt.Errorf("set password of %s: revoke tokens: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET ended = TRUE WHERE user_id = $1`, id); err != nil {
			return fmt.Errorf("set password of %s: end sessions: %w", id, err)
		}
		return nil
	})
}

// SetPendingTOTPSecret stores the (sealed) secret of a TOTP enrolment,
// replacing that of an earlier unconfirmed one. The working secret and the
// method stay until the user proves the authenticator works (EnableTOTP).
func (s *Store) SetPendingTOTPSecret(ctx context.Context, id, secret string, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET totp_pending_secret = $2, updated_at = $3 WHERE id = $1`,
		id, secret, now); err != nil {
		return fmt.Errorf("set pending totp secret of %s: %w", id, err)
	}
	return nil
}

// ReplaceTOTPSecret replaces the stored secret old by next unless it
// changed meanwhile (a confirmed enrolment wins); it seals plaintext secrets
// stored before encryption.
func (s *Store) ReplaceTOTPSecret(ctx context.Context, id, old, next string, now time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET totp_secret = $3, updated_at = $4 WHERE id = $1 AND totp_secret = $2`,
		id, old, next, now); err != nil {
		return fmt.Errorf("replace totp secret of %s: %w", id, err)
	}
	return nil
}
