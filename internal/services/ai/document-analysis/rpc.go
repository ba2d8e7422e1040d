package documentanalysis

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	aiv1 "github.com/secondopinion/platform/api/gen/ai/v1"
	"github.com/secondopinion/platform/api/gen/ai/v1/aiv1connect"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/services/ai/document-analysis/nlp"
)

// rpcCallers is who may have a record analysed: ai-orchestration, which
// runs the analysis of a submitted case's records.
var rpcCallers = rpc.Callers{
	aiv1connect.AnalysisServiceAnalyzeProcedure: {"ai-orchestration"},
}

// analyzeDeadline is how long an Analyze call may take to answer: as long
// as its client waits, for a large scanned PDF through OCR.
const analyzeDeadline = 5 * time.Minute

// rpcServer is the internal AnalysisService.
type rpcServer struct {
	aiv1connect.UnimplementedAnalysisServiceHandler
	s *Service
}

// Analyze analyses a record anew, as POST /api/v1/documents/analyze does:
// the result replaces the stored one, which the case's professional reads.
func (r *rpcServer) Analyze(ctx context.Context, req *connect.Request[aiv1.AnalyzeRequest]) (*connect.Response[aiv1.AnalyzeResponse], error) {
	id := req.Msg.GetDocumentId()
	if _, err := uuid.Parse(id); err != nil {
		return nil, rpc.Error(ctx, fault.Invalid("document_id", "must be a UUID"))
	}
	a, patient, err := r.s.analyze(ctx, id)
	if err != nil {
		return nil, rpc.Error(ctx, err)
	}
	// The answer quotes the record: a read of the patient's data, which
	// the patient's access log shows.
	if err := r.s.audit(ctx, authn.FromContext(ctx), a.DocumentID, patient, kitaudit.Allowed); err != nil {
		return nil, rpc.Error(ctx, err)
	}
	return connect.NewResponse(toProto(a)), nil
}

// toProto answers a's key findings and summary; the entities, sections
// and concepts stay for the professional's read.
func toProto(a DocumentAnalysis) *aiv1.AnalyzeResponse {
	out := &aiv1.AnalyzeResponse{DocumentId: a.DocumentID, CaseId: a.CaseID, FileType: string(a.FileType), Status: a.Status,
		Reason: a.Reason, Engine: a.Engine}
	if a.Analysis == nil {
		return out
	}
	for _, f := range a.Analysis.KeyFindings {
		out.Findings = append(out.Findings, &aiv1.Finding{Label: f.Label, Type: string(f.Type), Code: f.Code,
			Uncertain: f.Uncertain, Historical: f.Historical, Flag: string(f.Flag), Confidence: f.Confidence, Score: f.Score,
			Cite: toCite(f.Cite), Text: a.Analysis.Entities[f.Entity].Text})
	}
	for _, s := range a.Analysis.Summary {
		out.Summary = append(out.Summary, &aiv1.SummarySentence{Text: s.Text, Score: s.Score, Cite: toCite(s.Cite)})
	}
	return out
}

func toCite(s nlp.Span) *aiv1.Cite {
	return &aiv1.Cite{Page: int32(s.Page), Start: int32(s.Start), End: int32(s.End)}
}
