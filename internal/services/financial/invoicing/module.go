package invoicing

import (
	"github.com/danielgtaylor/huma/v2"

	patientidentity "github.com/secondopinion/platform/internal/clients/patient-identity"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "invoicing"

// Module describes invoicing to the binary. It learns what to invoice from
// payment.succeeded and payment.refunded, and asks patient-identity who
// the buyer is when it issues an invoice.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Financial,
	Summary:  "invoices with gap-free numbers per region and year, credit notes for refunds, their PDF",
	Requires: []string{patientidentity.Target},
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
