package asyncapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
)

type opened struct {
	CaseID    string    `json:"caseId" format:"uuid"`
	Timestamp time.Time `json:"timestamp"`
}

type recorded struct {
	Action string `json:"action"`
}

var (
	caseOpened = bus.Contract[opened]{Type: "case.opened", Version: 2, Producer: "cases", Summary: "a case was opened"}
	auditRec   = bus.Contract[recorded]{Type: "audit.recorded", Version: 1, Producer: bus.AnyProducer}
)

func TestDocument(t *testing.T) {
	raw, err := Document(Info{Title: "Events", Version: "1"}, "topic-x",
		[]bus.Description{caseOpened.Describe(), auditRec.Describe()},
		[]Service{{Name: "cases"}, {Name: "pool", Consumes: []string{"case.opened"}}, {Name: "trail", Consumes: []string{"*"}}})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AsyncAPI string
		Channels map[string]struct {
			Address  string
			Messages map[string]any
		}
		Operations map[string]struct {
			Action   string
			Messages []map[string]string
		}
		Components struct {
			Messages map[string]map[string]any
			Schemas  map[string]map[string]any
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.AsyncAPI != "3.0.0" || doc.Channels["events"].Address != "topic-x" || len(doc.Channels["events"].Messages) != 2 {
		t.Fatalf("head %+v", doc)
	}
	for op, want := range map[string]int{"cases.send": 2, "pool.receive": 1, "trail.receive": 2} {
		if got := len(doc.Operations[op].Messages); got != want {
			t.Errorf("%s has %d messages, want %d", op, got, want)
		}
	}
	if _, ok := doc.Operations["*.send"]; ok {
		t.Error("the any-producer has an operation of its own")
	}
	if doc.Operations["trail.receive"].Action != "receive" {
		t.Error("receive action")
	}
	payload, _ := json.Marshal(doc.Components.Messages["case.opened"]["payload"])
	for _, want := range []string{`"const":"case.opened"`, `"const":2`, `#/components/schemas/Opened`, `#/components/schemas/Envelope`} {
		if !strings.Contains(string(payload), want) {
			t.Errorf("payload lacks %s: %s", want, payload)
		}
	}
	if _, ok := doc.Components.Schemas["Opened"]["properties"].(map[string]any)["caseId"]; !ok {
		t.Errorf("payload schema %v", doc.Components.Schemas["Opened"])
	}
}

func TestConsumingAnUnknownTypeIsAnError(t *testing.T) {
	if _, err := Document(Info{}, "t", []bus.Description{caseOpened.Describe()}, []Service{{Name: "x", Consumes: []string{"case.closed"}}}); err == nil {
		t.Fatal("a consumer of an event without a contract was documented")
	}
}
