package inproc_test

import (
	"context"
	"errors"
	"testing"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/bustest"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
)

func TestContract(t *testing.T) {
	bustest.Run(t, func(*testing.T) bus.Transport { return inproc.New() })
}

func subscribe(t *testing.T, b *inproc.Bus, group string, h bus.Handler) bus.Subscription {
	t.Helper()
	s, err := b.Subscribe(context.Background(), group, h)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMembersOfAGroupShareDelivery(t *testing.T) {
	b := inproc.New()
	var n1, n2 int
	subscribe(t, b, "g", func(context.Context, bus.Event) error { n1++; return nil })
	subscribe(t, b, "g", func(context.Context, bus.Event) error { n2++; return nil })
	if err := b.Publish(context.Background(), bustest.Events(t, 10)...); err != nil {
		t.Fatal(err)
	}
	if n1+n2 != 10 || n1 == 0 || n2 == 0 {
		t.Fatalf("deliveries %d + %d, want 10 shared", n1, n2)
	}
}

func TestPublishFailsWhileAConsumerRefuses(t *testing.T) {
	b := inproc.New()
	calls := 0
	subscribe(t, b, "down", func(context.Context, bus.Event) error { calls++; return errors.New("down") })
	if err := b.Publish(context.Background(), bustest.Events(t, 1)...); err == nil {
		t.Fatal("publish succeeded although the consumer never accepted the event")
	}
	if calls < 2 {
		t.Fatalf("handler called %d times, want retries", calls)
	}
}

func TestClosedBusRefusesPublish(t *testing.T) {
	b := inproc.New()
	b.Close()
	if err := b.Publish(context.Background(), bustest.Events(t, 1)...); err == nil {
		t.Fatal("publish on a closed bus succeeded")
	}
}

func BenchmarkPublish(b *testing.B) {
	bb := inproc.New()
	if _, err := bb.Subscribe(context.Background(), "noop", func(context.Context, bus.Event) error { return nil }); err != nil {
		b.Fatal(err)
	}
	bustest.BenchmarkPublish(b, bb)
}

// An expected group that has not subscribed yet makes Publish fail, so
// the outbox keeps the event until the consumer is there.
func TestExpectedGroupHoldsEventsUntilItSubscribes(t *testing.T) {
	ctx := context.Background()
	b := inproc.New("late")
	if err := b.Publish(ctx, bustest.Events(t, 1)...); err == nil {
		t.Fatal("publish succeeded with an expected consumer missing")
	}
	n := 0
	s := subscribe(t, b, "late", func(context.Context, bus.Event) error { n++; return nil })
	if err := b.Publish(ctx, bustest.Events(t, 1)...); err != nil || n != 1 {
		t.Fatalf("after subscribe: %v, %d deliveries", err, n)
	}
	s.Close()
	if err := b.Publish(ctx, bustest.Events(t, 1)...); err == nil {
		t.Fatal("publish succeeded after the expected consumer left")
	}
}
