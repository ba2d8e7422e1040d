package aiproviders_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/secondopinion/platform/api/events"
	aiv1 "github.com/secondopinion/platform/api/gen/ai/v1"
	"github.com/secondopinion/platform/api/gen/ai/v1/aiv1connect"
	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/telemetry"
	"github.com/secondopinion/platform/internal/kit/testkit"
	aiproviders "github.com/secondopinion/platform/internal/services/ai/ai-providers"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/providertest"
)

var now = time.Date(2031, 5, 20, 9, 0, 0, 0, time.UTC)

var tokens = testkit.Tokens{
	"admin": {Subject: "0190a0a0-0000-7000-8000-0000000000ad", Role: "admin"},
	"pro":   {Subject: "0190a0a0-0000-7000-8000-0000000000fe", Role: "professional"},

	"service:ai-orchestration":  {Subject: "ai-orchestration", Role: "service"},
	"service:document-analysis": {Subject: "document-analysis", Role: "service"},
}

type harness struct {
	t        *testing.T
	db       *sqldb.DB
	svc      *aiproviders.Service
	fake     *providertest.Server
	base     string
	mem      *rpc.InProcess
	consents *consents
}

// patient is the identifier-laden record's patient.
const patient = "0190a4b2-0000-7000-8000-00000000fa7e"

// consents stands in for patient-consent: which patients consented to
// AI_PROCESSING.
type consents struct {
	patientv1connect.UnimplementedConsentServiceHandler
	mu      sync.Mutex
	granted map[string]bool
}

func (c *consents) Check(_ context.Context, req *connect.Request[patientv1.CheckConsentRequest]) (*connect.Response[patientv1.CheckConsentResponse], error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if req.Msg.Purpose != "AI_PROCESSING" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("unexpected purpose"))
	}
	ok := c.granted[req.Msg.PatientId]
	res := &patientv1.CheckConsentResponse{Granted: ok, CurrentVersion: "2026-01"}
	if ok {
		res.Version = "2026-01"
	}
	return connect.NewResponse(res), nil
}

func (c *consents) set(patient string, granted bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.granted[patient] = granted
}

// start runs the service with the local provider and an OpenAI-compatible
// one (the fake), allowed, first in the ONCOLOGY chain.
func start(t *testing.T, db *sqldb.DB) *harness {
	t.Helper()
	if err := aiproviders.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	fake := providertest.New(t, providertest.OpenAI)
	cs := &consents{granted: map[string]bool{patient: true}}
	mux := http.NewServeMux()
	mux.Handle(patientv1connect.NewConsentServiceHandler(cs))
	consentMem := rpc.NewInProcess(mux)
	t.Cleanup(func() { consentMem.Close() })
	svc, err := aiproviders.New(aiproviders.Config{Routes: "ONCOLOGY=openai,local", DefaultChain: "local", Allowed: "openai",
		OpenAIURL: fake.URL, OpenAIKey: "sk-test", OpenAIModel: "gpt-4o-mini", Now: func() time.Time { return now }},
		service.Deps{Region: "EU", Log: slog.New(slog.DiscardHandler), DB: db, Bus: inproc.New(), Metrics: telemetry.NewMetrics(),
			Peer: func(string) (service.Peer, error) {
				return service.Peer{HTTP: consentMem.Client(), URL: rpc.BaseURL}, nil
			}})
	if err != nil {
		t.Fatal(err)
	}
	h := httpapi.Wrap(svc.Handler(), httpapi.Options{Service: aiproviders.Name, Verifier: tokens})
	mem := rpc.NewInProcess(h)
	t.Cleanup(func() { mem.Close() })
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return &harness{t: t, db: db, svc: svc, fake: fake, base: "http://" + ln.Addr().String(), mem: mem, consents: cs}
}

func (h *harness) client(token string) aiv1connect.ProviderServiceClient {
	c := rpc.WithIdentity(h.mem.Client(), func(context.Context) (string, time.Time, error) {
		return token, time.Now().Add(time.Hour), nil
	})
	return aiv1connect.NewProviderServiceClient(c, rpc.BaseURL, rpc.ClientOptions()...)
}

