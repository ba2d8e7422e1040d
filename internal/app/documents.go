package app

import (
	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/gateway"
	"github.com/secondopinion/platform/internal/kit/asyncapi"
	"github.com/secondopinion/platform/internal/kit/bus"
)

// OpenAPIDocument is the platform's published API: what the gateway
// serves at /openapi.json when every service is deployed.
// `make generate` writes it to api/openapi.json.
func OpenAPIDocument() ([]byte, error) {
	var ups []gateway.Upstream
	for _, m := range Catalogue() {
		ups = append(ups, gateway.Upstream{Target: m.Name, Spec: m.Spec()})
	}
	return gateway.Merge(ups)
}

// AsyncAPIDocument is the platform's events: every contract of api/events,
// who produces it and which services consume it. Served at /asyncapi.json;
// `make generate` writes it to api/asyncapi.json.
func AsyncAPIDocument() ([]byte, error) {
	var services []asyncapi.Service
	for _, m := range Catalogue() {
		services = append(services, asyncapi.Service{Name: m.Name, Consumes: m.Consumes})
	}
	return asyncapi.Document(asyncapi.Info{
		Title:   "Second Opinion events",
		Version: gateway.Version,
		Description: "The domain events of the Second Opinion platform: written to each service's outbox in the " +
			"transaction of the change, relayed at least once, consumed exactly once through an inbox. Payloads " +
			"carry ids and codes, never personal or health data.",
	}, bus.Topic, events.All(), services)
}
