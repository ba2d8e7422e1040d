// Package bustest is the contract every bus.Transport keeps: one suite of
// tests that each transport package runs against itself, and the publish
// benchmark they share.
package bustest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/bus"
)

// wait bounds every wait for a delivery.
const wait = 10 * time.Second

// Options tune the suite to what a transport promises.
type Options struct {
	// Durable declares that the transport keeps events for a consumer
	// group that has not subscribed yet, and where a group that closed
	// left off (Kafka, JetStream); the in-process bus keeps nothing.
	Durable bool
}

// Run runs the contract suite. open must return a transport on an empty
// topic of its own for each call; the suite closes it. opts is optional
// (zero or one), so Run(t, open) checks a transport that keeps nothing.
func Run(t *testing.T, open func(t *testing.T) bus.Transport, opts ...Options) {
	if len(opts) > 1 {
		t.Fatal("bustest.Run takes at most one Options")
	}
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	tr := func(t *testing.T) bus.Transport {
		t.Helper()
		b := open(t)
		t.Cleanup(func() { b.Close() })
		return b
	}
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, tr(t)) })
	t.Run("EveryGroupGetsEveryEvent", func(t *testing.T) { testGroups(t, tr(t)) })
	t.Run("AggregateOrder", func(t *testing.T) { testOrder(t, tr(t)) })
	t.Run("MembersShareAGroup", func(t *testing.T) { testShared(t, tr(t)) })
	t.Run("RetryKeepsOrder", func(t *testing.T) { testRetry(t, tr(t)) })
	t.Run("CloseStopsDelivery", func(t *testing.T) { testClose(t, tr(t), o.Durable) })
	t.Run("Ping", func(t *testing.T) {
		if err := tr(t).Ping(context.Background()); err != nil {
			t.Fatalf("ping: %v", err)
		}
	})
	if o.Durable {
		t.Run("PublishedBeforeSubscribe", func(t *testing.T) { testBeforeSubscribe(t, tr(t)) })
	}
}

// Events returns n events spread over the given aggregates (round robin),
// each with a distinct payload and a traceparent.
func Events(t testing.TB, n int, aggregates ...string) []bus.Event {
	t.Helper()
	if len(aggregates) == 0 {
		aggregates = []string{uuid.NewString()}
	}
	out := make([]bus.Event, n)
	for i := range out {
		e, err := bus.New("bustest", "test.happened", aggregates[i%len(aggregates)], map[string]any{"n": i, "note": "ü € \u2028"})
		if err != nil {
			t.Fatal(err)
		}
		e.Version = 1 + i%3
		e.Traceparent = fmt.Sprintf("00-%032x-%016x-01", i+1, i+1)
		out[i] = e
	}
	return out
}

// recorder collects the deliveries of one subscription.
type recorder struct {
	mu     sync.Mutex
	got    []bus.Event
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) handle(_ context.Context, e bus.Event) error {
	r.mu.Lock()
	r.got = append(r.got, e)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	return nil
}

func (r *recorder) events() []bus.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bus.Event(nil), r.got...)
}

// waitFor waits until ok holds for the deliveries so far.
func (r *recorder) waitFor(t *testing.T, what string, ok func([]bus.Event) bool) []bus.Event {
	t.Helper()
	deadline := time.After(wait)
	for {
		got := r.events()
		if ok(got) {
			return got
		}
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("after %s: %s; got %d deliveries", wait, what, len(got))
		}
	}
}

// waitCount waits for at least n deliveries.
func (r *recorder) waitCount(t *testing.T, n int) []bus.Event {
	t.Helper()
	return r.waitFor(t, fmt.Sprintf("want %d deliveries", n), func(got []bus.Event) bool { return len(got) >= n })
}

