package pricing

import (
	"github.com/danielgtaylor/huma/v2"

	casemanagement "github.com/secondopinion/platform/internal/clients/case-management"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "pricing"

// Module describes pricing to the binary. It reads cases from
// case-management to quote them, and consumes the erasures of cases and
// patients.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Financial,
	Summary:  "the catalogue (specialty × urgency × region → price, currency, tax rate), discount codes, and signed expiring quotes that payments redeems",
	Requires: []string{casemanagement.Target},
	Callers:  []rpc.Callers{rpcCallers},
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
