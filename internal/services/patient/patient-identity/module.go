package patientidentity

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/clients/auth"
	casemanagement "github.com/secondopinion/platform/internal/clients/case-management"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "patient-identity"

// holders are the services that hold part of a patient's data and serve
// it for the export through PatientDataService, in the bundle's order.
var holders = []string{"patient-consent", casemanagement.Target, "medical-records", "medical-opinion", "audit"}

// Module describes patient-identity to the binary. It consumes no events:
// it calls auth for logins and password checks, and the holders of a
// patient's data for the export.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Patient,
	Summary:  "patients (the plan's Customer), registered together with their login",
	Requires: append([]string{auth.Target}, holders...),
	Callers:  []rpc.Callers{rpcCallers},
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
