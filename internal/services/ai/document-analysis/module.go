package documentanalysis

import (
	"github.com/danielgtaylor/huma/v2"

	caseassignment "github.com/secondopinion/platform/internal/clients/case-assignment"
	medicalrecords "github.com/secondopinion/platform/internal/clients/medical-records"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Name is the service's target name.
const Name = "document-analysis"

// Module describes document-analysis to the binary. It reads records from
// medical-records, and asks case-assignment who is assigned to a case
// before a professional reads an analysis.
var Module = service.Module{
	Name:     Name,
	Domain:   service.AI,
	Summary:  "text from every record (PDF, DOCX, text, OCR, DICOM metadata) and its medical analysis: cited entities, negation, ICD-10 concepts, key findings, summary",
	Requires: []string{medicalrecords.Target, caseassignment.Target},
	Callers:  []rpc.Callers{rpcCallers},
	Consumes: subscriptions.Types(),
	Migrate:  Migrate,
	Routes:   func(api huma.API) { new(Service).routes(api) },
	Build:    service.Builds(New),
}
