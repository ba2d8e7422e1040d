package jetstream_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/bustest"
	"github.com/secondopinion/platform/internal/kit/bus/jetstream"
	"github.com/secondopinion/platform/internal/kit/outbox/outboxtest"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// open connects to the test server with a stream and subjects of this
// test's own, and deletes the stream afterwards.
func open(t testing.TB) (*jetstream.Transport, jetstream.Config) {
	t.Helper()
	url := testkit.Env(t, "TEST_NATS_URL")
	suffix := strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	cfg := jetstream.Config{URL: url, Stream: "BUSTEST_" + suffix, Subject: "bustest-" + suffix, Name: "bustest"}
	t.Cleanup(func() { deleteStream(t, url, cfg.Stream) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := jetstream.New(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr, cfg
}

func deleteStream(t testing.TB, url, stream string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Errorf("delete stream %s: %v", stream, err)
		return
	}
	defer nc.Close()
	js, err := natsjs.New(nc)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = js.DeleteStream(ctx, stream)
	}
	if err != nil && !errors.Is(err, natsjs.ErrStreamNotFound) {
		t.Errorf("delete stream %s: %v", stream, err)
	}
}

func TestContract(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bus.Transport { tr, _ := open(t); return tr }, bustest.Options{Durable: true})
}

func TestPublishDropsRepublishedEvents(t *testing.T) {
	tr, _ := open(t)
	evs := bustest.Events(t, 4)
	ctx := context.Background()
	for range 2 {
		if err := tr.Publish(ctx, evs[:3]...); err != nil {
			t.Fatal(err)
		}
	}
	// A copy stored by the republish would come before this last event.
	if err := tr.Publish(ctx, evs[3]); err != nil {
		t.Fatal(err)
	}
	got := make(chan bus.Event, len(evs)*2)
	if _, err := tr.Subscribe(ctx, "dedup", func(_ context.Context, e bus.Event) error { got <- e; return nil }); err != nil {
		t.Fatal(err)
	}
	for i, want := range evs {
		select {
		case e := <-got:
			if e.ID != want.ID {
				t.Fatalf("delivery %d: event %s, want %s", i, e.ID, want.ID)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("delivery %d missing", i)
		}
	}
}

// A handler that takes longer than AckWait is not given the event again
// while it works: it tells the server so. (A short AckWait is what lets
// the event a killed process held come back quickly: test/chaos.)
func TestSlowHandlerIsNotRedelivered(t *testing.T) {
	_, cfg := open(t)
	cfg.AckWait = 500 * time.Millisecond
	ctx := context.Background()
	tr, err := jetstream.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	evs := bustest.Events(t, 2)
	if err := tr.Publish(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	if _, err := tr.Subscribe(ctx, "slow", func(_ context.Context, e bus.Event) error {
		if e.ID == evs[0].ID {
			time.Sleep(4 * cfg.AckWait)
		}
		got <- e.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for len(ids) < 2 {
		select {
		case id := <-got:
			ids = append(ids, id)
		case <-time.After(10 * time.Second):
			t.Fatalf("deliveries so far %v", ids)
		}
	}
	select {
	case id := <-got:
		ids = append(ids, id)
	case <-time.After(3 * cfg.AckWait):
	}
	if len(ids) != 2 || ids[0] != evs[0].ID || ids[1] != evs[1].ID {
		t.Fatalf("handled %v, want each of %s, %s once", ids, evs[0].ID, evs[1].ID)
	}
}

func TestPublishRejectsTypesThatAreNoSubject(t *testing.T) {
	tr, _ := open(t)
	e := bustest.Events(t, 1)[0]
	e.Type = "case.*"
	if err := tr.Publish(context.Background(), e); err == nil {
		t.Fatal("published an event whose type is a wildcard")
	}
}

func TestPingFailsWithoutTheStream(t *testing.T) {
	tr, cfg := open(t)
	if err := tr.Ping(context.Background()); err != nil {
		t.Fatalf("ping: %v", err)
	}
	deleteStream(t, cfg.URL, cfg.Stream)
	if err := tr.Ping(context.Background()); err == nil {
		t.Fatal("ping succeeded although the stream is gone")
	}
}

// BenchmarkPublish is the raw publish rate to the server, 1 KiB events in
// batches of 100.
func BenchmarkPublish(b *testing.B) {
	tr, _ := open(b)
	bustest.BenchmarkPublish(b, tr)
}

// BenchmarkOutboxToConsumer is the end-to-end rate from the producer's
// outbox through JetStream to an idempotent consumer, to set against
// BenchmarkPublish.
func BenchmarkOutboxToConsumer(b *testing.B) {
	tr, _ := open(b)
	outboxtest.Pipeline(b, tr)
}
