package outbox_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

var errFlaky = errors.New("flaky dependency")

// inboxRow reads the inbox state of one event.
func inboxRow(t *testing.T, db *sqldb.DB, consumer, id string) (status string, attempts int, next sql.NullTime) {
	t.Helper()
	err := db.QueryRowContext(context.Background(),
		`SELECT status, attempts, next_attempt_at FROM inbox WHERE consumer = $1 AND event_id = $2`,
		consumer, id).Scan(&status, &attempts, &next)
	if err != nil {
		t.Fatalf("inbox row of %s: %v", id, err)
	}
	return status, attempts, next
}

func TestConsumerDuplicateDeliveryHasNoSecondEffect(t *testing.T) {
	testkit.ForEachEngine(t, "outbox-consumer", func(t *testing.T, db *sqldb.DB) {
		migrated(t, db)
		ctx := context.Background()
		const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		var sawTrace atomic.Bool
		c := outbox.NewConsumer(db, "test", map[string]outbox.HandlerFunc{
			"thing.made": func(ctx context.Context, tx *sql.Tx, e bus.Event) error {
				if trace.SpanContextFromContext(ctx).TraceID().String() == traceID {
					sawTrace.Store(true)
				}
				return insertEffect(ctx, tx, e)
			},
		}, outbox.ConsumerOptions{})
		e := newEvents(t, "thing.made", 1)[0]
		e.Traceparent = "00-" + traceID + "-00f067aa0ba902b7-01"
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if err := c.Handle(ctx, e); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if err := c.Handle(ctx, e); err != nil {
			t.Fatal(err)
		}
		assertExactlyOnce(t, db, []bus.Event{e})
		if !sawTrace.Load() {
			t.Error("handler context lacks the event's trace")
		}
		if status, attempts, _ := inboxRow(t, db, "test", e.ID); status != "done" || attempts != 1 {
			t.Fatalf("inbox = %s/%d, want done/1", status, attempts)
		}

		other := newEvents(t, "thing.unknown", 1)[0]
		if err := c.Handle(ctx, other); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM inbox`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("inbox rows = %d (%v), want only the handled event", n, err)
		}
	})
}

// A fallback handles every type without a handler of its own, once.
func TestConsumerFallback(t *testing.T) {
	testkit.ForEachEngine(t, "outbox-consumer", func(t *testing.T, db *sqldb.DB) {
		migrated(t, db)
		ctx := context.Background()
		var specific atomic.Int32
		c := outbox.NewConsumer(db, "all", map[string]outbox.HandlerFunc{
			"thing.made": func(context.Context, *sql.Tx, bus.Event) error { specific.Add(1); return nil },
		}, outbox.ConsumerOptions{Fallback: insertEffect})
		made := newEvents(t, "thing.made", 1)[0]
		others := append(newEvents(t, "thing.unknown", 2), newEvents(t, "other.kind", 1)...)
		for _, e := range append([]bus.Event{made}, append(others, others...)...) {
			if err := c.Handle(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		if specific.Load() != 1 {
			t.Fatalf("specific handler ran %d times", specific.Load())
		}
		assertExactlyOnce(t, db, others)
	})
}

func TestConsumerRetriesFailedEventUntilDone(t *testing.T) {
	testkit.ForEachEngine(t, "outbox-consumer", func(t *testing.T, db *sqldb.DB) {
		migrated(t, db)
		ctx := context.Background()
		clk := newClock()
		failures := 2
		c := outbox.NewConsumer(db, "test", map[string]outbox.HandlerFunc{
			"thing.made": func(ctx context.Context, tx *sql.Tx, e bus.Event) error {
				// The effect written before the failure must be rolled back.
				if err := insertEffect(ctx, tx, e); err != nil {
					return err
				}
				if failures > 0 {
					failures--
					return errFlaky
				}
				return nil
			},
		}, outbox.ConsumerOptions{Now: clk.Now, BackoffBase: time.Minute})
		e := newEvents(t, "thing.made", 1)[0]
		if err := c.Handle(ctx, e); err != nil {
			t.Fatalf("a failed handler must be parked, not redelivered: %v", err)
		}
		status, attempts, next := inboxRow(t, db, "test", e.ID)
		if status != "retry" || attempts != 1 || !next.Valid {
			t.Fatalf("inbox = %s/%d/%v, want retry/1 with a due time", status, attempts, next)
		}
		if wait := next.Time.Sub(clk.Now()); wait < 30*time.Second || wait > time.Minute {
			t.Fatalf("first retry in %s, want the base backoff with jitter (30s..1m)", wait)
		}
		if err := c.Handle(ctx, e); err != nil {
			t.Fatal(err)
		}
		if n, err := c.RetryDue(ctx); err != nil || n != 0 {
			t.Fatalf("RetryDue before due = %d, %v; want 0", n, err)
		}
		clk.advance(time.Minute)
		if n, err := c.RetryDue(ctx); err != nil || n != 1 {
			t.Fatalf("RetryDue = %d, %v; want 1", n, err)
		}
		status, attempts, next = inboxRow(t, db, "test", e.ID)
		if wait := next.Time.Sub(clk.Now()); status != "retry" || attempts != 2 || wait < time.Minute || wait > 2*time.Minute {
			t.Fatalf("inbox = %s/%d, next in %s; want retry/2 in 1m..2m", status, attempts, wait)
		}
		clk.advance(2 * time.Minute)
		if n, err := c.RetryDue(ctx); err != nil || n != 1 {
			t.Fatalf("RetryDue = %d, %v; want 1", n, err)
		}
		if status, attempts, _ := inboxRow(t, db, "test", e.ID); status != "done" || attempts != 3 {
			t.Fatalf("inbox = %s/%d, want done/3", status, attempts)
		}
		clk.advance(time.Hour)
		if n, err := c.RetryDue(ctx); err != nil || n != 0 {
			t.Fatalf("RetryDue after done = %d, %v; want 0", n, err)
		}
		assertExactlyOnce(t, db, []bus.Event{e})
	})
}

func TestConsumerDeadLettersAndReplay(t *testing.T) {
	testkit.ForEachEngine(t, "outbox-consumer", func(t *testing.T, db *sqldb.DB) {
		migrated(t, db)
		ctx := context.Background()
		clk := newClock()
		var healthy atomic.Bool
		c := outbox.NewConsumer(db, "test", map[string]outbox.HandlerFunc{
			"thing.made": func(ctx context.Context, tx *sql.Tx, e bus.Event) error {
				if !healthy.Load() {
					return errFlaky
				}
				return insertEffect(ctx, tx, e)
			},
		}, outbox.ConsumerOptions{Now: clk.Now, MaxAttempts: 3, BackoffBase: time.Second})
		events := newEvents(t, "thing.made", 3)
		for _, e := range events {
			if err := c.Handle(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 {
			clk.advance(time.Hour)
			if n, err := c.RetryDue(ctx); err != nil || n != 3 {
				t.Fatalf("RetryDue = %d, %v; want 3", n, err)
			}
		}
		clk.advance(time.Hour)
		if n, err := c.RetryDue(ctx); err != nil || n != 0 {
			t.Fatalf("RetryDue of dead events = %d, %v; want 0", n, err)
		}

		var got []outbox.DeadLetter
		after := ""
		for {
			page, next, err := outbox.DeadLetters(ctx, db, "test", after, 2)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page...)
			if next == "" {
				break
			}
			after = next
		}
		if len(got) != len(events) {
			t.Fatalf("%d dead letters, want %d", len(got), len(events))
		}
		for i, d := range got {
			var env bus.Event
			if err := json.Unmarshal(d.Envelope, &env); err != nil {
				t.Fatal(err)
			}
			if d.EventID != events[i].ID || env.ID != d.EventID || d.EventType != "thing.made" ||
				d.Consumer != "test" || d.Attempts != 3 || d.LastError != errFlaky.Error() || d.FailedAt.IsZero() {
				t.Fatalf("dead letter %d = %+v", i, d)
			}
		}
		if page, _, err := outbox.DeadLetters(ctx, db, "other", "", 10); err != nil || len(page) != 0 {
			t.Fatalf("dead letters of another consumer = %v, %v", page, err)
		}
		if _, _, err := outbox.DeadLetters(ctx, db, "test", "garbage", 10); fault.KindOf(err) != fault.KindInvalid {
			t.Fatalf("bad cursor: %v, want 422", err)
		}

		healthy.Store(true)
		if err := outbox.Replay(ctx, db, "test", events[1].ID); err != nil {
			t.Fatal(err)
		}
		if n, err := c.RetryDue(ctx); err != nil || n != 1 {
			t.Fatalf("RetryDue after replay = %d, %v; want 1", n, err)
		}
		assertExactlyOnce(t, db, events[1:2])
		if status, attempts, _ := inboxRow(t, db, "test", events[1].ID); status != "done" || attempts != 1 {
			t.Fatalf("replayed inbox = %s/%d, want done/1", status, attempts)
		}
		if page, _, err := outbox.DeadLetters(ctx, db, "", "", 10); err != nil || len(page) != 2 {
			t.Fatalf("dead letters after replay = %d, %v; want 2", len(page), err)
		}
		if err := outbox.Replay(ctx, db, "test", events[1].ID); fault.KindOf(err) != fault.KindConflict {
			t.Fatalf("replay of a handled event: %v, want 409", err)
		}
		if err := outbox.Replay(ctx, db, "test", newEvents(t, "x", 1)[0].ID); fault.KindOf(err) != fault.KindNotFound {
			t.Fatalf("replay of an unknown event: %v, want 404", err)
		}
	})
}

func TestConsumerRunRetriesInTheBackground(t *testing.T) {
	testkit.ForEachEngine(t, "outbox-consumer", func(t *testing.T, db *sqldb.DB) {
		migrated(t, db)
		var failed atomic.Bool
		c := outbox.NewConsumer(db, "test", map[string]outbox.HandlerFunc{
			"thing.made": func(ctx context.Context, tx *sql.Tx, e bus.Event) error {
				if failed.CompareAndSwap(false, true) {
					panic("handler bug")
				}
				return insertEffect(ctx, tx, e)
			},
		}, outbox.ConsumerOptions{PollInterval: time.Millisecond, BackoffBase: time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()
		events := newEvents(t, "thing.made", 1)
		if err := c.Handle(ctx, events[0]); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the retry handled", func() bool { return len(effects(t, db)) == 1 })
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		assertExactlyOnce(t, db, events)
	})
}
