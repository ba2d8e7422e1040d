package medicalrecords

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "medical-records"

// Module describes medical-records to the binary. It reads cases from
// case-management (their owner, status and specialty) and active
// assignments from case-assignment (who may read a case's records), and
// consumes patient.erased.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Patient,
	Summary:  "the records of cases: checked, hashed, encrypted per patient in blob storage, de-identified for professionals",
	Requires: []string{"case-management", "case-assignment"},
	Callers:  []rpc.Callers{rpcCallers},
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
