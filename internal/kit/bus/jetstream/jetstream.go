// Package jetstream is the bus.Transport on NATS JetStream, the
// alternative to Kafka for sites that already run NATS.
//
// Delivery is at least once. Every event goes to the subject
// <prefix>.<event type> of one file-backed stream. Publish waits for the
// PubAck of every event, and sends an event only after the previous event
// of its aggregate was stored, so the stream holds each aggregate's events
// in publish order even when a batch fails halfway and is published again.
// The event id travels as Nats-Msg-Id, so the server drops the copies a
// republished batch brings within its duplicate window (2 minutes).
//
// A consumer group is a durable pull consumer with explicit acks and at
// most one unacknowledged message, handled in one goroutine: a message is
// acked after its handler returned nil and naked with a growing delay
// (capped) when it failed, and nothing after it is delivered meanwhile.
// Hence a group sees the whole stream in order — stricter than the
// per-aggregate order bus.Transport promises, at the price of one round
// trip per message. Several subscriptions of one group share its messages.
// A message whose ack was lost (crash, AckWait of 30 s passed) is
// delivered again.
package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/secondopinion/platform/internal/kit/bus"
)

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// defaultAckWait is how long a delivered event may go
	// unacknowledged before the server hands it out again. With one event
	// in flight per consumer, an event a dead process held stops its
	// group for this long (it was 30 s: test/chaos saw every group stall
	// that long after a kill or a server restart); a handler still at work
	// says so every half wait (working), so a short wait redelivers what
	// the dead held without redelivering what the living hold.
	defaultAckWait = 5 * time.Second
	// dedupWindow is how long the server remembers event ids to drop
	// republished copies; the outbox relay retries within 30 s, and
	// later copies are left to the consumers' inbox.
	dedupWindow = 2 * time.Minute
	// pingTimeout keeps a readiness probe from hanging on a dead server.
	pingTimeout = 3 * time.Second
	// publishTimeout bounds the wait for a PubAck when the caller's
	// context has no deadline.
	publishTimeout = 10 * time.Second
	// retryWait spaces attempts to pull again after a consumer error.
	retryWait = time.Second
)

// Config locates the server and names the stream.
type Config struct {
	URL     string
	Stream  string        // default "MEDICAL_PLATFORM_EVENTS"
	Subject string        // subject prefix, default bus.Topic
	Name    string        // connection name, shown by the server
	AckWait time.Duration // default 5 s; see defaultAckWait
}

// Transport publishes to and consumes from one stream.
type Transport struct {
	cfg Config
	nc  *nats.Conn
	js  natsjs.JetStream

	mu   sync.Mutex
	subs map[*subscription]struct{}
}

// New connects and creates the stream, or updates it to this config.
func New(ctx context.Context, cfg Config) (*Transport, error) {
	if cfg.Stream == "" {
		cfg.Stream = "MEDICAL_PLATFORM_EVENTS"
	}
	if cfg.Subject == "" {
		cfg.Subject = bus.Topic
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = defaultAckWait
	}
	nc, err := nats.Connect(cfg.URL, nats.Name(cfg.Name), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("jetstream: connect: %w", err)
	}
	js, err := natsjs.New(nc, natsjs.WithPublishAsyncTimeout(publishTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, natsjs.StreamConfig{
		Name:       cfg.Stream,
		Subjects:   []string{cfg.Subject + ".>"},
		Storage:    natsjs.FileStorage,
		Duplicates: dedupWindow,
	}); err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: create stream %s: %w", cfg.Stream, err)
	}
	return &Transport{cfg: cfg, nc: nc, js: js, subs: map[*subscription]struct{}{}}, nil
}

// Publish stores the events, waiting for every acknowledgement. Events of
// different aggregates are sent in waves, but one of an aggregate only
// after the one before it was stored, so that a failure can reorder only
// what the contract leaves unordered.
func (t *Transport) Publish(ctx context.Context, events ...bus.Event) error {
	msgs := make([]*nats.Msg, len(events))
	for i, e := range events {
		m, err := t.message(e)
		if err != nil {
			return err
		}
		msgs[i] = m
	}
	pending := make([]int, len(events))
	for i := range pending {
		pending[i] = i
	}
	for len(pending) > 0 {
		var wave, later []int
		taken := map[string]bool{}
		for _, i := range pending {
			if agg := events[i].AggregateID; !taken[agg] {
				taken[agg] = true
				wave = append(wave, i)
			} else {
				later = append(later, i)
			}
		}
		if err := t.publishWave(ctx, events, msgs, wave); err != nil {
			return err
		}
		pending = later
	}
	return nil
}

func (t *Transport) message(e bus.Event) (*nats.Msg, error) {
	if e.Type == "" || strings.ContainsAny(e.Type, " \t\r\n*>") {
		return nil, fmt.Errorf("jetstream: publish event %s: type %q is not a subject token", e.ID, e.Type)
	}
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("jetstream: encode event %s: %w", e.ID, err)
	}
	m := nats.NewMsg(t.cfg.Subject + "." + e.Type)
	m.Data = data
	m.Header.Set("type", e.Type)
	if e.Traceparent != "" {
		m.Header.Set("traceparent", e.Traceparent)
	}
	return m, nil
}

