package bus_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/kit/bus"
)

type happened struct {
	ThingID string `json:"thingId"`
	Count   int    `json:"count"`
}

var thingHappened = bus.Contract[happened]{Type: "thing.happened", Version: 2, Producer: "things", Summary: "a thing happened"}

func TestContractRoundTrip(t *testing.T) {
	e, err := thingHappened.New("things", "t1", happened{ThingID: "t1", Count: 3})
	if err != nil {
		t.Fatal(err)
	}
	if e.Type != "thing.happened" || e.Version != 2 || e.ServiceID != "things" || e.AggregateID != "t1" {
		t.Errorf("envelope %+v", e)
	}
	if err := thingHappened.Describe().Check(e); err != nil {
		t.Errorf("own event breaks the contract: %v", err)
	}
	p, err := thingHappened.Decode(e)
	if err != nil || p != (happened{"t1", 3}) {
		t.Errorf("decoded %+v, %v", p, err)
	}
}

func TestContractRefusals(t *testing.T) {
	if _, err := thingHappened.New("other", "t1", happened{}); err == nil {
		t.Error("another service emitted the event")
	}
	e, _ := thingHappened.New("things", "t1", happened{ThingID: "t1"})
	old := e
	old.Version = 1
	if _, err := thingHappened.Decode(old); err == nil {
		t.Error("decoded another version")
	}
	d := thingHappened.Describe()
	for name, mutate := range map[string]func(*bus.Event){
		"version":     func(e *bus.Event) { e.Version = 1 },
		"type":        func(e *bus.Event) { e.Type = "thing.vanished" },
		"producer":    func(e *bus.Event) { e.ServiceID = "impostor" },
		"extra field": func(e *bus.Event) { e.Payload = json.RawMessage(`{"thingId":"t1","count":1,"name":"Jane"}`) },
		"wrong type":  func(e *bus.Event) { e.Payload = json.RawMessage(`{"thingId":1}`) },
	} {
		bad := e
		mutate(&bad)
		if err := d.Check(bad); err == nil {
			t.Errorf("%s: the contract accepted %s", name, bad.Payload)
		}
	}
	// A consumer reads what it knows and ignores additions.
	e.Payload = json.RawMessage(`{"thingId":"t1","count":1,"addedLater":true}`)
	if p, err := thingHappened.Decode(e); err != nil || p.Count != 1 {
		t.Errorf("tolerant decode: %+v %v", p, err)
	}
	if !strings.Contains(d.Payload.String(), "happened") {
		t.Errorf("payload type %s", d.Payload)
	}
}

func TestAnyProducer(t *testing.T) {
	recorded := bus.Contract[happened]{Type: "audit.recorded", Version: 1, Producer: bus.AnyProducer}
	for _, svc := range []string{"a", "b"} {
		e, err := recorded.New(svc, "x", happened{})
		if err != nil || recorded.Describe().Check(e) != nil || e.ServiceID != svc {
			t.Errorf("%s: %v", svc, err)
		}
	}
}
