package bus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
)

// Contract is one event type as producer and consumers agree on it: its
// name, version, the service that emits it and its payload type P. The
// contracts themselves live in api/events; this is how they are kept.
//
// A producer builds its events with New, so the payload is a P; a consumer
// subscribes a handler of P (outbox.Handle), so it reads the same type.
type Contract[P any] struct {
	Type    string // e.g. "case.created"
	Version int    // bumped when P changes incompatibly
	// Producer is the target that emits it; AnyProducer for an event
	// every service emits (the audit trail's).
	Producer string
	Summary  string // one line: what happened
}

// AnyProducer marks a contract every service may emit.
const AnyProducer = "*"

// New builds service's event about aggregateID with payload p. A service
// other than the contract's producer is refused: two services emitting one
// event type would make its consumers guess whose it is.
func (c Contract[P]) New(service, aggregateID string, p P) (Event, error) {
	if c.Producer != AnyProducer && service != c.Producer {
		return Event{}, fmt.Errorf("new %s event: emitted by %s, but its producer is %s", c.Type, service, c.Producer)
	}
	e, err := New(service, c.Type, aggregateID, p)
	e.Version = c.Version
	return e, err
}

// Decode reads e's payload as a P. An event of another type or version is
// refused: a consumer must not read a payload it was not written for.
// Fields P does not know are ignored, so producers may add fields.
func (c Contract[P]) Decode(e Event) (P, error) {
	var p P
	if e.Type != c.Type || e.Version != c.Version {
		return p, fmt.Errorf("%s %s: want %s version %d, got %s version %d", e.Type, e.ID, c.Type, c.Version, e.Type, e.Version)
	}
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return p, fmt.Errorf("%s %s: payload: %w", e.Type, e.ID, err)
	}
	return p, nil
}

// Describe is the contract without its type parameter, for catalogues.
func (c Contract[P]) Describe() Description {
	return Description{Type: c.Type, Version: c.Version, Producer: c.Producer, Summary: c.Summary,
		Payload: reflect.TypeFor[P](), strict: func(raw []byte) error {
			var p P
			d := json.NewDecoder(bytes.NewReader(raw))
			d.DisallowUnknownFields()
			if err := d.Decode(&p); err != nil {
				return err
			}
			if d.More() {
				return fmt.Errorf("data after the payload")
			}
			return nil
		}}
}

// Description is a contract as a catalogue lists it.
type Description struct {
	Type     string
	Version  int
	Producer string
	Summary  string
	Payload  reflect.Type
	strict   func([]byte) error
}

// Check reports how e breaks the contract: another type, version or
// producer, or a payload with a field the payload type does not describe.
// Tests hold every emitted event to its contract with it.
func (d Description) Check(e Event) error {
	switch {
	case e.Type != d.Type:
		return fmt.Errorf("event %s is a %s, not a %s", e.ID, e.Type, d.Type)
	case e.Version != d.Version:
		return fmt.Errorf("%s %s: version %d, the contract's is %d", e.Type, e.ID, e.Version, d.Version)
	case d.Producer != AnyProducer && e.ServiceID != d.Producer:
		return fmt.Errorf("%s %s: emitted by %s, the contract's producer is %s", e.Type, e.ID, e.ServiceID, d.Producer)
	}
	if err := d.strict(e.Payload); err != nil {
		return fmt.Errorf("%s %s: the payload is not a %s: %w", e.Type, e.ID, d.Payload, err)
	}
	return nil
}
