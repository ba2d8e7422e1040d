package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/telemetry"
)

// maxErrorLen bounds the error text kept with a failed event.
const maxErrorLen = 500

// HandlerFunc applies one event. It makes its writes — and adds any
// follow-up events with Add — in tx, which commits together with the
// inbox mark, so the effect happens exactly once.
type HandlerFunc func(ctx context.Context, tx *sql.Tx, e bus.Event) error

// ConsumerOptions tunes a Consumer. Zero values take the defaults.
type ConsumerOptions struct {
	PollInterval time.Duration // how often Run looks for due retries, default 1 s
	BatchSize    int           // retries claimed per poll, default 100
	MaxAttempts  int           // handler runs before an event is dead, default 20
	BackoffBase  time.Duration // wait after the first failure, default 1 s
	BackoffMax   time.Duration // cap of the doubling wait, default 1 h
	// Lease hides a claimed retry from other replicas while it runs;
	// after it, a replica that died holding the claim is taken over.
	// Default 1 min.
	Lease time.Duration
	// InboxRetention is how long handled event ids are remembered, far
	// beyond any transport's redelivery window; default 30 days.
	InboxRetention time.Duration
	Now            func() time.Time // default time.Now
	Logger         *slog.Logger     // default slog.Default()
	// Fallback handles every event type that has no handler of its own;
	// nil ignores them. A consumer of all events (the audit trail) uses it.
	Fallback HandlerFunc
	// Journal records every handled event in the journal, for a read
	// model's rebuild (Handlers.Journaled).
	Journal bool
}

// handler is the handler of an event type, the fallback, or nil.
func (c *Consumer) handler(typ string) HandlerFunc {
	return Handlers{ByType: c.handlers, Fallback: c.o.Fallback}.handler(typ)
}

// Consumer handles events idempotently for one consumer group of a
// service. Subscribe Handle to the transport with group = name, and Run
// it for the retries.
//
// A failed event is acknowledged to the transport and retried from the
// inbox instead, so it does not hold up the events behind it; the price is
// that a retried event may be handled after later events of its aggregate.
type Consumer struct {
	db       *sqldb.DB
	name     string
	handlers map[string]HandlerFunc
	o        ConsumerOptions
}

// NewConsumer returns the consumer name of db's service, with a handler
// per event type; events of other types are acknowledged and ignored.
func NewConsumer(db *sqldb.DB, name string, handlers map[string]HandlerFunc, o ConsumerOptions) *Consumer {
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 20
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = time.Hour
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	if o.InboxRetention <= 0 {
		o.InboxRetention = 30 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Consumer{db: db, name: name, handlers: handlers, o: o}
}

func (c *Consumer) now() time.Time { return c.o.Now().UTC() }

// Handle is the bus.Handler of the consumer. It returns an error only when
// the event could be neither handled nor parked for retry in the store, so
// the transport must deliver it again.
func (c *Consumer) Handle(ctx context.Context, e bus.Event) error {
	h := c.handler(e.Type)
	if h == nil {
		return nil
	}
	if _, err := uuid.Parse(e.ID); err != nil {
		// It could never be recorded, so redelivering it would block the
		// events behind it forever.
		c.o.Logger.ErrorContext(ctx, "event without a valid id dropped", "consumer", c.name, "event_type", e.Type)
		return nil
	}
	var herr error
	err := c.db.InTx(ctx, func(tx *sql.Tx) error {
		now := c.now()
		// Inserting the mark first makes a concurrent delivery of the same
		// event wait on the key, then see it and do nothing.
		res, err := tx.ExecContext(ctx,
			`INSERT INTO inbox (consumer, event_id, event_type, status, attempts, received_at, updated_at)
			 VALUES ($1, $2, $3, 'done', 1, $4, $4) ON CONFLICT (consumer, event_id) DO NOTHING`,
			c.name, e.ID, e.Type, now)
		if err != nil {
			return fmt.Errorf("consumer %s: record event %s: %w", c.name, e.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		if c.o.Journal {
			if err := record(ctx, tx, e, now); err != nil {
				return err
			}
		}
		herr = c.call(ctx, h, tx, e)
		return herr
	})
	if err == nil {
		return nil
	}
	if err := c.park(ctx, e, err); err != nil {
		return err
	}
	c.o.Logger.WarnContext(ctx, "event handling failed, will retry",
		"consumer", c.name, "event_id", e.ID, "event_type", e.Type, "handler_failed", herr != nil, "error", errorText(err))
	return nil
}

// call runs h under the event's trace context, turning a panic into an
// error so the transaction is rolled back rather than leaked.
func (c *Consumer) call(ctx context.Context, h HandlerFunc, tx *sql.Tx, e bus.Event) (err error) {
	ctx, span := telemetry.Tracer().Start(telemetry.WithTraceparent(ctx, e.Traceparent), "consume "+e.Type,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.consumer.group.name", c.name),
			attribute.String("messaging.message.id", e.ID)))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v", p)
		}
		if err != nil {
			span.RecordError(err)
		}
		span.End()
	}()
	return h(ctx, tx, e)
}

