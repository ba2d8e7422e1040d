package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

var errProcessDied = errors.New("process died")

// diesAfterPublish is a relay's transport whose process dies after the
// broker took a batch and before the relay marked it published.
type diesAfterPublish struct{ bus.Transport }

func (d diesAfterPublish) Publish(ctx context.Context, events ...bus.Event) error {
	if err := d.Transport.Publish(ctx, events...); err != nil {
		return err
	}
	return errProcessDied
}

// counting counts the events its transport accepted.
type counting struct {
	bus.Transport
	mu       sync.Mutex
	accepted int
}

func (c *counting) Publish(ctx context.Context, events ...bus.Event) error {
	err := c.Transport.Publish(ctx, events...)
	if err == nil {
		c.mu.Lock()
		c.accepted += len(events)
		c.mu.Unlock()
	}
	return err
}

func (c *counting) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accepted
}

// crashPlan says at which instant the process dies for an event, once per
// event.
type crashPlan struct {
	mu           sync.Mutex
	beforeCommit map[string]bool // the handler wrote, the commit never came
	afterCommit  map[string]bool // committed, the ack never reached the broker
}

// take reports whether the process dies at that instant for id, once.
func (p *crashPlan) take(afterCommit bool, id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := p.beforeCommit
	if afterCommit {
		at = p.afterCommit
	}
	if at[id] {
		delete(at, id)
		return true
	}
	return false
}

func (p *crashPlan) plan(events []bus.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, e := range events {
		switch i % 6 {
		case 1:
			p.beforeCommit[e.ID] = true
		case 4:
			p.afterCommit[e.ID] = true
		}
	}
}

type dieKey struct{}

// process is one run of the services: the consumer's store handle and
// subscription and, when started, the producer's relay. Once dead it
// neither publishes nor acknowledges anything, like a killed process.
type process struct {
	db        *sqldb.DB
	sub       bus.Subscription
	stopRelay context.CancelFunc
	relayDone chan error
	mu        sync.Mutex
	dead      bool
}

func (p *process) die() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dead = true
}

func (p *process) isDead() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dead
}

// kill ends what is left of the process; being dead, it commits nothing
// more.
func (p *process) kill(t *testing.T) {
	p.die()
	p.sub.Close()
	if p.stopRelay != nil {
		p.stopRelay()
		if err := <-p.relayDone; err != nil {
			t.Error(err)
		}
	}
}

// gated is the process's transport: dead, it publishes nothing.
type gated struct {
	bus.Transport
	p *process
}

func (g gated) Publish(ctx context.Context, events ...bus.Event) error {
	if g.p.isDead() {
		return errProcessDied
	}
	return g.Transport.Publish(ctx, events...)
}

// TestDurabilityAcrossCrashes kills the producer and the consumer at the
// worst instants — objects are abandoned without cleanup and the stores
// reopened from disk, as after a restart — and checks that every event
// still has its effect exactly once. It runs on the in-process bus (which
// redelivers by failing the relay's Publish) and on a log broker like
// Kafka (which redelivers from the group's committed offset).
func TestDurabilityAcrossCrashes(t *testing.T) {
	for _, engine := range testkit.Engines(t) {
		t.Run(string(engine)+"/inproc", func(t *testing.T) {
			testDurability(t, engine, inproc.New(), func() bool { return true })
		})
		t.Run(string(engine)+"/log", func(t *testing.T) {
			b := newLogBus()
			testDurability(t, engine, b, func() bool { return b.drained("durability") })
		})
	}
}

