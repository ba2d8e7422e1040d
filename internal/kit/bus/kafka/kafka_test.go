package kafka_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/bustest"
	"github.com/secondopinion/platform/internal/kit/bus/kafka"
	"github.com/secondopinion/platform/internal/kit/outbox/outboxtest"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// cluster starts an in-process Kafka cluster and returns its addresses.
func cluster(t testing.TB) []string {
	t.Helper()
	return startCluster(t, 1).ListenAddrs()
}

// startCluster starts brokers in-process on ports below the ephemeral
// range. Each broker is handed a listener already open, so no other test
// can take its port between choosing and binding it.
func startCluster(t testing.TB, brokers int) *kfake.Cluster {
	t.Helper()
	listen := func(string, string) (net.Listener, error) { return testkit.Listen(t), nil }
	c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.ListenFn(listen))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func connect(t testing.TB, brokers []string) *kafka.Transport {
	t.Helper()
	return connectWith(t, kafka.Config{Brokers: brokers, ClientID: "bustest"})
}

func connectWith(t testing.TB, cfg kafka.Config) *kafka.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := kafka.New(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to kfake: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestContract(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bus.Transport { return connect(t, cluster(t)) }, bustest.Options{Durable: true})
}

func TestNewIsIdempotent(t *testing.T) {
	brokers := cluster(t)
	connect(t, brokers)
	// The topic exists now; a second instance must accept that.
	if err := connect(t, brokers).Ping(context.Background()); err != nil {
		t.Fatalf("ping: %v", err)
	}
}

func TestPingFailsWhenTheClusterIsGone(t *testing.T) {
	c := startCluster(t, 1)
	tr := connect(t, c.ListenAddrs())
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := tr.Ping(ctx); err == nil {
		t.Fatal("ping succeeded without a cluster")
	}
}

// The topic is created as configured, and events go through it on a
// cluster of several brokers, where partition leaders differ.
func TestOwnTopicOnSeveralBrokers(t *testing.T) {
	brokers := startCluster(t, 3).ListenAddrs()
	cfg := kafka.Config{Brokers: brokers, ClientID: "bustest", Topic: "cases-" + uuid.NewString()[:8], Partitions: 3, ReplicationFactor: 3}
	tr := connectWith(t, cfg)

	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topics, err := kadm.NewClient(adm).ListTopics(ctx, cfg.Topic)
	if err != nil {
		t.Fatal(err)
	}
	td := topics[cfg.Topic]
	if td.Err != nil || len(td.Partitions) != 3 || len(td.Partitions[0].Replicas) != 3 {
		t.Fatalf("topic %s: err %v, %d partitions, want 3 with 3 replicas", cfg.Topic, td.Err, len(td.Partitions))
	}

	got := make(chan bus.Event, 12)
	sub, err := tr.Subscribe(ctx, "several", func(_ context.Context, e bus.Event) error { got <- e; return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	want := bustest.Events(t, 12, "agg-1", "agg-2", "agg-3", "agg-4")
	if err := tr.Publish(ctx, want...); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range want {
		select {
		case e := <-got:
			seen[e.ID] = true
		case <-ctx.Done():
			t.Fatalf("%d of %d events delivered", len(seen), len(want))
		}
	}
	for _, e := range want {
		if !seen[e.ID] {
			t.Fatalf("event %s not delivered", e.ID)
		}
	}
}

// BenchmarkPublish is the raw produce rate to kfake, 1 KiB events in
// batches of 100.
func BenchmarkPublish(b *testing.B) {
	bustest.BenchmarkPublish(b, connect(b, cluster(b)))
}

// BenchmarkOutboxToConsumer is the end-to-end rate from the producer's
// outbox through kfake to an idempotent consumer, to set against
// BenchmarkPublish.
func BenchmarkOutboxToConsumer(b *testing.B) {
	outboxtest.Pipeline(b, connect(b, cluster(b)))
}
