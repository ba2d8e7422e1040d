package caseassignment

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "case-assignment"

// Module describes case-assignment to the binary. It requires no peer: a
// claim is decided from its own projections of the events it consumes.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Professional,
	Summary:  "the pool of open cases, matching, claims and deadlines",
	Callers:  []rpc.Callers{rpcCallers},
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
