// Package bus carries domain events between services: the envelope every
// service keeps (ARCHITECTURE.md §5) and the Transport interface with its
// implementations — in-process (embedded default), Kafka and NATS JetStream.
// Transports deliver at least once; exactly-once effects are the consumer's
// job (package outbox keeps the inbox).
package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Topic is the one topic of the platform, as in the migration plan.
const Topic = "medical-platform-events"

// Event is the envelope of every domain event: the plan's {type, payload,
// timestamp, serviceId} plus id, version, aggregateId and traceparent. The
// aggregate id is the partition key, so events of one case stay in order.
type Event struct {
	ID          string          `json:"id"` // UUIDv7
	Type        string          `json:"type"`
	Version     int             `json:"version"`
	AggregateID string          `json:"aggregateId"`
	Payload     json.RawMessage `json:"payload"`
	Timestamp   time.Time       `json:"timestamp"`
	ServiceID   string          `json:"serviceId"`
	Traceparent string          `json:"traceparent,omitempty"`
}

// New builds an event with a fresh UUIDv7 id, version 1 and the current UTC
// time. Payload is marshalled to JSON.
func New(service, typ, aggregateID string, payload any) (Event, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Event{}, fmt.Errorf("new %s event: %w", typ, err)
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return Event{}, fmt.Errorf("new %s event: marshal payload: %w", typ, err)
	}
	return Event{
		ID:          id.String(),
		Type:        typ,
		Version:     1,
		AggregateID: aggregateID,
		Payload:     raw,
		Timestamp:   time.Now().UTC(),
		ServiceID:   service,
	}, nil
}

// Handler consumes one event. Returning nil acknowledges it; an error asks
// the transport to deliver it again later.
type Handler func(ctx context.Context, e Event) error

// Transport publishes and delivers events.
type Transport interface {
	// Publish returns once the broker has durably accepted every event, in
	// order.
	Publish(ctx context.Context, events ...Event) error
	// Subscribe delivers every event on the topic to h, as the consumer
	// group named group (one per consuming service), until the returned
	// Subscription is closed. Events of one aggregate arrive in order.
	Subscribe(ctx context.Context, group string, h Handler) (Subscription, error)
	// Ping checks the broker is reachable, for readiness.
	Ping(ctx context.Context) error
	Close() error
}

// Subscription is a running consumer.
type Subscription interface {
	Close() error
}
