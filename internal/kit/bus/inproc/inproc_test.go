package inproc_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
)

func events(t *testing.T, n int) []bus.Event {
	t.Helper()
	out := make([]bus.Event, n)
	for i := range out {
		e, err := bus.New("test", "thing.happened", fmt.Sprintf("agg-%d", i%3), map[string]int{"n": i})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = e
	}
	return out
}

func TestEveryGroupGetsEveryEventInOrder(t *testing.T) {
	ctx := context.Background()
	b := inproc.New()
	got := map[string][]string{}
	var mu sync.Mutex
	for _, g := range []string{"a", "b"} {
		if _, err := b.Subscribe(ctx, g, func(_ context.Context, e bus.Event) error {
			mu.Lock()
			defer mu.Unlock()
			got[g] = append(got[g], e.ID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	evs := events(t, 50)
	if err := b.Publish(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"a", "b"} {
		if len(got[g]) != len(evs) {
			t.Fatalf("group %s got %d events, want %d", g, len(got[g]), len(evs))
		}
		for i, e := range evs {
			if got[g][i] != e.ID {
				t.Fatalf("group %s: event %d out of order", g, i)
			}
		}
	}
}

func TestMembersOfAGroupShareDelivery(t *testing.T) {
	ctx := context.Background()
	b := inproc.New()
	var n1, n2 int
	b.Subscribe(ctx, "g", func(context.Context, bus.Event) error { n1++; return nil })
	b.Subscribe(ctx, "g", func(context.Context, bus.Event) error { n2++; return nil })
	if err := b.Publish(ctx, events(t, 10)...); err != nil {
		t.Fatal(err)
	}
	if n1+n2 != 10 || n1 == 0 || n2 == 0 {
		t.Fatalf("deliveries %d + %d, want 10 shared", n1, n2)
	}
}

func TestFailingHandlerIsRetriedThenPublishFails(t *testing.T) {
	ctx := context.Background()
	b := inproc.New()
	calls := 0
	b.Subscribe(ctx, "flaky", func(context.Context, bus.Event) error {
		calls++
		if calls < 2 {
			return errors.New("not yet")
		}
		return nil
	})
	if err := b.Publish(ctx, events(t, 1)...); err != nil || calls != 2 {
		t.Fatalf("publish = %v after %d calls, want success on the 2nd", err, calls)
	}

	b2 := inproc.New()
	b2.Subscribe(ctx, "down", func(context.Context, bus.Event) error { return errors.New("down") })
	if err := b2.Publish(ctx, events(t, 1)...); err == nil {
		t.Fatal("publish succeeded although the consumer never accepted the event")
	}
}

func TestClosedSubscriptionGetsNothing(t *testing.T) {
	ctx := context.Background()
	b := inproc.New()
	n := 0
	s, _ := b.Subscribe(ctx, "g", func(context.Context, bus.Event) error { n++; return nil })
	s.Close()
	if err := b.Publish(ctx, events(t, 3)...); err != nil || n != 0 {
		t.Fatalf("after close: err %v, %d deliveries", err, n)
	}
	b.Close()
	if err := b.Publish(ctx, events(t, 1)...); err == nil {
		t.Fatal("publish on a closed bus succeeded")
	}
}
