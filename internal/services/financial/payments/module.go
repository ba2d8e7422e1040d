package payments

import (
	"github.com/danielgtaylor/huma/v2"

	casemanagement "github.com/secondopinion/platform/internal/clients/case-management"
	"github.com/secondopinion/platform/internal/clients/pricing"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "payments"

// requires are the targets the service calls: pricing redeems the quote a
// patient pays with, case-management tells whose the case is and whether
// it awaits payment.
var requires = []string{pricing.Target, casemanagement.Target}

// Module describes payments to the binary.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Financial,
	Summary:  "payments per case through the sandbox or Stripe: idempotent charges, 3-D Secure, refunds, signed webhooks, reconciliation",
	Requires: requires,
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
