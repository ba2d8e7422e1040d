// Package outboxtest benchmarks the whole event pipeline — Add in the
// producer's transactions, Relay, a bus transport, Consumer with its inbox —
// so that every transport's tests can measure it the same way.
package outboxtest

import (
	"context"
	"database/sql"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// perTx is how many events a producer transaction writes.
const perTx = 100

// Pipeline benchmarks b.N events from the producer's outbox through tr to
// a consumer whose effect is one row insert, on every engine of
// testkit.Engines, and reports end-to-end events/s.
func Pipeline(b *testing.B, tr bus.Transport) {
	for _, e := range testkit.Engines(b) {
		b.Run(string(e), func(b *testing.B) { pipeline(b, e, tr) })
	}
}

func pipeline(b *testing.B, engine sqldb.Engine, tr bus.Transport) {
	ctx := context.Background()
	producer := testkit.OpenDB(b, engine, "bench-producer")
	consumer := testkit.OpenDB(b, engine, "bench-consumer")
	for _, db := range []*sqldb.DB{producer, consumer} {
		if err := outbox.Migrate(ctx, db); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := consumer.ExecContext(ctx, `CREATE TABLE bench_effects (event_id TEXT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	// Rounds share the transport: a type and a group of their own keep a
	// round from counting the events of the ones before.
	round := uuid.NewString()[:8]
	typ := "bench." + round
	quiet := slog.New(slog.DiscardHandler)
	c := outbox.NewConsumer(consumer, "bench-"+round, map[string]outbox.HandlerFunc{
		typ: func(ctx context.Context, tx *sql.Tx, e bus.Event) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO bench_effects (event_id) VALUES ($1)`, e.ID)
			return err
		},
	}, outbox.ConsumerOptions{Logger: quiet})
	sub, err := tr.Subscribe(ctx, "bench-"+round, c.Handle)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	relay := outbox.NewRelay(producer, tr, outbox.RelayOptions{Logger: quiet})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- relay.Run(rctx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()

	events := make([]bus.Event, b.N)
	for i := range events {
		if events[i], err = bus.New("bench", typ, uuid.NewString(), map[string]int{"n": i}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(events); i += perTx {
		batch := events[i:min(i+perTx, len(events))]
		if err := producer.InTx(ctx, func(tx *sql.Tx) error { return outbox.Add(ctx, tx, batch...) }); err != nil {
			b.Fatal(err)
		}
		relay.Notify()
	}
	deadline := start.Add(5 * time.Minute)
	for handled(b, consumer) < b.N {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d events handled after 5 minutes", handled(b, consumer), b.N)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

func handled(b *testing.B, db *sqldb.DB) int {
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM bench_effects`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}
