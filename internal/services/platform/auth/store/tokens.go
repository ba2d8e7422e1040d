package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// Challenge is a pending second factor of a login.
type Challenge struct {
	ID        string
	UserID    string
	Method    string
	CodeHash  string
	Attempts  int
	ExpiresAt time.Time
	Used      bool
}

// ErrNotFound says a token or challenge does not exist (or no longer).
var ErrNotFound = errors.New("not found")

// CreateChallenge stores a challenge with its events (auth.code_requested).
func (s *Store) CreateChallenge(ctx context.Context, c Challenge, events ...bus.Event) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO challenges (id, user_id, method, code_hash, attempts, expires_at)
			VALUES ($1, $2, $3, $4, 0, $5)`, c.ID, c.UserID, c.Method, c.CodeHash, c.ExpiresAt); err != nil {
			return fmt.Errorf("create challenge %s: %w", c.ID, err)
		}
		return outbox.Add(ctx, tx, events...)
	})
}

// AttemptChallenge runs one attempt at challenge id under a lock: check
// says whether the attempt succeeds; a success spends the challenge, a
// failure counts an attempt. check may spend a recovery code through the
// Attempt, within the same transaction. It returns the challenge as it was
// and check's verdict; ErrNotFound if there is no such challenge.
func (s *Store) AttemptChallenge(ctx context.Context, id string, now time.Time, check func(Challenge, *Attempt) (bool, error)) (Challenge, bool, error) {
	var c Challenge
	var ok bool
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var used sql.NullTime
		err := tx.QueryRowContext(ctx, `SELECT id, user_id, method, code_hash, attempts, expires_at, used_at
			FROM challenges WHERE id = $1`+s.forUpdate(), id).
			Scan(&c.ID, &c.UserID, &c.Method, &c.CodeHash, &c.Attempts, &c.ExpiresAt, &used)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("read challenge %s: %w", id, err)
		}
		c.Used, c.ExpiresAt = used.Valid, c.ExpiresAt.UTC()
		if ok, err = check(c, &Attempt{ctx: ctx, tx: tx, userID: c.UserID}); err != nil {
			return err
		}
		q := `UPDATE challenges SET attempts = attempts + 1 WHERE id = $1`
		args := []any{id}
		if ok {
			q, args = `UPDATE challenges SET used_at = $2 WHERE id = $1`, []any{id, now}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("attempt challenge %s: %w", id, err)
		}
		return nil
	})
	return c, ok, err
}

// forUpdate locks the read row on PostgreSQL; SQLite's immediate
// transaction already holds the write lock.
func (s *Store) forUpdate() string {
	if s.db.Engine == sqldb.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// RefreshToken is one refresh token of a session's family, by its hash.
type RefreshToken struct {
	Hash      string
	SessionID string
	UserID    string
	ExpiresAt time.Time
}

// AddRefreshToken stores the first token of a family.
func (s *Store) AddRefreshToken(ctx context.Context, t RefreshToken) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, user_id, expires_at)
		VALUES ($1, $2, $3, $4)`, t.Hash, t.SessionID, t.UserID, t.ExpiresAt); err != nil {
		return fmt.Errorf("add refresh token of session %s: %w", t.SessionID, err)
	}
	return nil
}

// Rotation is what happened to a presented refresh token.
type Rotation int

const (
	Rotated Rotation = iota // exchanged for next
	Unknown                 // no such token, or expired, or revoked
	Reused                  // already exchanged before: the family is now revoked
)

// RotateRefreshToken exchanges the token with hash for next (same family)
// in one transaction. Presenting a token already exchanged revokes its
// whole family: someone holds a copy.
func (s *Store) RotateRefreshToken(ctx context.Context, hash string, next RefreshToken, now time.Time) (RefreshToken, Rotation, error) {
	var cur RefreshToken
	outcome := Unknown
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var rotated, revoked sql.NullTime
		err := tx.QueryRowContext(ctx, `SELECT session_id, user_id, expires_at, rotated_at, revoked_at
			FROM refresh_tokens WHERE token_hash = $1`+s.forUpdate(), hash).
			Scan(&cur.SessionID, &cur.UserID, &cur.ExpiresAt, &rotated, &revoked)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read refresh token: %w", err)
		}
		cur.Hash = hash
		switch {
		case revoked.Valid || !now.Before(cur.ExpiresAt.UTC()):
			return nil
		case rotated.Valid:
			outcome = Reused
			return revokeFamily(ctx, tx, cur.SessionID, now)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET rotated_at = $2 WHERE token_hash = $1`, hash, now); err != nil {
			return fmt.Errorf("rotate refresh token: %w", err)
		}
		next.SessionID, next.UserID = cur.SessionID, cur.UserID
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, user_id, expires_at)
			VALUES ($1, $2, $3, $4)`, next.Hash, next.SessionID, next.UserID, next.ExpiresAt); err != nil {
			return fmt.Errorf("rotate refresh token: %w", err)
		}
		outcome = Rotated
		return nil
	})
	return cur, outcome, err
}

