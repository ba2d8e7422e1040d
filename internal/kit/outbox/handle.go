package outbox

import (
	"context"
	"database/sql"
	"slices"

	"github.com/secondopinion/platform/internal/kit/bus"
)

// Subscription is a service's handler of one event type, declared once
// beside the service and bound to it when it is built: the declaration
// says what the service consumes (its module lists it), the binding gives
// the consumer its handler.
type Subscription[S any] struct {
	typ  string // bus.AnyProducer's "*" for the fallback of every type
	bind func(S) HandlerFunc
}

// Handle subscribes h, a method expression such as (*Service).onAssigned,
// to c's events: it receives the payload decoded as c's type. A payload
// that does not decode is an error, retried and then a dead letter.
func Handle[S, P any](c bus.Contract[P], h func(S, context.Context, *sql.Tx, bus.Event, P) error) Subscription[S] {
	return Subscription[S]{typ: c.Type, bind: func(s S) HandlerFunc {
		return func(ctx context.Context, tx *sql.Tx, e bus.Event) error {
			p, err := c.Decode(e)
			if err != nil {
				return err
			}
			return h(s, ctx, tx, e, p)
		}
	}}
}

// HandleAll subscribes h to every event type no other subscription of the
// service handles: a consumer of all events (the audit trail) reads the
// envelope only.
func HandleAll[S any](h func(S, context.Context, *sql.Tx, bus.Event) error) Subscription[S] {
	return Subscription[S]{typ: bus.AnyProducer, bind: func(s S) HandlerFunc {
		return func(ctx context.Context, tx *sql.Tx, e bus.Event) error { return h(s, ctx, tx, e) }
	}}
}

// Subscriptions are everything a service consumes.
type Subscriptions[S any] []Subscription[S]

// Types lists the consumed event types, "*" for all.
func (ss Subscriptions[S]) Types() []string {
	var out []string
	for _, sub := range ss {
		out = append(out, sub.typ)
	}
	slices.Sort(out)
	return out
}

// Handlers are a service's bound handlers: one per event type, and the
// fallback of HandleAll for every other type.
type Handlers struct {
	ByType   map[string]HandlerFunc
	Fallback HandlerFunc
	// Journal records each handled event in the journal (Journaled).
	Journal bool
}

// handler is the handler of an event type, the fallback, or nil.
func (h Handlers) handler(typ string) HandlerFunc {
	if f, ok := h.ByType[typ]; ok {
		return f
	}
	return h.Fallback
}

// Empty reports whether the service consumes nothing.
func (h Handlers) Empty() bool { return len(h.ByType) == 0 && h.Fallback == nil }

// Bind gives s's handlers.
func (ss Subscriptions[S]) Bind(s S) Handlers {
	h := Handlers{ByType: map[string]HandlerFunc{}}
	for _, sub := range ss {
		if sub.typ == bus.AnyProducer {
			h.Fallback = sub.bind(s)
			continue
		}
		h.ByType[sub.typ] = sub.bind(s)
	}
	return h
}
