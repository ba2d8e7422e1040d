package aiorchestration_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/secondopinion/platform/api/events"
	aiv1 "github.com/secondopinion/platform/api/gen/ai/v1"
	"github.com/secondopinion/platform/api/gen/ai/v1/aiv1connect"
	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	professionalv1 "github.com/secondopinion/platform/api/gen/professional/v1"
	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/telemetry"
	"github.com/secondopinion/platform/internal/kit/testkit"
	aiorchestration "github.com/secondopinion/platform/internal/services/ai/ai-orchestration"
)

const (
	patient   = "0190a4b2-0000-7000-8000-00000000fa7e"
	other     = "0190a4b2-0000-7000-8000-00000000fa7f"
	assignee  = "0190a0a0-0000-7000-8000-0000000000fe"
	stranger  = "0190a0a0-0000-7000-8000-0000000000ff"
	pdfRecord = "0190b000-0000-7000-8000-0000000000d1"
	pngRecord = "0190b000-0000-7000-8000-0000000000d2"
)

var tokens = testkit.Tokens{
	"admin":    {Subject: "0190a0a0-0000-7000-8000-0000000000ad", Role: "admin"},
	"assignee": {Subject: assignee, Role: "professional"},
	"stranger": {Subject: stranger, Role: "professional"},
	"patient":  {Subject: patient, Role: "patient"},
	"other":    {Subject: other, Role: "patient"},
}

// peers stands in for the services ai-orchestration calls, each
// scriptable by the test.
type peers struct {
	patientv1connect.UnimplementedRecordsServiceHandler
	patientv1connect.UnimplementedConsentServiceHandler
	patientv1connect.UnimplementedPatientServiceHandler
	aiv1connect.UnimplementedAnalysisServiceHandler
	aiv1connect.UnimplementedProviderServiceHandler
	professionalv1connect.UnimplementedAssignmentServiceHandler

	mu        sync.Mutex
	documents map[string][]*patientv1.RecordSummary // by case
	consent   map[string]bool
	assigned  map[string]string // case → professional
	// synthesize answers ai-providers' Synthesize; nil answers from the
	// request's first passage.
	synthesize func(context.Context, *aiv1.SynthesizeRequest) (*aiv1.SynthesizeResponse, error)
	requests   []*aiv1.SynthesizeRequest
	analysed   []string
}

func (p *peers) Documents(_ context.Context, req *connect.Request[patientv1.DocumentsRequest]) (*connect.Response[patientv1.DocumentsResponse], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return connect.NewResponse(&patientv1.DocumentsResponse{Documents: p.documents[req.Msg.CaseId]}), nil
}

func (p *peers) Record(_ context.Context, req *connect.Request[patientv1.RecordRequest]) (*connect.Response[patientv1.RecordSummary], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, docs := range p.documents {
		for _, d := range docs {
			if d.Id == req.Msg.DocumentId {
				return connect.NewResponse(d), nil
			}
		}
	}
	return nil, connect.NewError(connect.CodeNotFound, errors.New("no such record"))
}

func (p *peers) Check(_ context.Context, req *connect.Request[patientv1.CheckConsentRequest]) (*connect.Response[patientv1.CheckConsentResponse], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	res := &patientv1.CheckConsentResponse{Granted: p.consent[req.Msg.PatientId], CurrentVersion: "2026-01"}
	if res.Granted {
		res.Version = "2026-01"
	}
	return connect.NewResponse(res), nil
}

func (p *peers) GetPatient(_ context.Context, req *connect.Request[patientv1.GetPatientRequest]) (*connect.Response[patientv1.PatientResponse], error) {
	return connect.NewResponse(&patientv1.PatientResponse{Id: req.Msg.Id, FirstName: "Hypatia", LastName: "Alexandrou",
		Email: "hypatia@example.org", Phone: "+302101234567", DateOfBirth: "1970-03-08"}), nil
}

func (p *peers) GetActiveAssignment(_ context.Context, req *connect.Request[professionalv1.GetActiveAssignmentRequest]) (*connect.Response[professionalv1.Assignment], error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pro, ok := p.assigned[req.Msg.CaseId]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no active assignment"))
	}
	return connect.NewResponse(&professionalv1.Assignment{Id: "0190c000-0000-7000-8000-000000000001", CaseId: req.Msg.CaseId,
		ProfessionalId: pro, Deadline: "2031-01-01T00:00:00Z", ClaimedAt: "2030-12-01T00:00:00Z"}), nil
}

// Analyze answers a record of text with a finding and a summary
// sentence; a PNG as OCR_UNAVAILABLE, with neither.
func (p *peers) Analyze(_ context.Context, req *connect.Request[aiv1.AnalyzeRequest]) (*connect.Response[aiv1.AnalyzeResponse], error) {
	p.mu.Lock()
	p.analysed = append(p.analysed, req.Msg.DocumentId)
	p.mu.Unlock()
	res := &aiv1.AnalyzeResponse{DocumentId: req.Msg.DocumentId, FileType: "PDF", Status: "OK", Engine: "nlp-rules/1"}
	if req.Msg.DocumentId == pngRecord {
		res.FileType, res.Status = "PNG", "OCR_UNAVAILABLE"
		return connect.NewResponse(res), nil
	}
	res.Findings = []*aiv1.Finding{{Label: "pneumonia (J18)", Type: "CONDITION", Code: "J18", Confidence: 0.9, Score: 2,
		Text: "pneumonia", Cite: &aiv1.Cite{Page: 1, Start: 12, End: 21}}}
	res.Summary = []*aiv1.SummarySentence{{Text: "Impression: pneumonia.", Score: 1.5, Cite: &aiv1.Cite{Page: 1, Start: 0, End: 22}}}
	return connect.NewResponse(res), nil
}