// RevokeFamily revokes every refresh token of a session.
func (s *Store) RevokeFamily(ctx context.Context, sessionID string, now time.Time) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error { return revokeFamily(ctx, tx, sessionID, now) })
}

func revokeFamily(ctx context.Context, tx *sql.Tx, sessionID string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL`,
		sessionID, now); err != nil {
		return fmt.Errorf("revoke session %s: %w", sessionID, err)
	}
	return nil
}

// AddResetToken stores a password-reset token by its hash, with its events.
func (s *Store) AddResetToken(ctx context.Context, hash, userID string, expires time.Time, events ...bus.Event) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO reset_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)`,
			hash, userID, expires); err != nil {
			return fmt.Errorf("add reset token of %s: %w", userID, err)
		}
		return outbox.Add(ctx, tx, events...)
	})
}

// UseResetToken spends a reset token and returns its user; ErrNotFound if
// it is unknown, spent or expired.
func (s *Store) UseResetToken(ctx context.Context, hash string, now time.Time) (string, error) {
	var userID string
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var expires time.Time
		var used sql.NullTime
		err := tx.QueryRowContext(ctx, `SELECT user_id, expires_at, used_at FROM reset_tokens WHERE token_hash = $1`+s.forUpdate(), hash).
			Scan(&userID, &expires, &used)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("read reset token: %w", err)
		}
		if used.Valid || !now.Before(expires.UTC()) {
			return ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `UPDATE reset_tokens SET used_at = $2 WHERE token_hash = $1`, hash, now); err != nil {
			return fmt.Errorf("use reset token: %w", err)
		}
		return nil
	})
	return userID, err
}

// Session is a login session as the embedded store keeps it.
type Session struct {
	ID       string
	UserID   string
	Role     string
	LastSeen time.Time
}

// StartSession stores a new session.
func (s *Store) StartSession(ctx context.Context, se Session) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO sessions (id, user_id, role, last_seen) VALUES ($1, $2, $3, $4)`,
		se.ID, se.UserID, se.Role, se.LastSeen); err != nil {
		return fmt.Errorf("start session %s: %w", se.ID, err)
	}
	return nil
}

// TouchSession marks the session seen at now unless it ended or was idle
// longer than idle (then it ends); ErrNotFound when it is over.
func (s *Store) TouchSession(ctx context.Context, id string, now time.Time, idle time.Duration) (Session, error) {
	se := Session{ID: id}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		var ended bool
		err := tx.QueryRowContext(ctx, `SELECT user_id, role, last_seen, ended FROM sessions WHERE id = $1`+s.forUpdate(), id).
			Scan(&se.UserID, &se.Role, &se.LastSeen, &ended)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("read session %s: %w", id, err)
		}
		if ended {
			return ErrNotFound
		}
		if now.Sub(se.LastSeen) > idle {
			return errIdle
		}
		se.LastSeen = now
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen = $2 WHERE id = $1`, id, now); err != nil {
			return fmt.Errorf("touch session %s: %w", id, err)
		}
		return nil
	})
	if errors.Is(err, errIdle) {
		if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET ended = TRUE WHERE id = $1`, id); err != nil {
			return Session{}, fmt.Errorf("end idle session %s: %w", id, err)
		}
		return Session{}, ErrNotFound
	}
	return se, err
}

var errIdle = errors.New("session idle")

// EndSession ends a session (logout).
func (s *Store) EndSession(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET ended = TRUE WHERE id = $1`, id); err != nil {
		return fmt.Errorf("end session %s: %w", id, err)
	}
	return nil
}