// request is the identifier-laden record as ai-orchestration sends it.
func request(specialty string) (*aiv1.SynthesizeRequest, []string) {
	req, secrets := providertest.IdentifierLaden()
	m := &aiv1.SynthesizeRequest{RequestId: req.RequestID, CaseId: req.CaseID, CaseType: req.CaseType, Specialty: specialty,
		Language: string(req.Language), PatientId: patient}
	for _, d := range req.Documents {
		doc := &aiv1.Document{Id: d.ID, Title: d.Title}
		for _, p := range d.Passages {
			doc.Passages = append(doc.Passages, &aiv1.Passage{Page: int32(p.Page), Start: int32(p.Start), End: int32(p.End),
				Kind: string(p.Kind), Text: p.Text, Confidence: p.Confidence})
		}
		m.Documents = append(m.Documents, doc)
	}
	p := req.Patient
	m.Patient = &aiv1.PatientContext{Names: p.Names, Emails: p.Emails, Phones: p.Phones, Addresses: p.Addresses,
		Identifiers: p.Identifiers, CaseNumber: p.CaseNumber}
	if !p.DateOfBirth.IsZero() {
		m.Patient.DateOfBirth = p.DateOfBirth.Format(time.DateOnly)
	}
	return m, secrets
}

// requests are the ai.request.* events queued, as "type provider model error".
func (h *harness) requests() []string {
	var out []string
	for _, e := range testkit.Outbox(h.t, h.db) {
		if e.Type != events.RequestCompletedV1.Type && e.Type != events.RequestFailedV1.Type {
			continue
		}
		if err := events.Check(e); err != nil {
			h.t.Errorf("an event its contract does not describe: %v", err)
		}
		var p events.AIRequest
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			h.t.Fatal(err)
		}
		if p.CaseID != "0190a4b2-0000-7000-8000-00000000c0de" {
			h.t.Errorf("event for case %q", p.CaseID)
		}
		if e.Type == events.RequestCompletedV1.Type && p.Provider != "local" && (p.InputTokens == 0 || p.OutputTokens == 0) {
			h.t.Errorf("a completed request without its tokens: %+v", p)
		}
		out = append(out, strings.Join([]string{e.Type, p.Provider, p.Model, p.Error}, " "))
	}
	return out
}

