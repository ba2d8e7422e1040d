// Package inproc is the embedded event bus: every consumer group lives in
// this process. It keeps nothing itself; it is durable because Publish
// delivers synchronously — it returns only after every group's handler has
// returned nil, and the outbox relay marks an event published only then.
// A crash before that leaves the event in the outbox, to be published
// again; consumers drop the duplicates through their inbox.
//
// Groups named to New are expected: while such a group has no live
// member (its service is still starting), Publish fails instead of
// skipping it, and the relay publishes again later — so no event is lost
// to a consumer that subscribes after the first publish.
//
// Order: one Publish delivers its events in order, and each group's handler
// is called by one publisher at a time, so events of one aggregate — which
// one relay publishes in outbox order — arrive in order.
package inproc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
)

// Bus is an in-process bus.Transport.
type Bus struct {
	mu     sync.RWMutex
	groups map[string]*group
	closed bool
}

// group is one consumer group: its members share delivery, and mu keeps
// one delivery at a time so the group sees events in publish order.
type group struct {
	mu       sync.Mutex
	members  []*subscription
	next     int
	expected bool // kept while it has no member; see New
}

type subscription struct {
	b     *Bus
	name  string
	h     bus.Handler
	once  sync.Once
	ended bool
}

// New returns a bus on which the named consumer groups are expected.
func New(expected ...string) *Bus {
	b := &Bus{groups: map[string]*group{}}
	for _, name := range expected {
		b.groups[name] = &group{expected: true}
	}
	return b
}

var (
	errClosed   = errors.New("in-process bus closed")
	errNoMember = errors.New("consumer group has no live member yet")
)

// attempts bounds the retries of a failing handler within one Publish; the
// outbox relay republishes later with its own backoff.
const attempts = 3

// Publish hands each event to every consumer group and returns once all of
// them have accepted it.
func (b *Bus) Publish(ctx context.Context, events ...bus.Event) error {
	for _, e := range events {
		b.mu.RLock()
		if b.closed {
			b.mu.RUnlock()
			return errClosed
		}
		groups := make([]*group, 0, len(b.groups))
		for _, g := range b.groups {
			groups = append(groups, g)
		}
		b.mu.RUnlock()
		for _, g := range groups {
			if err := g.deliver(ctx, e); err != nil {
				return fmt.Errorf("publish %s %s: %w", e.Type, e.ID, err)
			}
		}
	}
	return nil
}

func (g *group) deliver(ctx context.Context, e bus.Event) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var err error
	for i := range attempts {
		s := g.pick()
		if s == nil {
			if g.expected {
				return errNoMember
			}
			return nil // the group was closed meanwhile
		}
		if err = s.h(ctx, e); err == nil {
			return nil
		}
		if i == attempts-1 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(10<<i) * time.Millisecond):
		}
	}
	return err
}

// pick rotates through the group's live members.
func (g *group) pick() *subscription {
	for range g.members {
		s := g.members[g.next%len(g.members)]
		g.next++
		if !s.ended {
			return s
		}
	}
	return nil
}

// Subscribe joins the consumer group named group. The bus keeps no
// history: a group sees only events published after it first subscribed.
func (b *Bus) Subscribe(_ context.Context, name string, h bus.Handler) (bus.Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	g := b.groups[name]
	if g == nil {
		g = &group{}
		b.groups[name] = g
	}
	s := &subscription{b: b, name: name, h: h}
	g.mu.Lock()
	g.members = append(g.members, s)
	g.mu.Unlock()
	return s, nil
}

// Close ends delivery to this member; it waits for a delivery in progress.
func (s *subscription) Close() error {
	s.once.Do(func() {
		s.b.mu.Lock()
		defer s.b.mu.Unlock()
		g := s.b.groups[s.name]
		g.mu.Lock()
		defer g.mu.Unlock()
		s.ended = true
		live := g.members[:0]
		for _, m := range g.members {
			if !m.ended {
				live = append(live, m)
			}
		}
		g.members = live
		if len(live) == 0 && !g.expected {
			delete(s.b.groups, s.name)
		}
	})
	return nil
}

// Ping is always nil: the bus is this process.
func (b *Bus) Ping(context.Context) error { return nil }

// Close stops every delivery; later publishes fail.
func (b *Bus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}