// park records the first failure of e in the inbox, from where Run retries
// it.
func (c *Consumer) park(ctx context.Context, e bus.Event, cause error) error {
	env, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("consumer %s: park event %s: %w", c.name, e.ID, err)
	}
	status, next := c.afterFailure(1)
	now := c.now()
	if err := c.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO inbox (consumer, event_id, event_type, status, attempts, next_attempt_at, last_error, envelope, received_at, updated_at)
			 VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $8) ON CONFLICT (consumer, event_id) DO NOTHING`,
			c.name, e.ID, e.Type, status, next, errorText(cause), string(env), now)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 || status != "dead" {
			return err
		}
		return c.tellDead(ctx, tx, e.ID, e.Type, 1)
	}); err != nil {
		return fmt.Errorf("consumer %s: park event %s: %w (handling: %w)", c.name, e.ID, err, cause)
	}
	return nil
}

// afterFailure gives the state of an event that has failed attempts
// times: due again after a backoff, or dead.
func (c *Consumer) afterFailure(attempts int) (string, sql.NullTime) {
	if attempts >= c.o.MaxAttempts {
		return "dead", sql.NullTime{}
	}
	return "retry", sql.NullTime{Time: c.now().Add(c.backoff(attempts)), Valid: true}
}

// backoff doubles from BackoffBase up to BackoffMax, with jitter so that
// events failing together do not retry together.
func (c *Consumer) backoff(attempts int) time.Duration {
	d := c.o.BackoffBase << min(attempts-1, 40)
	if d <= 0 || d > c.o.BackoffMax {
		d = c.o.BackoffMax
	}
	return d/2 + rand.N(d/2+1)
}

func errorText(err error) string {
	s := err.Error()
	if len(s) > maxErrorLen {
		s = s[:maxErrorLen]
	}
	return s
}

// Run retries due events every poll interval until ctx ends, and forgets
// handled event ids after InboxRetention.
func (c *Consumer) Run(ctx context.Context) error {
	tick := time.NewTicker(c.o.PollInterval)
	defer tick.Stop()
	var nextCleanup time.Time
	for {
		if now := c.now(); now.After(nextCleanup) {
			if err := c.cleanup(ctx, now); err != nil && ctx.Err() == nil {
				c.o.Logger.WarnContext(ctx, "inbox cleanup failed", "consumer", c.name, "error", err)
			}
			nextCleanup = now.Add(cleanupEvery)
		}
		if _, err := c.RetryDue(ctx); err != nil && ctx.Err() == nil {
			c.o.Logger.WarnContext(ctx, "inbox retries failed", "consumer", c.name, "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (c *Consumer) cleanup(ctx context.Context, now time.Time) error {
	if _, err := c.db.ExecContext(ctx,
		`DELETE FROM inbox WHERE consumer = $1 AND status = 'done' AND updated_at < $2`,
		c.name, now.Add(-c.o.InboxRetention)); err != nil {
		return fmt.Errorf("consumer %s: forget old events: %w", c.name, err)
	}
	return nil
}

// RetryDue runs the retries that are due now, one batch, and returns how
// many it attempted. Run calls it every poll interval.
func (c *Consumer) RetryDue(ctx context.Context) (int, error) {
	ids, err := c.claim(ctx)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := c.retry(ctx, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// claim leases due retries: the conditional update succeeds for one
// replica only, since it moves next_attempt_at past now.
func (c *Consumer) claim(ctx context.Context) ([]string, error) {
	now := c.now()
	rows, err := c.db.QueryContext(ctx,
		`SELECT event_id FROM inbox WHERE consumer = $1 AND status = 'retry' AND next_attempt_at <= $2
		 ORDER BY next_attempt_at LIMIT $3`, c.name, now, c.o.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("consumer %s: find due retries: %w", c.name, err)
	}
	var due []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("consumer %s: find due retries: %w", c.name, err)
		}
		due = append(due, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("consumer %s: find due retries: %w", c.name, err)
	}
	var claimed []string
	for _, id := range due {
		res, err := c.db.ExecContext(ctx,
			`UPDATE inbox SET next_attempt_at = $3
			 WHERE consumer = $1 AND event_id = $2 AND status = 'retry' AND next_attempt_at <= $4`,
			c.name, id, now.Add(c.o.Lease), now)
		if err != nil {
			return nil, fmt.Errorf("consumer %s: claim retry %s: %w", c.name, id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, fmt.Errorf("consumer %s: claim retry %s: %w", c.name, id, err)
		} else if n == 1 {
			claimed = append(claimed, id)
		}
	}
	return claimed, nil
}

// retry runs the handler of a claimed event again. The status moves to
// done in the handler's transaction; on PostgreSQL that update also locks
// the row, so a replica that took over an expired lease waits and then
// finds nothing to do.
func (c *Consumer) retry(ctx context.Context, id string) error {
	var attempts int
	var typ string
	var herr error
	err := c.db.InTx(ctx, func(tx *sql.Tx) error {
		var env string
		err := tx.QueryRowContext(ctx,
			`UPDATE inbox SET status = 'done', attempts = attempts + 1, next_attempt_at = NULL, updated_at = $3
			 WHERE consumer = $1 AND event_id = $2 AND status = 'retry' RETURNING attempts, envelope`,
			c.name, id, c.now()).Scan(&attempts, &env)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("consumer %s: take retry %s: %w", c.name, id, err)
		}
		var e bus.Event
		if err := json.Unmarshal([]byte(env), &e); err != nil {
			herr = fmt.Errorf("bad envelope: %w", err)
			return herr
		}
		typ = e.Type
		h := c.handler(e.Type)
		if h == nil {
			return nil // the handler was removed since: nothing to do any more
		}
		if c.o.Journal {
			if err := record(ctx, tx, e, c.now()); err != nil {
				return err
			}
		}
		herr = c.call(ctx, h, tx, e)
		return herr
	})
	if herr == nil {
		// A store failure leaves the lease to expire, and the event is
		// retried then.
		return err
	}
	status, next := c.afterFailure(attempts)
	if err := c.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`UPDATE inbox SET status = $3, attempts = $4, next_attempt_at = $5, last_error = $6, updated_at = $7
			 WHERE consumer = $1 AND event_id = $2 AND status = 'retry'`,
			c.name, id, status, attempts, next, errorText(herr), c.now()); err != nil {
			return err
		}
		if status == "dead" {
			return c.tellDead(ctx, tx, id, typ, attempts)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("consumer %s: record failed retry %s: %w", c.name, id, err)
	}
	if status == "dead" {
		c.o.Logger.ErrorContext(ctx, "event handling failed for good: dead letter",
			"consumer", c.name, "event_id", id, "attempts", attempts)
	}
	return nil
}