// testDurability runs the crashes over tr; settled reports that tr has no
// delivery left to make.
func testDurability(t *testing.T, engine sqldb.Engine, tr bus.Transport, settled func() bool) {
	ctx := context.Background()
	producerStore := testkit.StoreOptions(t, engine, "durability-producer")
	consumerStore := testkit.StoreOptions(t, engine, "durability-consumer")
	open := func(o sqldb.Options) *sqldb.DB {
		db, err := sqldb.Open(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return migrated(t, db)
	}
	openProducer := func() *sqldb.DB {
		db := open(producerStore)
		if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		return db
	}
	// Orders are the producer's state; each commits with its event.
	writeOrders := func(db *sqldb.DB, events []bus.Event) {
		for i := 0; i < len(events); i += 5 {
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				for _, e := range events[i : i+5] {
					if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id) VALUES ($1)`, e.ID); err != nil {
						return err
					}
				}
				return outbox.Add(ctx, tx, events[i:i+5]...)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	const group = "durability"
	accepted := &counting{Transport: tr}
	plan := &crashPlan{beforeCommit: map[string]bool{}, afterCommit: map[string]bool{}}
	crashed := make(chan struct{}, 1)
	handlers := map[string]outbox.HandlerFunc{
		"order.placed": func(ctx context.Context, tx *sql.Tx, e bus.Event) error {
			if err := insertEffect(ctx, tx, e); err != nil {
				return err
			}
			if plan.take(false, e.ID) {
				ctx.Value(dieKey{}).(func())()
				return ctx.Err()
			}
			return nil
		},
	}
	// start boots the consumer and, with relay, then the producer's relay.
	start := func(relay bool) *process {
		p := &process{db: open(consumerStore)}
		c := outbox.NewConsumer(p.db, group, handlers, outbox.ConsumerOptions{})
		sub, err := accepted.Subscribe(ctx, group, func(ctx context.Context, e bus.Event) error {
			if p.isDead() {
				return errProcessDied
			}
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			die := func() {
				p.die()
				cancel()
			}
			err := c.Handle(context.WithValue(ctx, dieKey{}, die), e)
			if err == nil && plan.take(true, e.ID) {
				die()
			}
			if p.isDead() {
				select {
				case crashed <- struct{}{}:
				default:
				}
				return errProcessDied
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		p.sub = sub
		if relay {
			r := outbox.NewRelay(openProducer(), gated{accepted, p}, outbox.RelayOptions{PollInterval: 5 * time.Millisecond})
			rctx, stop := context.WithCancel(ctx)
			p.stopRelay, p.relayDone = stop, make(chan error)
			go func() { p.relayDone <- r.Run(rctx) }()
		}
		return p
	}

	first, more := newEvents(t, "order.placed", 40), newEvents(t, "order.placed", 40)
	all := append(first, more...)

	// (a) State and events commit; the process dies before any relay ran.
	writeOrders(openProducer(), first)

	// (b) After a restart, a relay publishes a batch and the process dies
	// before the relay marked it: the batch will be published twice.
	p := start(false)
	dying := outbox.NewRelay(openProducer(), diesAfterPublish{accepted}, outbox.RelayOptions{BatchSize: 25})
	if err := dying.Flush(ctx); !errors.Is(err, errProcessDied) {
		t.Fatalf("dying relay: %v", err)
	}
	p.kill(t)

	// (c) From now on the consumer dies before or after its commit, and
	// the whole process restarts each time, while orders keep coming.
	plan.plan(all)
	p = start(true)
	writer := openProducer()
	writeOrders(writer, more)
	restarts := 0
	eventually(t, "every event consumed", func() bool {
		select {
		case <-crashed:
			p.kill(t)
			p = start(true)
			restarts++
		default:
		}
		return pendingCount(t, writer) == 0 && settled() && !p.isDead()
	})
	p.kill(t)

	if restarts < 10 {
		t.Errorf("only %d restarts: the crashes did not happen", restarts)
	}
	if n := accepted.count(); n < len(all)+25 {
		t.Errorf("transport accepted %d events, want the dying relay's batch twice (%d)", n, len(all)+25)
	}
	assertExactlyOnce(t, p.db, all)
	var orders int
	if err := writer.QueryRowContext(ctx, `SELECT count(*) FROM orders`).Scan(&orders); err != nil || orders != len(all) {
		t.Errorf("producer has %d orders (%v), want %d", orders, err, len(all))
	}
}
