package medicalopinion

import (
	"github.com/danielgtaylor/huma/v2"

	caseassignment "github.com/secondopinion/platform/internal/clients/case-assignment"
	casemanagement "github.com/secondopinion/platform/internal/clients/case-management"
	professionalidentity "github.com/secondopinion/platform/internal/clients/professional-identity"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "medical-opinion"

// Module describes medical-opinion to the binary. Beside its public API it
// serves patient-identity its part of a patient's export over the internal
// PatientDataService.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Professional,
	Summary:  "structured opinions, peer review of JUNIOR opinions, the PDF report and follow-up questions",
	Requires: []string{casemanagement.Target, professionalidentity.Target, caseassignment.Target},
	Callers:  []rpc.Callers{dataCallers},
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
