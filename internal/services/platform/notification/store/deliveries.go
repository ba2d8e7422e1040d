package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/services/platform/notification/domain"
)

const deliveryColumns = `id, COALESCE(notification_id, ''), audience, recipient_id, kind, case_id, channel, status, attempts,
	last_error, created_at, retry_from, next_attempt_at, updated_at, sent_at`

func scanDelivery(row interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var sent sql.NullTime
	if err := row.Scan(&d.ID, &d.NotificationID, &d.To, &d.RecipientID, &d.Kind, &d.CaseID, &d.Channel, &d.Status, &d.Attempts,
		&d.LastError, &d.CreatedAt, &d.RetryFrom, &d.NextAttemptAt, &d.UpdatedAt, &sent); err != nil {
		return Delivery{}, err
	}
	d.CreatedAt, d.RetryFrom, d.NextAttemptAt, d.UpdatedAt = d.CreatedAt.UTC(), d.RetryFrom.UTC(), d.NextAttemptAt.UTC(), d.UpdatedAt.UTC()
	if sent.Valid {
		t := sent.Time.UTC()
		d.SentAt = &t
	}
	return d, nil
}

// Delivery returns an entry of the log; NotFound when there is none.
func (s *Store) Delivery(ctx context.Context, id string) (Delivery, error) {
	d, err := scanDelivery(s.db.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Delivery{}, fault.NotFound("delivery")
	}
	if err != nil {
		return Delivery{}, fmt.Errorf("delivery %s: %w", id, err)
	}
	return d, nil
}

// Due returns up to limit deliveries waiting for an attempt at now that
// no replica holds, the longest waiting first.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, fmt.Sprintf(`SELECT id FROM deliveries
		WHERE status IN ('QUEUED', 'FAILED') AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)
		ORDER BY next_attempt_at, id LIMIT %d`, limit), ts(now))
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("due deliveries: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Lease is a replica's hold on a delivery it is sending.
type Lease struct {
	Delivery
	Token string
}

// Claim takes a due delivery for lease, unless another replica holds it
// or it is no longer due: false then. The update is conditional, so
// among replicas claiming together exactly one wins (PostgreSQL re-checks
// the condition on the row it waited for; SQLite serialises writers).
// A replica that dies while sending leaves the lease to run out, and the
// delivery is claimed again.
func (s *Store) Claim(ctx context.Context, id string, now time.Time, lease time.Duration) (Lease, bool, error) {
	token := rand.Text()
	now = ts(now)
	res, err := s.db.ExecContext(ctx, `UPDATE deliveries SET lease_until = $1, lease_token = $2
		WHERE id = $3 AND status IN ('QUEUED', 'FAILED') AND next_attempt_at <= $4 AND (lease_until IS NULL OR lease_until <= $4)`,
		now.Add(lease), token, id, now)
	if err != nil {
		return Lease{}, false, fmt.Errorf("claim delivery %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return Lease{}, false, err
	}
	d, err := s.Delivery(ctx, id)
	if err != nil {
		return Lease{}, false, err
	}
	return Lease{Delivery: d, Token: token}, true, nil
}

// Outcome is what became of an attempt.
type Outcome struct {
	Status  string // Sent, Failed, Dead or Skipped
	Channel string // the channel tried, if one was chosen
	Error   string // why it failed or was skipped: never an address or a text
	Next    time.Time
}

// Finish records the attempt of a lease: its outcome and, unless
// Skipped, one more attempt. False when the lease had run out and another
// replica holds the delivery, or it was erased meanwhile.
func (s *Store) Finish(ctx context.Context, l Lease, o Outcome, now time.Time) (bool, error) {
	now = ts(now)
	attempts := 1
	if o.Status == domain.Skipped {
		attempts = 0
	}
	var sent any
	if o.Status == domain.Sent {
		sent = now
	}
	next := now
	if !o.Next.IsZero() {
		next = ts(o.Next)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE deliveries SET status = $1, channel = CASE WHEN $2 <> '' THEN $2 ELSE channel END,
		attempts = attempts + $3, last_error = $4, next_attempt_at = $5, updated_at = $6, sent_at = $7,
		lease_until = NULL, lease_token = ''
		WHERE id = $8 AND lease_token = $9`,
		o.Status, o.Channel, attempts, clip(o.Error), next, now, sent, l.ID, l.Token)
	if err != nil {
		return false, fmt.Errorf("finish delivery %s: %w", l.ID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// clip bounds a stored error.
func clip(s string) string {
	if len(s) > 500 {
		s = strings.ToValidUTF8(s[:500], "")
	}
	return s
}

// LogSecret records the outcome of a secret sent at once: its kind,
// channel, status and attempts, never the secret or the address.
func (s *Store) LogSecret(ctx context.Context, userID string, kind domain.Kind, channel, status string, attempts int, lastError string, now time.Time) (string, error) {
	id := uuid.Must(uuid.NewV7()).String()
	now = ts(now)
	var sent any
	if status == domain.Sent {
		sent = now
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO deliveries (id, audience, recipient_id, kind, channel, status, attempts,
		last_error, created_at, retry_from, next_attempt_at, updated_at, sent_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9, $9, $10)`,
		id, domain.User, userID, kind, channel, status, attempts, clip(lastError), now, sent); err != nil {
		return "", fmt.Errorf("log secret delivery: %w", err)
	}
	return id, nil
}

// Deliveries lists the log, of one status or all (""), the latest
// changed first, after the cursor, with the next page's cursor.
func (s *Store) Deliveries(ctx context.Context, status string, after page.Cursor, limit int) ([]Delivery, string, error) {
	var where []string
	var args []any
	if status != "" {
		args = append(args, status)
		where = append(where, `status = $1`)
	}
	if after.ID != "" {
		if _, err := uuid.Parse(after.ID); err != nil {
			return nil, "", fault.Invalid(page.Field, "not a cursor returned by this API")
		}
		n := len(args)
		args = append(args, ts(after.Time), after.ID)
		where = append(where, fmt.Sprintf(`(updated_at < $%d OR (updated_at = $%d AND id < $%d))`, n+1, n+1, n+2))
	}
	q := `SELECT ` + deliveryColumns + ` FROM deliveries`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(` ORDER BY updated_at DESC, id DESC LIMIT %d`, limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list deliveries: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list deliveries: %w", err)
	}
	if len(out) <= limit {
		return out, "", nil
	}
	last := out[limit-1]
	return out[:limit], page.Cursor{Time: last.UpdatedAt, ID: last.ID}.Encode(), nil
}

// Replay queues a dead delivery again, now, with a fresh retry window.
// A secret cannot be replayed (it was never kept), nor a delivery that
// is not dead.
func (s *Store) Replay(ctx context.Context, id string, now time.Time) (Delivery, error) {
	d, err := s.Delivery(ctx, id)
	if err != nil {
		return Delivery{}, err
	}
	if d.NotificationID == "" {
		return Delivery{}, fault.Conflict("Not replayable", "a secret is never kept: the user asks for a new one")
	}
	now = ts(now)
	res, err := s.db.ExecContext(ctx, `UPDATE deliveries SET status = $1, retry_from = $2, next_attempt_at = $2, updated_at = $2
		WHERE id = $3 AND status = $4`, domain.Queued, now, id, domain.Dead)
	if err != nil {
		return Delivery{}, fmt.Errorf("replay delivery %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return Delivery{}, err
		}
		return Delivery{}, fault.Conflict("Not dead", "only a DEAD delivery is replayed; this one is "+d.Status)
	}
	return s.Delivery(ctx, id)
}
