package reporting

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the target's name, and its consumer group on the bus.
const Name = "reporting"

// Module describes reporting to the binary. It calls no other service: it
// learns everything it counts from the events it consumes.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Platform,
	Summary:  "KPIs: cases by status, turnaround p50/p90, deadline breaches, revenue, AI usage per case, opinions per professional",
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
