package patientidentity

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/clients/auth"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "patient-identity"

// Module describes patient-identity to the binary. It consumes no events.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Patient,
	Summary:  "patients (the plan's Customer), registered together with their login",
	Requires: []string{auth.Target},
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
