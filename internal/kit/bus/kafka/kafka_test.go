package kafka_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/bustest"
	"github.com/secondopinion/platform/internal/kit/bus/kafka"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// cluster starts an in-process Kafka cluster and returns its addresses.
func cluster(t testing.TB) []string {
	t.Helper()
	return startCluster(t).ListenAddrs()
}

func startCluster(t testing.TB) *kfake.Cluster {
	t.Helper()
	_, p, err := net.SplitHostPort(testkit.FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func connect(t testing.TB, brokers []string) *kafka.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := kafka.New(ctx, kafka.Config{Brokers: brokers, ClientID: "bustest"})
	if err != nil {
		t.Fatalf("connect to kfake: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestContract(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bus.Transport { return connect(t, cluster(t)) }, bustest.Durable())
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
	c := startCluster(t)
	tr := connect(t, c.ListenAddrs())
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := tr.Ping(ctx); err == nil {
		t.Fatal("ping succeeded without a cluster")
	}
}

func BenchmarkPublish(b *testing.B) {
	bustest.BenchmarkPublish(b, connect(b, cluster(b)))
}
