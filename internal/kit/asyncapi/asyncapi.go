// Package asyncapi writes an AsyncAPI 3.0 document of the platform's
// events: the one topic as a channel, every event contract as a message
// whose payload is the envelope with that contract's type, version and
// payload schema, and per service the operations it sends and receives.
// Payload schemas come from the contracts' Go types, by the same rules
// the OpenAPI documents use, so a client reads one vocabulary. It knows
// the document's format, not which events exist.
package asyncapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/httpapi"
)

// Service is one service's side of the events: what it consumes, as the
// module declares it ("*" for every type).
type Service struct {
	Name     string
	Consumes []string
}

// Info heads the document.
type Info struct {
	Title, Version, Description string
}

const (
	channel      = "events"
	messageRef   = "#/components/messages/"
	brokerScheme = "broker"
)

// Document builds the AsyncAPI document of contracts on topic, sent by
// their producers and received by services.
func Document(info Info, topic string, contracts []bus.Description, services []Service) ([]byte, error) {
	reg := huma.NewMapRegistry(httpapi.SchemaPrefix, httpapi.SchemaName)
	envelope := envelopeSchema()
	reg.Map()["Envelope"] = envelope
	messages := map[string]any{}
	channelMessages := map[string]any{}
	known := map[string]bool{}
	for _, c := range contracts {
		if known[c.Type] {
			return nil, fmt.Errorf("asyncapi: event type %s has two contracts", c.Type)
		}
		known[c.Type] = true
		payload := reg.Schema(c.Payload, true, c.Payload.Name())
		id := c.Type
		messages[id] = map[string]any{
			"name":        c.Type,
			"title":       c.Type + " v" + fmt.Sprint(c.Version),
			"summary":     c.Summary,
			"contentType": "application/json",
			"payload": map[string]any{
				"allOf": []any{
					map[string]any{"$ref": httpapi.SchemaPrefix + "Envelope"},
					map[string]any{
						"type":     "object",
						"required": []string{"type", "version", "payload"},
						"properties": map[string]any{
							"type":    map[string]any{"const": c.Type},
							"version": map[string]any{"const": c.Version},
							"payload": payload,
						},
					},
				},
			},
			"x-producer": c.Producer,
		}
		channelMessages[id] = map[string]any{"$ref": messageRef + id}
	}
	operations := map[string]any{}
	running := map[string]bool{}
	for _, s := range services {
		running[s.Name] = true
	}
	// Only services that exist send: a contract whose producer is still to
	// be built is documented for its consumers.
	for _, send := range producers(contracts) {
		if running[send.name] {
			operations[send.name+".send"] = operation("send", send.name+" publishes these events", send.types)
		}
	}
	for _, s := range services {
		types := s.Consumes
		if slices.Contains(types, "*") {
			types = slices.Sorted(maps.Keys(known))
		}
		for _, t := range types {
			if !known[t] {
				return nil, fmt.Errorf("asyncapi: %s consumes %s, which has no contract", s.Name, t)
			}
		}
		if len(types) > 0 {
			operations[s.Name+".receive"] = operation("receive", s.Name+" consumes these events, each once (an inbox of handled ids)", types)
		}
	}
	schemas := map[string]any{}
	for name, s := range reg.Map() {
		schemas[name] = s
	}
	return json.Marshal(map[string]any{
		"asyncapi":           "3.0.0",
		"info":               map[string]any{"title": info.Title, "version": info.Version, "description": info.Description},
		"defaultContentType": "application/json",
		"channels": map[string]any{
			channel: map[string]any{
				"address":     topic,
				"title":       topic,
				"description": "The platform's one topic (Kafka, NATS JetStream or in process); the key is the aggregate id, so the events of one case stay in order.",
				"messages":    channelMessages,
			},
		},
		"operations": operations,
		"components": map[string]any{
			"messages": messages,
			"schemas":  schemas,
			"securitySchemes": map[string]any{
				brokerScheme: map[string]any{
					"type": "X509",
					"description": "Each service reaches the broker (Kafka, NATS JetStream) with its own client certificate; " +
						"in the one-process mode the bus is in memory.",
				},
			},
		},
	})
}

type sender struct {
	name  string
	types []string
}

// producers groups the contracts by producer; those any service emits
// are sent by every producer named.
func producers(contracts []bus.Description) []sender {
	by := map[string][]string{}
	for _, c := range contracts {
		by[c.Producer] = append(by[c.Producer], c.Type)
	}
	var out []sender
	for _, name := range slices.Sorted(maps.Keys(by)) {
		if name == bus.AnyProducer {
			continue
		}
		out = append(out, sender{name, append(slices.Clone(by[name]), by[bus.AnyProducer]...)})
	}
	return out
}

func operation(action, summary string, types []string) map[string]any {
	slices.Sort(types)
	var refs []any
	for _, t := range types {
		refs = append(refs, map[string]any{"$ref": "#/channels/" + channel + "/messages/" + t})
	}
	return map[string]any{
		"action":   action,
		"channel":  map[string]any{"$ref": "#/channels/" + channel},
		"summary":  summary,
		"messages": refs,
		"security": []any{map[string]any{"$ref": "#/components/securitySchemes/" + brokerScheme}},
	}
}

// envelopeSchema is bus.Event's schema: every message's outer form.
func envelopeSchema() *huma.Schema {
	reg := huma.NewMapRegistry(httpapi.SchemaPrefix, httpapi.SchemaName)
	s := reg.Schema(reflect.TypeFor[bus.Event](), false, "Envelope")
	s.Description = "The envelope of every event (ARCHITECTURE.md §5); payload is the event type's own."
	return s
}
