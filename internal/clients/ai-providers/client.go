// Package aiproviders is the client of ai-providers' internal
// ProviderService: a case's synthesis from its documents' passages,
// through the router and the privacy gate.
package aiproviders

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
const Target = "ai-providers"

// Passage is a cited piece of a document's text: Kind FINDING or
// SENTENCE, at byte offsets [Start, End) of page Page's text.
type Passage struct {
	Page, Start, End int
	Kind             string
	Text             string
	Confidence       float64
}

// Document is a document's passages.
type Document struct {
	ID       string
	Title    string
	Passages []Passage
}

// Patient is what identifies the patient, for the privacy gate to remove
// before an external provider sees the text.
type Patient struct {
	Names       []string
	DateOfBirth time.Time // zero when unknown
	Emails      []string
	Phones      []string
	Identifiers []string
	CaseNumber  string
}

// Request asks for a case's synthesis. PatientID is whose AI_PROCESSING
// consent ai-providers checks; neither it nor CaseID reaches a provider.
type Request struct {
	RequestID, CaseID, PatientID string
	CaseType, Specialty          string
	Documents                    []Document
	Patient                      Patient
}

// KeyFinding is a finding of the synthesis, citing the passage it rests
// on.
type KeyFinding struct {
	Text             string
	DocumentID       string
	Page, Start, End int
	Confidence       float64
}

// Attempt is one provider tried, and how it went.
type Attempt struct {
	Provider, Outcome string
	Latency           time.Duration
}

// Synthesis is the providers' answer.
type Synthesis struct {
	Summary         string
	KeyFindings     []KeyFinding
	Provider, Model string
	Attempts        []Attempt
}

// Client reaches ProviderService.
type Client struct {
	api    aiv1connect.ProviderServiceClient
	health *grpchealth.Client
}

// New reaches ai-providers at peer.
func New(peer service.Peer) *Client {
	return &Client{api: aiv1connect.NewProviderServiceClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		health: grpchealth.NewClient(peer.HTTP, peer.URL, rpc.ClientOptions()...)}
}

// Synthesize asks for req's synthesis. It runs as long as ctx allows: the
// router fails over from provider to provider within it. Every provider
// failing, or the service down, is an Unavailable fault; no consent a
// Forbidden one.
func (c *Client) Synthesize(ctx context.Context, req Request) (Synthesis, error) {
	m := &aiv1.SynthesizeRequest{RequestId: req.RequestID, CaseId: req.CaseID, PatientId: req.PatientID,
		CaseType: req.CaseType, Specialty: req.Specialty, Patient: &aiv1.PatientContext{Names: req.Patient.Names,
			Emails: req.Patient.Emails, Phones: req.Patient.Phones, Identifiers: req.Patient.Identifiers,
			CaseNumber: req.Patient.CaseNumber}}
	if !req.Patient.DateOfBirth.IsZero() {
		m.Patient.DateOfBirth = req.Patient.DateOfBirth.Format(time.DateOnly)
	}
	for _, d := range req.Documents {
		doc := &aiv1.Document{Id: d.ID, Title: d.Title}
		for _, p := range d.Passages {
			doc.Passages = append(doc.Passages, &aiv1.Passage{Page: int32(p.Page), Start: int32(p.Start), End: int32(p.End),
				Kind: p.Kind, Text: p.Text, Confidence: p.Confidence})
		}
		m.Documents = append(m.Documents, doc)
	}
	res, err := c.api.Synthesize(ctx, connect.NewRequest(m))
	if err != nil {
		return Synthesis{}, rpc.PeerError(Target, "case", req.CaseID, err)
	}
	out := Synthesis{Summary: res.Msg.GetSummary(), Provider: res.Msg.GetProvider(), Model: res.Msg.GetModel()}
	for _, f := range res.Msg.GetKeyFindings() {
		c := f.GetCitation()
		out.KeyFindings = append(out.KeyFindings, KeyFinding{Text: f.GetText(), DocumentID: c.GetDocumentId(),
			Page: int(c.GetPage()), Start: int(c.GetStart()), End: int(c.GetEnd()), Confidence: f.GetConfidence()})
	}
	for _, a := range res.Msg.GetAttempts() {
		out.Attempts = append(out.Attempts, Attempt{Provider: a.GetProvider(), Outcome: a.GetOutcome(),
			Latency: time.Duration(a.GetLatencyMs()) * time.Millisecond})
	}
	return out, nil
}

// Ready checks that ProviderService is serving.
func (c *Client) Ready(ctx context.Context) error {
	return rpc.Serving(c.health, Target, aiv1connect.ProviderServiceName)(ctx)
}