func subscribe(t *testing.T, tr bus.Transport, group string, h bus.Handler) bus.Subscription {
	t.Helper()
	s, err := tr.Subscribe(context.Background(), group, h)
	if err != nil {
		t.Fatalf("subscribe %s: %v", group, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func publish(t *testing.T, tr bus.Transport, events ...bus.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := tr.Publish(ctx, events...); err != nil {
		t.Fatalf("publish %d events: %v", len(events), err)
	}
}

// same reports how got differs from want; Payload must match byte for
// byte and Timestamp to the microsecond.
func same(got, want bus.Event) error {
	switch {
	case got.ID != want.ID, got.Type != want.Type, got.Version != want.Version,
		got.AggregateID != want.AggregateID, got.ServiceID != want.ServiceID, got.Traceparent != want.Traceparent:
		return fmt.Errorf("got %+v, want %+v", got, want)
	case !bytes.Equal(got.Payload, want.Payload):
		return fmt.Errorf("event %s: payload %s, want %s", want.ID, got.Payload, want.Payload)
	case !got.Timestamp.Truncate(time.Microsecond).Equal(want.Timestamp.Truncate(time.Microsecond)):
		return fmt.Errorf("event %s: timestamp %s, want %s", want.ID, got.Timestamp, want.Timestamp)
	}
	return nil
}

func sameSequence(t *testing.T, who string, got, want []bus.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d deliveries, want %d", who, len(got), len(want))
	}
	for i := range want {
		if err := same(got[i], want[i]); err != nil {
			t.Fatalf("%s: delivery %d: %v", who, i, err)
		}
	}
}

func testRoundTrip(t *testing.T, tr bus.Transport) {
	r := newRecorder()
	subscribe(t, tr, "roundtrip", r.handle)
	want := Events(t, 5)
	want[0].Traceparent = ""
	want[1].Payload = json.RawMessage(`[1,"two",{"three":null},4.5e-7]`)
	publish(t, tr, want...)
	sameSequence(t, "roundtrip", r.waitCount(t, len(want)), want)
}

func testGroups(t *testing.T, tr bus.Transport) {
	a, b := newRecorder(), newRecorder()
	subscribe(t, tr, "group-a", a.handle)
	subscribe(t, tr, "group-b", b.handle)
	want := Events(t, 20, "agg-1")
	publish(t, tr, want[:10]...)
	publish(t, tr, want[10:]...)
	sameSequence(t, "group-a", a.waitCount(t, len(want)), want)
	sameSequence(t, "group-b", b.waitCount(t, len(want)), want)
}

// byAggregate splits events into per-aggregate id sequences.
func byAggregate(events []bus.Event) map[string][]string {
	out := map[string][]string{}
	for _, e := range events {
		out[e.AggregateID] = append(out[e.AggregateID], e.ID)
	}
	return out
}

func testOrder(t *testing.T, tr bus.Transport) {
	r := newRecorder()
	subscribe(t, tr, "order", r.handle)
	want := Events(t, 200, "agg-1", "agg-2", "agg-3", "agg-4", "agg-5", "agg-6", "agg-7")
	for i := 0; i < len(want); i += 25 {
		publish(t, tr, want[i:i+25]...)
	}
	sameOrder(t, "order", r.waitCount(t, len(want)), want)
}

// testShared checks that two subscriptions of one group between them get
// every event; which member gets which is the transport's business.
func testShared(t *testing.T, tr bus.Transport) {
	r := newRecorder()
	subscribe(t, tr, "shared", r.handle)
	subscribe(t, tr, "shared", r.handle)
	want := Events(t, 40, "agg-1", "agg-2", "agg-3", "agg-4")
	publish(t, tr, want...)
	r.waitFor(t, "every event delivered to the group", includes(want))
}

func testRetry(t *testing.T, tr bus.Transport) {
	const failures = 2 // below the in-process bus's attempts per Publish
	evs := Events(t, 4, "agg-1")
	var (
		mu       sync.Mutex
		attempts = map[string]int{}
		order    []string
	)
	r := newRecorder()
	subscribe(t, tr, "flaky", func(ctx context.Context, e bus.Event) error {
		mu.Lock()
		attempts[e.ID]++
		n := attempts[e.ID]
		order = append(order, e.ID)
		mu.Unlock()
		if e.ID == evs[1].ID && n <= failures {
			return errors.New("not yet")
		}
		return r.handle(ctx, e)
	})
	publish(t, tr, evs...)
	r.waitCount(t, len(evs))

	mu.Lock()
	defer mu.Unlock()
	if attempts[evs[1].ID] != failures+1 {
		t.Fatalf("failing event attempted %d times, want %d", attempts[evs[1].ID], failures+1)
	}
	want := []string{evs[0].ID, evs[1].ID, evs[1].ID, evs[1].ID, evs[2].ID, evs[3].ID}
	if strings.Join(order, ",") != strings.Join(want, ",") {
		t.Fatalf("attempts in order %v, want %v", order, want)
	}
}

func testClose(t *testing.T, tr bus.Transport, durable bool) {
	var (
		mu     sync.Mutex
		closed bool
		late   []string
	)
	r := newRecorder()
	s := subscribe(t, tr, "closing", func(ctx context.Context, e bus.Event) error {
		mu.Lock()
		if closed {
			late = append(late, e.ID)
		}
		mu.Unlock()
		return r.handle(ctx, e)
	})
	witness := newRecorder()
	subscribe(t, tr, "witness", witness.handle)

	evs := Events(t, 20, "agg-1", "agg-2", "agg-3")
	before, after := evs[:10], evs[10:]
	publish(t, tr, before...)
	r.waitCount(t, len(before))
	if err := s.Close(); err != nil {
		t.Fatalf("close subscription: %v", err)
	}
	mu.Lock()
	closed = true
	mu.Unlock()

	publish(t, tr, after...)
	witness.waitCount(t, len(evs))
	mu.Lock()
	if len(late) > 0 {
		t.Fatalf("closed subscription still got %v", late)
	}
	mu.Unlock()
	if !durable {
		return
	}
	// The group resumes right after what it handled before closing: a
	// copy of a handled event would come before the later events of its
	// aggregate, a lost one would be missing.
	again := newRecorder()
	subscribe(t, tr, "closing", again.handle)
	got := again.waitFor(t, "want every event published while closed", includes(after))
	sameOrder(t, "resumed group", got, after)
}

// includes reports whether deliveries include every event of want.
func includes(want []bus.Event) func(got []bus.Event) bool {
	return func(got []bus.Event) bool {
		seen := map[string]bool{}
		for _, e := range got {
			seen[e.ID] = true
		}
		for _, e := range want {
			if !seen[e.ID] {
				return false
			}
		}
		return true
	}
}

// sameOrder checks that got holds exactly the events of want, each
// aggregate's in the order of want.
func sameOrder(t *testing.T, who string, got, want []bus.Event) {
	t.Helper()
	g := byAggregate(got)
	for agg, ids := range byAggregate(want) {
		if strings.Join(g[agg], ",") != strings.Join(ids, ",") {
			t.Fatalf("%s: aggregate %s: delivered %v, want %v", who, agg, g[agg], ids)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d deliveries, want %d", who, len(got), len(want))
	}
}

func testBeforeSubscribe(t *testing.T, tr bus.Transport) {
	want := Events(t, 30, "agg-1", "agg-2", "agg-3")
	publish(t, tr, want...)
	r := newRecorder()
	subscribe(t, tr, "late", r.handle)
	sameOrder(t, "late group", r.waitCount(t, len(want)), want)
}

// BenchmarkPublish measures the raw publish rate of 1 KiB events in
// batches of 100 per Publish call, reported as events/s.
func BenchmarkPublish(b *testing.B, tr bus.Transport) {
	const batch = 100
	payload, err := json.Marshal(map[string]string{"data": strings.Repeat("x", 1010)})
	if err != nil {
		b.Fatal(err)
	}
	aggregates := make([]string, 16)
	for i := range aggregates {
		aggregates[i] = uuid.NewString()
	}
	ctx := context.Background()
	events := make([]bus.Event, batch)
	n := 0
	start := time.Now()
	for b.Loop() {
		for i := range events {
			e, err := bus.New("bench", "bench.happened", aggregates[i%len(aggregates)], nil)
			if err != nil {
				b.Fatal(err)
			}
			e.Payload = payload
			events[i] = e
		}
		if err := tr.Publish(ctx, events...); err != nil {
			b.Fatal(err)
		}
		n += batch
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
}
