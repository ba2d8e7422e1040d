package aiproviders

import (
	"github.com/danielgtaylor/huma/v2"

	patientconsent "github.com/secondopinion/platform/internal/clients/patient-consent"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "ai-providers"

// Module describes ai-providers to the binary. It asks patient-consent for
// the patient's AI_PROCESSING consent before any provider is called;
// ai-orchestration calls it; it learns spent budgets from
// ai.budget.exceeded.
var Module = service.Module{
	Name:     Name,
	Domain:   service.AI,
	Summary:  "AI provider adapters (local, OpenAI-compatible, Anthropic), routing, failover, circuit breakers and the privacy gate",
	Requires: []string{patientconsent.Target},
	Callers:  []rpc.Callers{rpcCallers},
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
