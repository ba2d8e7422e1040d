package patientconsent

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "patient-consent"

// Module describes patient-consent to the binary. It calls no other
// service, and consumes patient.erased.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Patient,
	Summary:  "patients' consents per purpose, versioned by the consent text they agree to, with their history; their export and erasure",
	Callers:  []rpc.Callers{rpcCallers},
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
