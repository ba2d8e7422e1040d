package aiproviders

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	aiv1 "github.com/secondopinion/platform/api/gen/ai/v1"
	"github.com/secondopinion/platform/api/gen/ai/v1/aiv1connect"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/domain"
)

// rpcCallers is who may ask for a synthesis: ai-orchestration, which
// gathers the documents' passages.
var rpcCallers = rpc.Callers{
	aiv1connect.ProviderServiceSynthesizeProcedure: {"ai-orchestration"},
}

type rpcServer struct {
	aiv1connect.UnimplementedProviderServiceHandler
	s *Service
}

func (r *rpcServer) Synthesize(ctx context.Context, req *connect.Request[aiv1.SynthesizeRequest]) (*connect.Response[aiv1.SynthesizeResponse], error) {
	in, err := fromProto(req.Msg)
	if err != nil {
		return nil, rpc.Error(ctx, err)
	}
	patient := req.Msg.GetPatientId()
	if _, err := uuid.Parse(patient); err != nil {
		return nil, rpc.Error(ctx, fault.Invalid("patient_id", "must be a UUID"))
	}
	// The consent is asked here, not taken from the caller: the service
	// that sends the data out is the one that must honour it.
	consent, err := r.s.consents.Check(ctx, patient, vocab.ConsentAIProcessing)
	if err != nil {
		return nil, rpc.Error(ctx, err)
	}
	in.Consent.AIProcessing = consent.Granted
	res, err := r.s.synthesize(ctx, in)
	if err != nil {
		return nil, rpc.Error(ctx, domain.Fault(err))
	}
	return connect.NewResponse(toProto(res)), nil
}

// synthesize routes req, through the local provider alone while a
// monthly budget is spent, and publishes every attempt for ai-usage.
func (s *Service) synthesize(ctx context.Context, req domain.SynthesisRequest) (domain.Result, error) {
	spent, err := s.store.Spent(ctx, month(s.cfg.Now()))
	if err != nil {
		return domain.Result{}, err
	}
	route := s.router
	if len(spent) > 0 {
		route = s.local
	}
	res, err := route.Synthesize(ctx, req)
	attempts := res.Attempts
	var all *domain.AllProvidersFailedError
	if errors.As(err, &all) {
		attempts = all.Attempts
	}
	if perr := s.publish(ctx, req.CaseID, attempts, res.Usage); perr != nil {
		// The answer is not given without its usage on record: the caller
		// retries, and the cost is counted.
		return domain.Result{}, perr
	}
	return res, err
}

// fromProto reads a request; Validate (in the router) checks the rest.
func fromProto(m *aiv1.SynthesizeRequest) (domain.SynthesisRequest, error) {
	req := domain.SynthesisRequest{RequestID: m.GetRequestId(), CaseID: m.GetCaseId(), CaseType: m.GetCaseType(),
		Specialty: vocab.Specialty(m.GetSpecialty()), Language: vocab.Language(m.GetLanguage())}
	for _, d := range m.GetDocuments() {
		doc := domain.Document{ID: d.GetId(), Title: d.GetTitle()}
		for _, p := range d.GetPassages() {
			doc.Passages = append(doc.Passages, domain.Passage{Page: int(p.GetPage()), Start: int(p.GetStart()), End: int(p.GetEnd()),
				Kind: domain.PassageKind(p.GetKind()), Text: p.GetText(), Confidence: p.GetConfidence()})
		}
		req.Documents = append(req.Documents, doc)
	}
	if p := m.GetPatient(); p != nil {
		req.Patient = domain.PatientContext{Names: p.GetNames(), Emails: p.GetEmails(), Phones: p.GetPhones(),
			Addresses: p.GetAddresses(), Identifiers: p.GetIdentifiers(), CaseNumber: p.GetCaseNumber()}
		if dob := p.GetDateOfBirth(); dob != "" {
			t, err := time.Parse(time.DateOnly, dob)
			if err != nil {
				return req, fault.Invalid("patient.date_of_birth", "must be YYYY-MM-DD")
			}
			req.Patient.DateOfBirth = t
		}
	}
	return req, nil
}

func toProto(res domain.Result) *aiv1.SynthesizeResponse {
	out := &aiv1.SynthesizeResponse{Summary: res.Answer.Summary, Provider: res.Usage.Provider, Model: res.Usage.Model,
		InputTokens: res.Usage.InputTokens, OutputTokens: res.Usage.OutputTokens, LatencyMs: res.Usage.Latency.Milliseconds()}
	for _, f := range res.Answer.KeyFindings {
		c := f.Citation
		out.KeyFindings = append(out.KeyFindings, &aiv1.KeyFinding{Text: f.Text, Confidence: f.Confidence,
			Citation: &aiv1.Citation{DocumentId: c.DocumentID, Page: int32(c.Page), Start: int32(c.Start), End: int32(c.End)}})
	}
	for _, a := range res.Attempts {
		out.Attempts = append(out.Attempts, &aiv1.Attempt{Provider: a.Provider, Outcome: string(a.Outcome), LatencyMs: a.Latency.Milliseconds()})
	}
	return out
}

// month is the budgets' month of t, as ai-usage writes it.
func month(t time.Time) string { return t.UTC().Format("2006-01") }

// calledProviders are the outcomes of attempts that reached a provider;
// the others (breaker open, not allowed, caller gone first) cost nothing.
var calledProviders = []domain.Outcome{domain.Success, domain.RateLimited, domain.ServerError, domain.ClientError,
	domain.Timeout, domain.Malformed}

// attemptsToEvents is the ai.request.* event of each attempt that reached
// a provider: usage is the answering one's tokens.
func attemptsToEvents(caseID string, attempts []domain.Attempt, usage domain.Usage, models map[string]string, now time.Time) ([]requestEvent, error) {
	var out []requestEvent
	for _, a := range attempts {
		if !slices.Contains(calledProviders, a.Outcome) {
			continue
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("request id: %w", err)
		}
		e := requestEvent{RequestID: id.String(), CaseID: caseID, Provider: a.Provider, Model: models[a.Provider],
			LatencyMs: a.Latency.Milliseconds(), At: now, Failed: a.Outcome != domain.Success}
		// The model is the one configured, which the price table names:
		// providers answer with dated versions of it.
		if e.Failed {
			e.Error = string(a.Outcome)
		} else {
			e.InputTokens, e.OutputTokens = usage.InputTokens, usage.OutputTokens
		}
		out = append(out, e)
	}
	return out, nil
}