func (p *peers) Synthesize(ctx context.Context, req *connect.Request[aiv1.SynthesizeRequest]) (*connect.Response[aiv1.SynthesizeResponse], error) {
	p.mu.Lock()
	p.requests = append(p.requests, req.Msg)
	fn := p.synthesize
	p.mu.Unlock()
	if fn != nil {
		res, err := fn(ctx, req.Msg)
		if err != nil {
			return nil, err
		}
		return connect.NewResponse(res), nil
	}
	d := req.Msg.Documents[0]
	ps := d.Passages[0]
	return connect.NewResponse(&aiv1.SynthesizeResponse{Summary: "A case of pneumonia.", Provider: "local", Model: "extractive",
		KeyFindings: []*aiv1.KeyFinding{{Text: "Pneumonia.", Confidence: 0.8,
			Citation: &aiv1.Citation{DocumentId: d.Id, Page: ps.Page, Start: ps.Start, End: ps.End}}}}), nil
}

func (p *peers) set(fn func(*peers)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p)
}

func (p *peers) synthesisRequests() []*aiv1.SynthesizeRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*aiv1.SynthesizeRequest(nil), p.requests...)
}

type harness struct {
	t       *testing.T
	metrics *telemetry.Metrics
	db      *sqldb.DB
	svc     *aiorchestration.Service
	peers   *peers
	http    *http.Client
	base    string
	stop    func()
}

// fast is a configuration whose retries and sweeps run in milliseconds.
func fast() aiorchestration.Config {
	return aiorchestration.Config{MaxAttempts: 3, Backoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		AttemptTimeout: 5 * time.Second, StuckAfter: 300 * time.Millisecond, SweepInterval: 200 * time.Millisecond,
		JobPoll: 50 * time.Millisecond}
}

// start runs the service over db with its peers faked, until the test
// ends or stop is called.
func start(t *testing.T, db *sqldb.DB, ps *peers, cfg aiorchestration.Config) *harness {
	t.Helper()
	ctx := context.Background()
	if err := aiorchestration.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(patientv1connect.NewRecordsServiceHandler(ps))
	mux.Handle(patientv1connect.NewConsentServiceHandler(ps))
	mux.Handle(patientv1connect.NewPatientServiceHandler(ps))
	mux.Handle(aiv1connect.NewAnalysisServiceHandler(ps))
	mux.Handle(aiv1connect.NewProviderServiceHandler(ps))
	mux.Handle(professionalv1connect.NewAssignmentServiceHandler(ps))
	mem := rpc.NewInProcess(mux)
	t.Cleanup(func() { mem.Close() })
	metrics := telemetry.NewMetrics()
	svc, err := aiorchestration.New(cfg, service.Deps{Region: "EU", Log: slog.New(slog.DiscardHandler), DB: db, Bus: inproc.New(),
		Metrics: metrics, Peer: func(string) (service.Peer, error) {
			return service.Peer{HTTP: mem.Client(), URL: rpc.BaseURL}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v", err)
		}
	}
	t.Cleanup(stop)
	h := httpapi.Wrap(svc.Handler(), httpapi.Options{Service: aiorchestration.Name, Verifier: tokens})
	api := rpc.NewInProcess(h)
	t.Cleanup(func() { api.Close() })
	return &harness{t: t, metrics: metrics, db: db, svc: svc, peers: ps, http: api.Client(), base: rpc.BaseURL, stop: stop}
}

func newPeers() *peers {
	return &peers{documents: map[string][]*patientv1.RecordSummary{}, consent: map[string]bool{patient: true},
		assigned: map[string]string{}}
}

// submit opens a case of patient with a PDF and a PNG record, and
// delivers its case.submitted.
func (h *harness) submit(caseID, patientID string) {
	h.t.Helper()
	h.peers.set(func(p *peers) {
		p.documents[caseID] = []*patientv1.RecordSummary{
			{Id: pdfRecord, CaseId: caseID, PatientId: patientID, Kind: "IMAGING_REPORT", FileType: "PDF"},
			{Id: pngRecord, CaseId: caseID, PatientId: patientID, Kind: "IMAGING", FileType: "PNG"},
		}
	})
	h.deliver(events.CaseSubmittedV1, caseID, events.CaseSubmitted{CaseID: caseID, CustomerID: patientID,
		CaseNumber: "EU-2026-7KQ2ZD", Specialty: vocab.Specialty("PULMONOLOGY"), Urgency: vocab.Urgency("STANDARD"), Timestamp: time.Now()})
}

func deliverTo[P any](t *testing.T, svc *aiorchestration.Service, c bus.Contract[P], aggregate string, p P) {
	t.Helper()
	e, err := c.New(c.Producer, aggregate, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Consume(context.Background(), e); err != nil {
		t.Fatalf("consume %s: %v", c.Type, err)
	}
}

func (h *harness) deliver(c bus.Contract[events.CaseSubmitted], aggregate string, p events.CaseSubmitted) {
	deliverTo(h.t, h.svc, c, aggregate, p)
}

// completions is how many case processings case_processing_duration_seconds
// has observed.
func (h *harness) completions() uint64 {
	h.t.Helper()
	families, err := h.metrics.Registry.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	var n uint64
	for _, f := range families {
		if f.GetName() == "case_processing_duration_seconds" {
			for _, m := range f.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}
