package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
)

// ErrNoTOTP says the user's second factor is not TOTP (any more).
var ErrNoTOTP = errors.New("totp is not the second factor")

// ErrPendingChanged says the enrolment being confirmed is no longer the
// user's pending one: another enrolment replaced it, or it was confirmed.
var ErrPendingChanged = errors.New("the pending totp enrolment changed")

// EnableTOTP makes the pending secret the user's working TOTP secret and
// TOTP the second factor, with a new set of recovery codes (their hashes)
// replacing any earlier set, and its events. pending is the stored pending
// secret the caller checked the code against: ErrPendingChanged if it is
// no longer the one stored.
func (s *Store) EnableTOTP(ctx context.Context, id, pending string, codeHashes []string, now time.Time, events ...bus.Event) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET two_factor_method = 'TOTP', totp_secret = totp_pending_secret,
			totp_pending_secret = '', updated_at = $3 WHERE id = $1 AND totp_pending_secret = $2 AND totp_pending_secret <> ''`,
			id, pending, now)
		if err != nil {
			return fmt.Errorf("enable totp of %s: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("enable totp of %s: %w", id, err)
		}
		if n == 0 {
			return ErrPendingChanged
		}
		if err := replaceRecoveryCodes(ctx, tx, id, codeHashes, now); err != nil {
			return err
		}
		return outbox.Add(ctx, tx, events...)
	})
}

// ReplaceRecoveryCodes replaces the recovery codes of a TOTP user by a new
// set; ErrNoTOTP if TOTP is not the user's second factor.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, id string, codeHashes []string, now time.Time) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		// The conditional update also locks the user's row, so a concurrent
		// change of method waits for this set or sees it.
		res, err := tx.ExecContext(ctx, `UPDATE users SET updated_at = $2 WHERE id = $1 AND two_factor_method = 'TOTP'`, id, now)
		if err != nil {
			return fmt.Errorf("replace recovery codes of %s: %w", id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("replace recovery codes of %s: %w", id, err)
		}
		if n == 0 {
			return ErrNoTOTP
		}
		return replaceRecoveryCodes(ctx, tx, id, codeHashes, now)
	})
}

func replaceRecoveryCodes(ctx context.Context, tx *sql.Tx, id string, codeHashes []string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, id); err != nil {
		return fmt.Errorf("replace recovery codes of %s: %w", id, err)
	}
	for _, h := range codeHashes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (code_hash, user_id, created_at) VALUES ($1, $2, $3)`,
			h, id, now); err != nil {
			return fmt.Errorf("replace recovery codes of %s: %w", id, err)
		}
	}
	return nil
}

// SetTwoFactorMethod makes method (NONE, EMAIL or SMS) the user's second
// factor with its events. Leaving TOTP forgets the secrets (working and
// pending) and the recovery codes: they must not come back to life with a
// later enrolment.
func (s *Store) SetTwoFactorMethod(ctx context.Context, id, method string, now time.Time, events ...bus.Event) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET two_factor_method = $2, totp_secret = '', totp_pending_secret = '',
			updated_at = $3 WHERE id = $1`, id, method, now); err != nil {
			return fmt.Errorf("set second factor of %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, id); err != nil {
			return fmt.Errorf("set second factor of %s: %w", id, err)
		}
		return outbox.Add(ctx, tx, events...)
	})
}

// Attempt is what a challenge check may do within the attempt's
// transaction, so that what it spends is spent only with the challenge.
type Attempt struct {
	ctx    context.Context
	tx     *sql.Tx
	userID string
}

// UseRecoveryCode deletes the challenge user's recovery code with hash
// and, when it existed, adds the event that event makes of the number of
// codes left. It reports whether the code existed: the delete's row count
// decides, so of two concurrent uses of one code only one succeeds.
func (a *Attempt) UseRecoveryCode(hash string, event func(remaining int) (bus.Event, error)) (bool, error) {
	res, err := a.tx.ExecContext(a.ctx, `DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2`, a.userID, hash)
	if err != nil {
		return false, fmt.Errorf("use recovery code of %s: %w", a.userID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err // no such code: already used, replaced, or never issued
	}
	var left int
	if err := a.tx.QueryRowContext(a.ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1`, a.userID).Scan(&left); err != nil {
		return false, fmt.Errorf("count recovery codes of %s: %w", a.userID, err)
	}
	ev, err := event(left)
	if err != nil {
		return false, err
	}
	return true, outbox.Add(a.ctx, a.tx, ev)
}
