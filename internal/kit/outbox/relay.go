package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/telemetry"
)

const (
	// cleanupEvery spaces the deletion of old rows: they only cost disk.
	cleanupEvery = time.Hour
	// finalFlushTimeout bounds the flush Run makes when its context ends,
	// so a dead broker cannot hold up shutdown; what is left stays in the
	// outbox for the next start.
	finalFlushTimeout = 5 * time.Second
	// markTimeout bounds the marking of a published batch.
	markTimeout = 5 * time.Second
	// maxRelayBackoff caps the wait between failed publishes.
	maxRelayBackoff = 30 * time.Second
)

// RelayOptions tunes a Relay. Zero values take the defaults.
type RelayOptions struct {
	PollInterval time.Duration // default 200 ms
	BatchSize    int           // events per Publish, default 100
	// Retention is how long published rows are kept (for inspection)
	// before they are deleted; default 7 days.
	Retention time.Duration
	Logger    *slog.Logger // default slog.Default()
}

// Relay publishes a store's outbox to a transport, in outbox order, at
// least once: a row is marked published only after Publish returned nil,
// so a crash in between publishes it again.
//
// Several replicas may relay one PostgreSQL store: a transaction-scoped
// advisory lock lets one batch be in flight at a time, which keeps the
// outbox order (and so the per-aggregate order) that SKIP LOCKED batches
// would break. A SQLite file is owned by one process, whose relays
// serialise on a mutex.
type Relay struct {
	db   *sqldb.DB
	t    bus.Transport
	o    RelayOptions
	wake chan struct{}
	mu   sync.Mutex // one batch at a time between Run and Flush
}

// NewRelay returns a relay of db's outbox to t; call Run to start it.
func NewRelay(db *sqldb.DB, t bus.Transport, o RelayOptions) *Relay {
	if o.PollInterval <= 0 {
		o.PollInterval = 200 * time.Millisecond
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	if o.Retention <= 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Relay{db: db, t: t, o: o, wake: make(chan struct{}, 1)}
}

// Notify wakes the relay at once instead of at the next poll. It never
// blocks; services call it after committing events.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run relays until ctx ends, then flushes what is pending (for at most a
// few seconds) and returns nil. Publish failures are retried with capped
// exponential backoff, never skipped.
func (r *Relay) Run(ctx context.Context) error {
	failures := 0
	var nextCleanup time.Time
	for {
		if ctx.Err() != nil {
			return r.shutdown(ctx)
		}
		if now := time.Now(); now.After(nextCleanup) {
			if err := r.cleanup(ctx, now); err != nil && ctx.Err() == nil {
				r.o.Logger.WarnContext(ctx, "outbox cleanup failed", "service", r.db.Service, "error", err)
			}
			nextCleanup = now.Add(cleanupEvery)
		}
		n, err := r.publishBatch(ctx)
		wait, wake := r.o.PollInterval, r.wake
		switch {
		case err != nil && ctx.Err() == nil:
			failures++
			wait, wake = r.backoff(failures), nil
			r.o.Logger.WarnContext(ctx, "outbox relay failed, retrying",
				"service", r.db.Service, "failures", failures, "retry_in", wait.String(), "error", err)
		case err == nil && n == r.o.BatchSize:
			failures, wait = 0, 0
		case err == nil:
			failures = 0
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (r *Relay) shutdown(ctx context.Context) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalFlushTimeout)
	defer cancel()
	if err := r.Flush(fctx); err != nil {
		r.o.Logger.WarnContext(fctx, "outbox final flush failed; events stay pending until the next start",
			"service", r.db.Service, "error", err)
	}
	return nil
}

func (r *Relay) backoff(failures int) time.Duration {
	d := r.o.PollInterval << min(failures, 20)
	return min(d, maxRelayBackoff)
}

// Flush publishes every event pending now and returns, or returns the
// first error.
func (r *Relay) Flush(ctx context.Context) error {
	for {
		n, err := r.publishBatch(ctx)
		if err != nil {
			return err
		}
		if n < r.o.BatchSize {
			return nil
		}
	}
}

// querier is what a batch needs from a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// publishBatch publishes the oldest pending events and marks them
// published, returning how many there were.
func (r *Relay) publishBatch(ctx context.Context) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var q querier = r.db
	var tx *sql.Tx
	if r.db.Engine == sqldb.Postgres {
		var err error
		// Not ctx: database/sql rolls a transaction back when its context
		// ends, and a batch published must still be marked (see below).
		if tx, err = r.db.BeginTx(context.WithoutCancel(ctx), nil); err != nil {
			return 0, fmt.Errorf("relay %s: begin: %w", r.db.Service, err)
		}
		defer tx.Rollback()
		// The lock is released by the commit or rollback, also when the
		// session dies, so a crashed replica never blocks the others.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.outbox'))`); err != nil {
			return 0, fmt.Errorf("relay %s: lock: %w", r.db.Service, err)
		}
		q = tx
	}
	seqs, events, err := r.pending(ctx, q)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	ctx, span := telemetry.Tracer().Start(ctx, "outbox relay", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.Int("messaging.batch.message_count", len(events))))
	defer span.End()
	if err := r.t.Publish(ctx, events...); err != nil {
		span.RecordError(err)
		return 0, fmt.Errorf("relay %s: publish %d events: %w", r.db.Service, len(events), err)
	}
	// Once Publish succeeded, a cancelled ctx must not stop the marking,
	// or every shutdown would publish the batch twice.
	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := markPublished(markCtx, q, seqs, time.Now().UTC()); err != nil {
		return 0, fmt.Errorf("relay %s: %w", r.db.Service, err)
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return 0, fmt.Errorf("relay %s: commit: %w", r.db.Service, err)
		}
	}
	return len(events), nil
}

