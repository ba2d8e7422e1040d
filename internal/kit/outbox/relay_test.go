package outbox_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

func assertInOrder(t *testing.T, got, want []bus.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("published %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID {
			t.Fatalf("event %d is %s, want %s", i, got[i].ID, want[i].ID)
		}
	}
}

func TestRelayFlushPublishesInOrderAndMarks(t *testing.T) {
	testkit.ForEachEngine(t, "outbox-relay", func(t *testing.T, db *sqldb.DB) {
		migrated(t, db)
		ctx := context.Background()
		b := newLogBus()
		events := newEvents(t, "thing.made", 250)
		addAll(t, db, events, 30)
		r := outbox.NewRelay(db, b, outbox.RelayOptions{BatchSize: 100})
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got := b.events()
		assertInOrder(t, got, events)
		if got[0].Traceparent != "" || got[0].AggregateID != "agg-0" || string(got[0].Payload) != `{"n":0}` {
			t.Fatalf("envelope changed on the way: %+v", got[0])
		}
		if n := pendingCount(t, db); n != 0 {
			t.Fatalf("%d events left unpublished", n)
		}
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(b.events()); n != len(events) {
			t.Fatalf("second flush republished: %d events on the bus", n)
		}
	})
}

func TestRelayRetriesFailedPublishWithoutSkipping(t *testing.T) {
	testkit.ForEachEngine(t, "outbox-relay", func(t *testing.T, db *sqldb.DB) {
		migrated(t, db)
		b := newLogBus()
		b.failNext(3)
		events := newEvents(t, "thing.made", 40)
		addAll(t, db, events, 10)
		r := outbox.NewRelay(db, b, outbox.RelayOptions{PollInterval: time.Millisecond, BatchSize: 15})
		if err := r.Flush(context.Background()); err == nil {
			t.Fatal("Flush with the broker down returned nil")
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		eventually(t, "every event published", func() bool { return pendingCount(t, db) == 0 })
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		assertInOrder(t, b.events(), events)
		if n := pendingCount(t, db); n != 0 {
			t.Fatalf("%d events left unpublished", n)
		}
	})
}

func TestRelayNotifyAndFinalFlush(t *testing.T) {
	testkit.ForEachEngine(t, "outbox-relay", func(t *testing.T, db *sqldb.DB) {
		migrated(t, db)
		b := newLogBus()
		events := newEvents(t, "thing.made", 3)
		// The poll never comes: only Notify and the final flush publish.
		r := outbox.NewRelay(db, b, outbox.RelayOptions{PollInterval: time.Hour})
		addAll(t, db, events[:1], 1)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		eventually(t, "the first event published", func() bool { return len(b.events()) == 1 })
		addAll(t, db, events[1:2], 1)
		r.Notify()
		eventually(t, "the notified event published", func() bool { return len(b.events()) == 2 })
		addAll(t, db, events[2:], 1)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		assertInOrder(t, b.events(), events)
	})
}

func TestRelayDeletesOldPublishedRows(t *testing.T) {
	testkit.ForEachEngine(t, "outbox-relay", func(t *testing.T, db *sqldb.DB) {
		migrated(t, db)
		ctx := context.Background()
		b := newLogBus()
		events := newEvents(t, "thing.made", 4)
		addAll(t, db, events, 4)
		r := outbox.NewRelay(db, b, outbox.RelayOptions{PollInterval: time.Hour, Retention: 24 * time.Hour})
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `UPDATE outbox SET published_at = $1 WHERE event_id IN ($2, $3)`,
			time.Now().UTC().Add(-25*time.Hour), events[0].ID, events[1].ID); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- r.Run(rctx) }()
		count := func() int {
			var n int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
				t.Error(err)
			}
			return n
		}
		eventually(t, "old rows deleted", func() bool { return count() == 2 })
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		var left string
		if err := db.QueryRowContext(ctx, `SELECT event_id FROM outbox ORDER BY seq LIMIT 1`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != events[2].ID {
			t.Fatalf("kept %s, want the recent %s", left, events[2].ID)
		}
	})
}

// TestTwoRelaysOnePostgresStore runs two replicas' relays on one schema
// while events are being written.
func TestTwoRelaysOnePostgresStore(t *testing.T) {
	o := testkit.StoreOptions(t, sqldb.Postgres, "outbox-relay")
	ctx := context.Background()
	var dbs [2]*sqldb.DB
	for i := range dbs {
		db, err := sqldb.Open(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	migrated(t, dbs[0])
	b := newLogBus()
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var relays [2]*outbox.Relay
	for i, db := range dbs {
		relays[i] = outbox.NewRelay(db, b, outbox.RelayOptions{PollInterval: 2 * time.Millisecond, BatchSize: 7})
		wg.Go(func() {
			if err := relays[i].Run(rctx); err != nil {
				t.Error(err)
			}
		})
	}
	events := newEvents(t, "thing.made", 300)
	for i := 0; i < len(events); i += 5 {
		addAll(t, dbs[i%2], events[i:i+5], 5)
		relays[i%2].Notify()
	}
	eventually(t, "every event published", func() bool { return pendingCount(t, dbs[0]) == 0 })
	cancel()
	wg.Wait()
	// The events were written one transaction after the other, so the
	// bus must show them in that order (at least once each).
	seen := map[string]bool{}
	var first []bus.Event
	for _, e := range b.events() {
		if !seen[e.ID] {
			seen[e.ID] = true
			first = append(first, e)
		}
	}
	assertInOrder(t, first, events)
}