// publishWave sends the given events at once and waits for every ack.
func (t *Transport) publishWave(ctx context.Context, events []bus.Event, msgs []*nats.Msg, wave []int) error {
	acks := make([]natsjs.PubAckFuture, len(wave))
	for n, i := range wave {
		f, err := t.js.PublishMsgAsync(msgs[i], natsjs.WithMsgID(events[i].ID))
		if err != nil {
			return fmt.Errorf("jetstream: publish event %s: %w", events[i].ID, err)
		}
		acks[n] = f
	}
	var first error
	for n, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			if first == nil {
				first = fmt.Errorf("jetstream: publish event %s: %w", events[wave[n]].ID, err)
			}
		case <-ctx.Done():
			return fmt.Errorf("jetstream: publish: %w", ctx.Err())
		}
	}
	return first
}

// Subscribe binds the durable consumer named group, creating it on first
// use, and handles its messages until the subscription or the transport is
// closed.
func (t *Transport) Subscribe(ctx context.Context, group string, h bus.Handler) (bus.Subscription, error) {
	cons, err := t.js.CreateOrUpdateConsumer(ctx, t.cfg.Stream, natsjs.ConsumerConfig{
		Durable:       group,
		AckPolicy:     natsjs.AckExplicitPolicy,
		DeliverPolicy: natsjs.DeliverAllPolicy,
		AckWait:       t.cfg.AckWait,
		// One message in flight keeps a failing event ahead of the
		// events after it.
		MaxAckPending: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("jetstream: consumer %s: %w", group, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("jetstream: consume %s: %w", group, err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &subscription{t: t, it: it, group: group, h: h, ctx: runCtx, cancel: cancel, done: make(chan struct{})}
	t.mu.Lock()
	t.subs[s] = struct{}{}
	t.mu.Unlock()
	go s.run()
	return s, nil
}

// Ping checks the connection and that the stream answers.
func (t *Transport) Ping(ctx context.Context) error {
	if st := t.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("jetstream: ping: connection %s", st)
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := t.js.Stream(ctx, t.cfg.Stream); err != nil {
		return fmt.Errorf("jetstream: ping stream %s: %w", t.cfg.Stream, err)
	}
	return nil
}

// Close stops every subscription and closes the connection.
func (t *Transport) Close() error {
	t.mu.Lock()
	subs := make([]*subscription, 0, len(t.subs))
	for s := range t.subs {
		subs = append(subs, s)
	}
	t.mu.Unlock()
	for _, s := range subs {
		s.Close()
	}
	t.nc.Close()
	return nil
}

type subscription struct {
	t      *Transport
	it     natsjs.MessagesContext
	group  string
	h      bus.Handler
	ctx    context.Context // cancelled by Close; handlers get it
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Close cancels the handler's context, waits for the loop to end and makes
// sure the server has the acks sent so far.
func (s *subscription) Close() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		s.it.Stop()
		<-s.done
		s.t.mu.Lock()
		delete(s.t.subs, s)
		s.t.mu.Unlock()
		if ferr := s.t.nc.Flush(); ferr != nil && !errors.Is(ferr, nats.ErrConnectionClosed) {
			err = fmt.Errorf("jetstream: flush acks of %s: %w", s.group, ferr)
		}
	})
	return err
}

func (s *subscription) run() {
	defer close(s.done)
	for {
		msg, err := s.it.Next()
		if s.ctx.Err() != nil || errors.Is(err, natsjs.ErrMsgIteratorClosed) {
			return
		}
		if err != nil {
			// Missed heartbeats and reconnects; the iterator pulls again.
			slog.Warn("jetstream: next message", "group", s.group, "err", err)
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(retryWait):
			}
			continue
		}
		s.handle(msg)
	}
}

func (s *subscription) handle(msg natsjs.Msg) {
	var e bus.Event
	if err := json.Unmarshal(msg.Data(), &e); err != nil {
		// No handler can ever accept it; redelivering it would hold up
		// every later event.
		slog.Error("jetstream: drop undecodable message", "group", s.group, "subject", msg.Subject(), "err", err)
		if err := msg.Term(); err != nil {
			slog.Warn("jetstream: term", "group", s.group, "err", err)
		}
		return
	}
	stop := working(msg, s.t.cfg.AckWait/2)
	err := s.h(s.ctx, e)
	stop()
	if err != nil {
		delay := backoff(msg)
		slog.Warn("jetstream: handler failed, retrying", "group", s.group, "event", e.ID, "type", e.Type, "backoff", delay, "err", err)
		if err := msg.NakWithDelay(delay); err != nil {
			slog.Warn("jetstream: nak", "group", s.group, "event", e.ID, "err", err)
		}
		return
	}
	if err := msg.Ack(); err != nil {
		// Unacked, it comes again after AckWait; the consumer's inbox
		// drops the copy.
		slog.Warn("jetstream: ack", "group", s.group, "event", e.ID, "err", err)
	}
}

// working tells the server every interval that msg is still being
// handled, until stop is called.
func working(msg natsjs.Msg, every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if err := msg.InProgress(); err != nil {
					slog.Warn("jetstream: in progress", "subject", msg.Subject(), "err", err)
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// backoff doubles the redelivery delay with each delivery of msg.
func backoff(msg natsjs.Msg) time.Duration {
	md, err := msg.Metadata()
	if err != nil || md.NumDelivered < 1 {
		return minBackoff
	}
	d := minBackoff
	for range min(md.NumDelivered-1, 16) {
		d *= 2
	}
	return min(d, maxBackoff)
}