func (r *Relay) pending(ctx context.Context, q querier) ([]int64, []bus.Event, error) {
	rows, err := q.QueryContext(ctx,
		`SELECT seq, envelope FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1`, r.o.BatchSize)
	if err != nil {
		return nil, nil, fmt.Errorf("relay %s: read outbox: %w", r.db.Service, err)
	}
	defer rows.Close()
	var seqs []int64
	var events []bus.Event
	for rows.Next() {
		var seq int64
		var env string
		if err := rows.Scan(&seq, &env); err != nil {
			return nil, nil, fmt.Errorf("relay %s: read outbox: %w", r.db.Service, err)
		}
		var e bus.Event
		if err := json.Unmarshal([]byte(env), &e); err != nil {
			return nil, nil, fmt.Errorf("relay %s: outbox row %d: %w", r.db.Service, seq, err)
		}
		seqs = append(seqs, seq)
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("relay %s: read outbox: %w", r.db.Service, err)
	}
	return seqs, events, nil
}

// markPublished marks exactly the rows that were published: on
// PostgreSQL a lower seq may commit later than a higher one, so a seq range
// could mark a row nobody published.
func markPublished(ctx context.Context, q querier, seqs []int64, at time.Time) error {
	args := make([]any, 0, len(seqs)+1)
	args = append(args, at)
	marks := make([]string, len(seqs))
	for i, s := range seqs {
		args = append(args, s)
		marks[i] = "$" + strconv.Itoa(i+2)
	}
	if _, err := q.ExecContext(ctx,
		`UPDATE outbox SET published_at = $1 WHERE seq IN (`+strings.Join(marks, ", ")+`)`, args...); err != nil {
		return fmt.Errorf("mark %d events published: %w", len(seqs), err)
	}
	return nil
}

func (r *Relay) cleanup(ctx context.Context, now time.Time) error {
	if _, err := r.db.ExecContext(ctx,
		`DELETE FROM outbox WHERE published_at < $1`, now.Add(-r.o.Retention).UTC()); err != nil {
		return fmt.Errorf("relay %s: delete published events: %w", r.db.Service, err)
	}
	return nil
}
