package aiorchestration

import (
	"github.com/danielgtaylor/huma/v2"

	aiproviders "github.com/secondopinion/platform/internal/clients/ai-providers"
	caseassignment "github.com/secondopinion/platform/internal/clients/case-assignment"
	documentanalysis "github.com/secondopinion/platform/internal/clients/document-analysis"
	medicalrecords "github.com/secondopinion/platform/internal/clients/medical-records"
	patientconsent "github.com/secondopinion/platform/internal/clients/patient-consent"
	patientidentity "github.com/secondopinion/platform/internal/clients/patient-identity"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "ai-orchestration"

// requires are the targets the service calls.
var requires = []string{documentanalysis.Target, aiproviders.Target, medicalrecords.Target, patientconsent.Target,
	patientidentity.Target, caseassignment.Target}

// Module describes ai-orchestration to the binary. It lists a case's
// records at medical-records, has document-analysis analyse each and
// ai-providers synthesise them, asks patient-consent for the AI_PROCESSING
// consent and patient-identity for what the privacy gate must remove, and
// case-assignment who may read the result.
var Module = service.Module{
	Name:     Name,
	Domain:   service.AI,
	Summary:  "the AI pre-analysis of submitted cases: jobs, retries, the orphan-case manager and its triage",
	Requires: requires,
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
