package payouts

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "payouts"

// Module describes payouts to the binary. It calls no other service: it
// learns every approved opinion, its author's level and its reviewer from
// opinion.approved.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Financial,
	Summary:  "earnings per approved opinion by level, statements, payout batches with CSV and SEPA credit transfer files",
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
