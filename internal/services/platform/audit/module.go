package audit

import (
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the target's name, and its consumer group on the bus.
const Name = "audit"

// Module describes the audit trail to the binary. It consumes every event
// type (patient.erased and case.erased also pseudonymise the patient and
// their cases), and serves
// PatientDataService to patient-identity for a patient's export.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Platform,
	Summary:  "the append-only, hash-chained record of every access to and change of health data",
	Callers:  []rpc.Callers{rpcCallers},
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
