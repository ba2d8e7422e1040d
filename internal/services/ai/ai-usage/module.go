package aiusage

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "ai-usage"

// Module describes ai-usage to the binary. It calls no other service: it
// learns every request to an AI provider from ai.request.completed and
// ai.request.failed.
var Module = service.Module{
	Name:     Name,
	Domain:   service.AI,
	Summary:  "the plan's billing tracker: every AI request's tokens, latency and cost; monthly budgets",
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
