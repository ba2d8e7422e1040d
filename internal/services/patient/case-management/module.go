package casemanagement

import (
	"github.com/danielgtaylor/huma/v2"

	medicalrecords "github.com/secondopinion/platform/internal/clients/medical-records"
	patientidentity "github.com/secondopinion/platform/internal/clients/patient-identity"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "case-management"

// Module describes case-management to the binary.
var Module = service.Module{
	Name:     Name,
	Domain:   service.Patient,
	Summary:  "cases, their numbers, status lifecycle and timeline; their export and erasure",
	Requires: []string{patientidentity.Target, medicalrecords.Target},
	Callers:  []rpc.Callers{rpcCallers, dataCallers},
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
