package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// logBus is a broker like Kafka with one partition: published events are
// appended to a log and every group reads it from its committed offset,
// which moves only when the handler returns nil. A failed delivery is
// retried, and a new subscription of a group resumes where the last one
// stopped, so an unacknowledged event is delivered again after a restart.
type logBus struct {
	mu          sync.Mutex
	log         []bus.Event
	offsets     map[string]int
	changed     chan struct{} // closed and replaced on every append
	failPublish int           // publishes still to fail
	publishes   int
}

func newLogBus() *logBus {
	return &logBus{offsets: map[string]int{}, changed: make(chan struct{})}
}

var errBrokerDown = errors.New("broker down")

func (b *logBus) Publish(_ context.Context, events ...bus.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.publishes++
	if b.failPublish > 0 {
		b.failPublish--
		return errBrokerDown
	}
	b.log = append(b.log, events...)
	close(b.changed)
	b.changed = make(chan struct{})
	return nil
}

func (b *logBus) failNext(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failPublish = n
}

func (b *logBus) events() []bus.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]bus.Event(nil), b.log...)
}

// next returns the event at group's offset, or a channel closed when one
// is appended.
func (b *logBus) next(group string) (bus.Event, bool, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if off := b.offsets[group]; off < len(b.log) {
		return b.log[off], true, nil
	}
	return bus.Event{}, false, b.changed
}

func (b *logBus) commit(group string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.offsets[group]++
}

// drained reports whether group has acknowledged the whole log.
func (b *logBus) drained(group string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.offsets[group] == len(b.log)
}

func (b *logBus) Subscribe(ctx context.Context, group string, h bus.Handler) (bus.Subscription, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &logSub{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			e, ok, changed := b.next(group)
			if !ok {
				select {
				case <-ctx.Done():
					return
				case <-changed:
				}
				continue
			}
			if err := h(ctx, e); err != nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Millisecond):
				}
				continue
			}
			b.commit(group)
		}
	}()
	return s, nil
}

func (b *logBus) Ping(context.Context) error { return nil }
func (b *logBus) Close() error               { return nil }

type logSub struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Close stops the delivery and waits for the handler in flight.
func (s *logSub) Close() error {
	s.cancel()
	<-s.done
	return nil
}

// clock is a settable time for the consumer's retry schedule.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().UTC()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// migrated applies the outbox migrations and an effects table that
// handlers insert into without any unique key, so a doubled effect shows.
func migrated(t testing.TB, db *sqldb.DB) *sqldb.DB {
	t.Helper()
	ctx := context.Background()
	if err := outbox.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS effects (event_id TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func newEvents(t testing.TB, typ string, n int) []bus.Event {
	t.Helper()
	out := make([]bus.Event, n)
	for i := range out {
		e, err := bus.New("outbox-test", typ, fmt.Sprintf("agg-%d", i%7), map[string]int{"n": i})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = e
	}
	return out
}

// addAll writes events through Add in transactions of perTx events.
func addAll(t testing.TB, db *sqldb.DB, events []bus.Event, perTx int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < len(events); i += perTx {
		batch := events[i:min(i+perTx, len(events))]
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return outbox.Add(ctx, tx, batch...) }); err != nil {
			t.Fatal(err)
		}
	}
}

// insertEffect is a handler whose effect is one row per handling.
func insertEffect(ctx context.Context, tx *sql.Tx, e bus.Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO effects (event_id) VALUES ($1)`, e.ID)
	return err
}

// effects counts the effect rows per event id.
func effects(t testing.TB, db *sqldb.DB) map[string]int {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT event_id, count(*) FROM effects GROUP BY event_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func pendingCount(t testing.TB, db *sqldb.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(),
		`SELECT count(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// eventually waits for cond, failing the test after a generous deadline;
// it asserts that something happens, never how fast.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// assertExactlyOnce checks every event has exactly one effect and there
// are no others.
func assertExactlyOnce(t testing.TB, db *sqldb.DB, events []bus.Event) {
	t.Helper()
	got := effects(t, db)
	for _, e := range events {
		if got[e.ID] != 1 {
			t.Errorf("event %s applied %d times, want 1", e.ID, got[e.ID])
		}
	}
	if len(got) != len(events) {
		t.Errorf("%d events have effects, want %d", len(got), len(events))
	}
}
