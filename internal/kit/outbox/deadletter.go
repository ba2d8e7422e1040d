package outbox

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// DeadLetter is an event a consumer gave up on after MaxAttempts. Its
// envelope may hold the event's payload: show it to admins only.
type DeadLetter struct {
	Consumer  string          `json:"consumer"`
	EventID   string          `json:"eventId"`
	EventType string          `json:"eventType"`
	Attempts  int             `json:"attempts"`
	LastError string          `json:"lastError"`
	FailedAt  time.Time       `json:"failedAt"`
	Envelope  json.RawMessage `json:"envelope"`
}

// DeadLetterNotice is the payload of event.dead_lettered: which consumer
// gave up on which event, so that admins are told (the notification
// service). It names the event, never its payload or the error, which
// may hold data the bus must not carry.
type DeadLetterNotice struct {
	Consumer  string    `json:"consumer"`
	EventID   string    `json:"eventId" format:"uuid"`
	EventType string    `json:"eventType"`
	Attempts  int       `json:"attempts"`
	Timestamp time.Time `json:"timestamp"`
}

// DeadLettered is the contract of the event every consumer emits when it
// parks an event as dead.
var DeadLettered = bus.Contract[DeadLetterNotice]{Type: "event.dead_lettered", Version: 1, Producer: bus.AnyProducer,
	Summary: "A consumer gave up on an event after its retries: an admin inspects and replays it."}

// tellDead adds, within tx, the notice of the event a consumer just gave
// up on. A notice that itself dies is not told again, or a broken
// consumer of notices would feed itself.
func (c *Consumer) tellDead(ctx context.Context, tx *sql.Tx, eventID, eventType string, attempts int) error {
	if eventType == DeadLettered.Type {
		return nil
	}
	e, err := DeadLettered.New(c.db.Service, eventID, DeadLetterNotice{
		Consumer: c.name, EventID: eventID, EventType: eventType, Attempts: attempts, Timestamp: c.now()})
	if err != nil {
		return err
	}
	return Add(ctx, tx, e)
}

// deadCursor is the position after the last dead letter of a page.
type deadCursor struct {
	EventID  string `json:"e"`
	Consumer string `json:"c"`
}

// DeadLetters lists the dead letters of consumer ("" for every consumer of
// the store), by event id — which, for UUIDv7 ids, is by event time. after
// is "" or the cursor returned with the previous page; the returned cursor
// is "" on the last page.
func DeadLetters(ctx context.Context, db *sqldb.DB, consumer, after string, limit int) ([]DeadLetter, string, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q := `SELECT consumer, event_id, event_type, attempts, COALESCE(last_error, ''), updated_at, COALESCE(envelope, 'null')
	      FROM inbox WHERE status = 'dead'`
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if consumer != "" {
		q += ` AND consumer = ` + arg(consumer)
	}
	if after != "" {
		c, err := decodeDeadCursor(after)
		if err != nil {
			return nil, "", err
		}
		id := arg(c.EventID)
		q += ` AND (event_id > ` + id + ` OR (event_id = ` + id + ` AND consumer > ` + arg(c.Consumer) + `))`
	}
	q += ` ORDER BY event_id, consumer LIMIT ` + arg(limit+1)
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list dead letters: %w", err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var d DeadLetter
		var env string
		if err := rows.Scan(&d.Consumer, &d.EventID, &d.EventType, &d.Attempts, &d.LastError, &d.FailedAt, &env); err != nil {
			return nil, "", fmt.Errorf("list dead letters: %w", err)
		}
		d.FailedAt = d.FailedAt.UTC()
		d.Envelope = json.RawMessage(env)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list dead letters: %w", err)
	}
	if len(out) <= limit {
		return out, "", nil
	}
	out = out[:limit]
	last := out[limit-1]
	b, err := json.Marshal(deadCursor{EventID: last.EventID, Consumer: last.Consumer})
	if err != nil {
		return nil, "", fmt.Errorf("list dead letters: %w", err)
	}
	return out, base64.RawURLEncoding.EncodeToString(b), nil
}

func decodeDeadCursor(s string) (deadCursor, error) {
	var c deadCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil {
		return c, fault.Invalid("after", "not a cursor returned by this API")
	}
	if _, err := uuid.Parse(c.EventID); err != nil {
		return c, fault.Invalid("after", "not a cursor returned by this API")
	}
	return c, nil
}

// Replay makes a dead letter of consumer due for retry now, with a fresh
// count of attempts; the consumer's Run picks it up at its next poll.
func Replay(ctx context.Context, db *sqldb.DB, consumer, eventID string) error {
	if _, err := uuid.Parse(eventID); err != nil {
		return fault.NotFound("dead letter")
	}
	res, err := db.ExecContext(ctx,
		`UPDATE inbox SET status = 'retry', attempts = 0, next_attempt_at = $3, updated_at = $3
		 WHERE consumer = $1 AND event_id = $2 AND status = 'dead'`,
		consumer, eventID, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("replay %s of %s: %w", eventID, consumer, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("replay %s of %s: %w", eventID, consumer, err)
	} else if n == 1 {
		return nil
	}
	var status string
	err = db.QueryRowContext(ctx, `SELECT status FROM inbox WHERE consumer = $1 AND event_id = $2`,
		consumer, eventID).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return fault.NotFound("dead letter")
	}
	if err != nil {
		return fmt.Errorf("replay %s of %s: %w", eventID, consumer, err)
	}
	return fault.Conflict("Not a dead letter", "the event is "+status+", not dead")
}