func TestSynthesis(t *testing.T) {
	testkit.ForEachEngine(t, aiproviders.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db)
		ctx := context.Background()
		req, secrets := request("ONCOLOGY")
		res, err := h.client("service:ai-orchestration").Synthesize(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		if res.Msg.Provider != "openai" || res.Msg.Model == "" || len(res.Msg.KeyFindings) == 0 {
			t.Fatalf("answer %+v", res.Msg)
		}
		for _, f := range res.Msg.KeyFindings {
			if !slices.ContainsFunc(req.Documents, func(d *aiv1.Document) bool { return d.Id == f.Citation.DocumentId }) {
				t.Errorf("a finding cites %q, not one of the request's documents", f.Citation.DocumentId)
			}
		}
		got := h.fake.Requests()
		if len(got) != 1 {
			t.Fatalf("the provider got %d requests", len(got))
		}
		for _, s := range secrets {
			if strings.Contains(string(got[0].Body), s) || strings.Contains(got[0].RawQuery, s) {
				t.Errorf("the provider received %q", s)
			}
		}

		// The provider fails: the chain goes on to local, and both attempts
		// are on record.
		h.fake.Then(h.fake.Status(http.StatusInternalServerError))
		res, err = h.client("service:ai-orchestration").Synthesize(ctx, connect.NewRequest(req))
		if err != nil || res.Msg.Provider != "local" || len(res.Msg.Attempts) != 2 {
			t.Fatalf("failover: %+v %v", res, err)
		}
		// Another specialty's chain is local alone.
		if res, err := h.client("service:ai-orchestration").Synthesize(ctx, connect.NewRequest(func() *aiv1.SynthesizeRequest {
			r, _ := request("CARDIOLOGY")
			return r
		}())); err != nil || res.Msg.Provider != "local" {
			t.Fatalf("the default chain: %+v %v", res, err)
		}
		want := []string{
			"ai.request.completed openai gpt-4o-mini ",
			"ai.request.failed openai gpt-4o-mini server_error",
			"ai.request.completed local " + res0Model(t, h) + " ",
			"ai.request.completed local " + res0Model(t, h) + " ",
		}
		if got := h.requests(); !slices.Equal(got, want) {
			t.Errorf("events\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// res0Model is the local provider's model name, as the admins' view shows.
func res0Model(t *testing.T, h *harness) string {
	t.Helper()
	var view aiproviders.AIProviders
	if code := h.get("admin", &view); code != http.StatusOK {
		t.Fatalf("providers: %d", code)
	}
	for _, p := range view.Providers {
		if p.Name == "local" {
			return p.Model
		}
	}
	t.Fatal("no local provider")
	return ""
}

func (h *harness) get(token string, into any) int {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.base+"/api/v1/ai/providers", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK && into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			h.t.Fatal(err)
		}
	}
	return res.StatusCode
}

// No consent, no call; only ai-orchestration may ask; a spent budget sends
// every request to the local provider until the month ends.
func TestGates(t *testing.T) {
	h := start(t, testkit.OpenDB(t, sqldb.SQLite, aiproviders.Name))
	ctx := context.Background()
	req, _ := request("ONCOLOGY")
	h.consents.set(patient, false)
	if _, err := h.client("service:ai-orchestration").Synthesize(ctx, connect.NewRequest(req)); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("without consent: %v, want PermissionDenied", err)
	}
	h.consents.set(patient, true)
	other := proto.Clone(req).(*aiv1.SynthesizeRequest)
	other.PatientId = "0190a4b2-0000-7000-8000-0000000000b0" // never consented
	if _, err := h.client("service:ai-orchestration").Synthesize(ctx, connect.NewRequest(other)); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("a patient who never consented: %v, want PermissionDenied", err)
	}
	other.PatientId = "nobody"
	if _, err := h.client("service:ai-orchestration").Synthesize(ctx, connect.NewRequest(other)); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("a malformed patient id: %v, want InvalidArgument", err)
	}
	if _, err := h.client("service:document-analysis").Synthesize(ctx, connect.NewRequest(req)); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("as document-analysis: %v, want PermissionDenied", err)
	}
	req.CaseId = "not-a-case"
	if _, err := h.client("service:ai-orchestration").Synthesize(ctx, connect.NewRequest(req)); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("a malformed case id: %v, want InvalidArgument", err)
	}
	if n := len(h.fake.Requests()); n != 0 || len(h.requests()) != 0 {
		t.Fatalf("refused requests reached the provider (%d) or the ledger (%v)", n, h.requests())
	}

	var view aiproviders.AIProviders
	if code := h.get("admin", &view); code != http.StatusOK || view.LocalOnly || len(view.Providers) != 2 {
		t.Fatalf("providers: %d %+v", code, view)
	}
	if openai := view.Providers[1]; openai.Name != "openai" || !openai.External || !openai.Allowed || openai.Breaker != "closed" {
		t.Errorf("openai: %+v", openai)
	}
	for token, want := range map[string]int{"": 401, "pro": 403} {
		if code := h.get(token, nil); code != want {
			t.Errorf("providers as %q: %d, want %d", token, code, want)
		}
	}

	spent, err := events.BudgetExceededV1.New("ai-usage", "2031-05/total", events.BudgetExceeded{Month: "2031-05", Scope: "total",
		LimitMicros: 1, SpentMicros: 2, Timestamp: now})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Consume(ctx, spent); err != nil {
		t.Fatal(err)
	}
	req, _ = request("ONCOLOGY")
	res, err := h.client("service:ai-orchestration").Synthesize(ctx, connect.NewRequest(req))
	if err != nil || res.Msg.Provider != "local" || len(h.fake.Requests()) != 0 {
		t.Errorf("with the budget spent: %+v %v, %d requests to openai", res, err, len(h.fake.Requests()))
	}
	if h.get("admin", &view); !view.LocalOnly || !slices.Equal(view.SpentBudgets, []string{"total"}) {
		t.Errorf("providers with the budget spent: %+v", view)
	}
}

// A chain naming an external provider off the allow-list does not start.
func TestConfig(t *testing.T) {
	db := testkit.OpenDB(t, sqldb.SQLite, aiproviders.Name)
	for _, cfg := range []aiproviders.Config{
		{Routes: "ONCOLOGY=openai", OpenAIModel: "gpt-4o-mini", OpenAIKey: "k", OpenAIURL: "http://127.0.0.1:1/v1/"},
		{Routes: "ONCOLOGY=nobody"},
		{Routes: "ONCOLOGY"},
	} {
		_, err := aiproviders.New(cfg, service.Deps{Log: slog.New(slog.DiscardHandler), DB: db, Bus: inproc.New()})
		if err == nil {
			t.Errorf("%+v started", cfg)
		}
	}
	peer := func(string) (service.Peer, error) {
		return service.Peer{HTTP: http.DefaultClient, URL: "http://127.0.0.1:1"}, nil
	}
	if _, err := aiproviders.New(aiproviders.Config{}, service.Deps{Log: slog.New(slog.DiscardHandler), DB: db, Bus: inproc.New(), Peer: peer}); err != nil {
		t.Errorf("the embedded default: %v", err)
	}
}
