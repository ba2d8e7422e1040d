// Package documentanalysis is the client of document-analysis' internal
// AnalysisService: a record analysed anew, its key findings and summary
// citing their words, for ai-orchestration.
package documentanalysis

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	aiv1 "github.com/secondopinion/platform/api/gen/ai/v1"
	"github.com/secondopinion/platform/api/gen/ai/v1/aiv1connect"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Target is the service this client reaches.
const Target = "document-analysis"

// analyzeTimeout bounds an analysis: long enough for a large scanned PDF,
// whose every page goes through OCR (a run may take minutes), yet a hung
// peer still frees the caller's job. document-analysis holds the call
// open as long (its analyzeDeadline).
const analyzeTimeout = 5 * time.Minute

// Cite is a span of the record's extracted text: byte offsets
// [Start, End) of page Page's UTF-8 text (pages count from 1). The
// offsets hold for this extraction only: keep the words with them.
type Cite struct{ Page, Start, End int }

// Finding is a key finding: a condition asserted (neither negated nor
// the family's), or a lab or vital sign outside its range (Flag HIGH or
// LOW). Type is CONDITION, LAB or VITAL; Code a condition's ICD-10 code
// when known. Findings come by Score, highest first.
type Finding struct {
	Label, Type, Code, Flag string
	Text                    string // the cited words
	Uncertain, Historical   bool
	Confidence, Score       float64
	Cite                    Cite
}

// Passage is a sentence of the extractive summary, Text its cited words.
type Passage struct {
	Text  string
	Score float64
	Cite  Cite
}

// Analysis is a record's analysis. Status is OK, PARTIAL (some pages
// unread), OCR_UNAVAILABLE (text only in images, no OCR installed) or
// FAILED (unreadable, Reason says why); only OK and PARTIAL have
// findings. Engine is the version of the rules that produced it.
type Analysis struct {
	DocumentID, CaseID, FileType, Status, Reason, Engine string
	Findings                                             []Finding
	Summary                                              []Passage
}

// Client reaches AnalysisService.
type Client struct {
	api    aiv1connect.AnalysisServiceClient
	health *grpchealth.Client
}

// New reaches document-analysis at peer.
func New(peer service.Peer) *Client {
	return &Client{api: aiv1connect.NewAnalysisServiceClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		health: grpchealth.NewClient(peer.HTTP, peer.URL, rpc.ClientOptions()...)}
}

// Analyze analyses record documentID anew and returns its findings and
// summary. A missing record is a NotFound fault; the peer down or slow an
// Unavailable one. document-analysis stores the result, replacing an
// earlier one, and audits the answer as a read of the patient's data.
func (c *Client) Analyze(ctx context.Context, documentID string) (Analysis, error) {
	ctx, cancel := context.WithTimeout(ctx, analyzeTimeout)
	defer cancel()
	res, err := c.api.Analyze(ctx, connect.NewRequest(&aiv1.AnalyzeRequest{DocumentId: documentID}))
	if err != nil {
		return Analysis{}, rpc.PeerError(Target, "record", documentID, err)
	}
	m := res.Msg
	out := Analysis{DocumentID: m.GetDocumentId(), CaseID: m.GetCaseId(), FileType: m.GetFileType(), Status: m.GetStatus(),
		Reason: m.GetReason(), Engine: m.GetEngine()}
	for _, f := range m.GetFindings() {
		out.Findings = append(out.Findings, Finding{Label: f.GetLabel(), Type: f.GetType(), Code: f.GetCode(), Flag: f.GetFlag(),
			Text: f.GetText(), Uncertain: f.GetUncertain(), Historical: f.GetHistorical(), Confidence: f.GetConfidence(),
			Score: f.GetScore(), Cite: toCite(f.GetCite())})
	}
	for _, s := range m.GetSummary() {
		out.Summary = append(out.Summary, Passage{Text: s.GetText(), Score: s.GetScore(), Cite: toCite(s.GetCite())})
	}
	return out, nil
}

func toCite(m *aiv1.Cite) Cite {
	return Cite{Page: int(m.GetPage()), Start: int(m.GetStart()), End: int(m.GetEnd())}
}

// Ready checks that AnalysisService is serving.
func (c *Client) Ready(ctx context.Context) error {
	return rpc.Serving(c.health, Target, aiv1connect.AnalysisServiceName)(ctx)
}
