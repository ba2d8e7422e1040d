package router

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/telemetry"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/anthropic"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/domain"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/local"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/openai"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/providertest"
)

// spy is an in-process provider that records what it was given.
type spy struct {
	info domain.ProviderInfo
	mu   sync.Mutex
	got  []domain.SynthesisRequest
	err  error
}

func (s *spy) Info() domain.ProviderInfo { return s.info }

func (s *spy) Synthesize(ctx context.Context, req domain.SynthesisRequest) (domain.Reply, error) {
	s.mu.Lock()
	s.got = append(s.got, req)
	s.mu.Unlock()
	if s.err != nil {
		return domain.Reply{}, s.err
	}
	return local.New().Synthesize(ctx, req)
}

func (s *spy) calls() []domain.SynthesisRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

func newLocal() *spy {
	return &spy{info: domain.ProviderInfo{Name: "local", Kind: domain.KindLocal, Model: local.Model}}
}

// clock is a settable clock for Retry-After waits.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	openaiFake, anthropicFake *providertest.Server
	local                     *spy
	metrics                   *telemetry.Metrics
	clock                     *clock
}

func setup(t *testing.T) *fixture {
	t.Helper()
	return &fixture{
		openaiFake:    providertest.New(t, providertest.OpenAI),
		anthropicFake: providertest.New(t, providertest.Anthropic),
		local:         newLocal(),
		metrics:       telemetry.NewMetrics(),
		clock:         &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
	}
}

func (f *fixture) providers(t *testing.T) []domain.Provider {
	t.Helper()
	o, err := openai.New(openai.Config{BaseURL: f.openaiFake.URL, APIKey: "sk-test", Model: "gpt-test", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a, err := anthropic.New(anthropic.Config{BaseURL: f.anthropicFake.URL, APIKey: "sk-ant", Model: "claude-test", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return []domain.Provider{f.local, o, a}
}

func (f *fixture) router(t *testing.T, cfg Config) *Router {
	t.Helper()
	r, err := New(cfg, f.providers(t), Deps{Requests: f.metrics.AIRequests, Now: f.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) count(provider string, status domain.Outcome) float64 {
	return testutil.ToFloat64(f.metrics.AIRequests.WithLabelValues(provider, string(status)))
}

func chain(ps ...string) Config {
	return Config{Routing: domain.Routing{DefaultChain: ps, AllowList: []string{"openai", "anthropic"}}}
}

func outcomes(as []domain.Attempt) string {
	var parts []string
	for _, a := range as {
		parts = append(parts, a.Provider+":"+string(a.Outcome))
	}
	return strings.Join(parts, " ")
}

func caseRequest() domain.SynthesisRequest {
	req, _ := providertest.IdentifierLaden()
	return req
}

// The acceptance test of the privacy gate: a record full of identifiers
// goes to each external provider; what the fake received holds none of
// them, and the answer still cites the caller's own documents.
func TestNothingIdentifyingLeavesTheProcess(t *testing.T) {
	for _, provider := range []string{"openai", "anthropic"} {
		t.Run(provider, func(t *testing.T) {
			f := setup(t)
			r := f.router(t, chain(provider))
			req, secrets := providertest.IdentifierLaden()
			res, err := r.Synthesize(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			fake := f.openaiFake
			if provider == "anthropic" {
				fake = f.anthropicFake
			}
			got := fake.Requests()
			if len(got) != 1 {
				t.Fatalf("%d requests", len(got))
			}
			sent := string(got[0].Body) + " " + got[0].RawQuery
			for k, v := range got[0].Header {
				sent += " " + k + ": " + strings.Join(v, ",")
			}
			for _, s := range secrets {
				if strings.Contains(sent, s) {
					t.Errorf("%q reached %s", s, provider)
				}
			}
			// What the professional needs did arrive.
			c, err := fake.CaseOf(got[0])
			if err != nil {
				t.Fatal(err)
			}
			text, _ := json.Marshal(c)
			for _, keep := range []string{"3.2 cm spiculated mass in the right upper lobe", "adenocarcinoma", "SUVmax 8.1", "[NAME]", "[DATE]", `"doc-1"`} {
				if !strings.Contains(string(text), keep) {
					t.Errorf("%q did not reach the provider", keep)
				}
			}
			if testing.Verbose() {
				t.Logf("sent to %s:\n%s", provider, text)
			}
			// The answer cites the caller's documents, not the aliases.
			for i, kf := range res.Answer.KeyFindings {
				if kf.Citation.DocumentID != req.Documents[i].ID {
					t.Errorf("finding %d cites %q", i, kf.Citation.DocumentID)
				}
			}
			if err := domain.CheckAnswer(req, res.Answer); err != nil {
				t.Error(err)
			}
			if res.Usage.Provider != provider || res.Usage.InputTokens != providertest.InputTokens || res.Redactions.Total() < 20 {
				t.Errorf("usage %+v, redactions %v", res.Usage, res.Redactions)
			}
			if len(f.local.calls()) != 0 {
				t.Error("local was called")
			}
		})
	}
}

// The in-process provider sees the text as given: it never leaves.
func TestLocalSeesTheRecordsAsGiven(t *testing.T) {
	f := setup(t)
	r := f.router(t, Config{})
	req := caseRequest()
	res, err := r.Synthesize(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := f.local.calls()
	if len(got) != 1 || got[0].Documents[0].ID != req.Documents[0].ID || !strings.Contains(got[0].Documents[0].Passages[0].Text, "Margaret") {
		t.Errorf("local got %+v", got)
	}
	if res.Usage.Provider != "local" || res.Usage.Model != local.Model || res.Redactions != nil {
		t.Errorf("result %+v", res)
	}
	if len(f.openaiFake.Requests())+len(f.anthropicFake.Requests()) != 0 {
		t.Error("an external provider was called for the default chain")
	}
}

func TestNoConsentNoCall(t *testing.T) {
	f := setup(t)
	r := f.router(t, chain("openai", "local"))
	req := caseRequest()
	req.Consent.AIProcessing = false
	_, err := r.Synthesize(context.Background(), req)
	if !errors.Is(err, domain.ErrNoConsent) {
		t.Fatalf("got %v, want ErrNoConsent", err)
	}
	if fl, ok := fault.As(domain.Fault(err)); !ok || fl.Kind != fault.KindForbidden {
		t.Errorf("fault %v", fl)
	}
	if len(f.openaiFake.Requests()) != 0 || len(f.local.calls()) != 0 {
		t.Error("a provider was called without consent")
	}
	if f.count("openai", domain.Success)+f.count("local", domain.Success) != 0 {
		t.Error("counted")
	}
}

func TestInvalidRequestNoCall(t *testing.T) {
	f := setup(t)
	r := f.router(t, chain("openai", "local"))
	req := caseRequest()
	req.Documents[0].Passages[0].End = 0
	if _, err := r.Synthesize(context.Background(), req); !errors.Is(err, domain.ErrInvalidRequest) {
		t.Fatalf("got %v", err)
	}
	if len(f.openaiFake.Requests()) != 0 || len(f.local.calls()) != 0 {
		t.Error("a provider was called")
	}
}

func TestRoutesByTypeAndSpecialty(t *testing.T) {
	f := setup(t)
	r := f.router(t, Config{Routing: domain.Routing{
		Routes: []domain.Route{
			{Specialty: "ONCOLOGY", Chain: []string{"anthropic", "local"}},
			{CaseType: "IMAGING_REVIEW", Chain: []string{"openai", "local"}},
		},
		AllowList: []string{"openai", "anthropic"},
	}})
	for _, tt := range []struct {
		caseType  string
		specialty string
		want      string
	}{
		{"SECOND_OPINION", "ONCOLOGY", "anthropic"},
		{"IMAGING_REVIEW", "RADIOLOGY", "openai"},
		{"SECOND_OPINION", "CARDIOLOGY", "local"},
	} {
		req := caseRequest()
		req.CaseType, req.Specialty = tt.caseType, vocab.Specialty(tt.specialty)
		res, err := r.Synthesize(context.Background(), req)
		if err != nil || res.Usage.Provider != tt.want {
			t.Errorf("%s/%s: %v, answered by %q, want %s", tt.caseType, tt.specialty, err, res.Usage.Provider, tt.want)
		}
	}
}

// Failover walks the chain: a rate limit, a 5xx, then the local provider.
// The rate-limited provider is not asked again before its Retry-After.
func TestFailoverAndRetryAfter(t *testing.T) {
	f := setup(t)
	r := f.router(t, chain("openai", "anthropic", "local"))
	f.openaiFake.Then(f.openaiFake.RateLimited("30"))
	f.anthropicFake.Then(f.anthropicFake.Status(503))
	res, err := r.Synthesize(context.Background(), caseRequest())
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(res.Attempts); got != "openai:rate_limited anthropic:server_error local:success" || res.Usage.Provider != "local" {
		t.Errorf("attempts %s, answered by %s", got, res.Usage.Provider)
	}
	var pe *domain.ProviderError
	if !errors.As(res.Attempts[0].Err, &pe) || pe.RetryAfter != 30*time.Second || !pe.Retryable() {
		t.Errorf("first attempt %v", res.Attempts[0].Err)
	}

	// Within the Retry-After: openai is skipped, anthropic answers.
	f.clock.add(10 * time.Second)
	res, err = r.Synthesize(context.Background(), caseRequest())
	if err != nil || outcomes(res.Attempts) != "openai:rate_limited anthropic:success" {
		t.Fatalf("%v: %s", err, outcomes(res.Attempts))
	}
	if len(f.openaiFake.Requests()) != 1 {
		t.Errorf("openai asked %d times within its Retry-After", len(f.openaiFake.Requests()))
	}
	if errors.As(res.Attempts[0].Err, &pe); pe.RetryAfter != 20*time.Second {
		t.Errorf("remaining wait %s", pe.RetryAfter)
	}
	if got := r.Providers()[1]; got.Name != "openai" || got.RetryAfter != 20*time.Second {
		t.Errorf("status %+v", got)
	}

	// After it: openai answers again.
	f.clock.add(21 * time.Second)
	res, err = r.Synthesize(context.Background(), caseRequest())
	if err != nil || outcomes(res.Attempts) != "openai:success" {
		t.Fatalf("%v: %s", err, outcomes(res.Attempts))
	}

	for _, c := range []struct {
		provider string
		status   domain.Outcome
		want     float64
	}{
		{"openai", domain.RateLimited, 2}, {"openai", domain.Success, 1},
		{"anthropic", domain.ServerError, 1}, {"anthropic", domain.Success, 1},
		{"local", domain.Success, 1},
	} {
		if got := f.count(c.provider, c.status); got != c.want {
			t.Errorf("ai_provider_requests_total{provider=%q,status=%q} = %v, want %v", c.provider, c.status, got, c.want)
		}
	}
}

// A malformed answer — here one citing a document the case lacks — is
// refused and the next provider asked.
func TestFailoverOnMalformedAnswer(t *testing.T) {
	f := setup(t)
	r := f.router(t, chain("openai", "anthropic", "local"))
	f.openaiFake.Then(f.openaiFake.Answer(map[string]any{"summary": "S", "keyFindings": []any{map[string]any{
		"text": "t", "confidence": 0.5, "citation": map[string]any{"documentId": "doc-7", "page": 1, "start": 0, "end": 10}}}}))
	f.anthropicFake.Then(f.anthropicFake.Answer(`{"summary": "cut`))
	res, err := r.Synthesize(context.Background(), caseRequest())
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(res.Attempts); got != "openai:malformed anthropic:malformed local:success" {
		t.Errorf("attempts %s", got)
	}
	for _, a := range res.Attempts[:2] {
		if !errors.Is(a.Err, domain.ErrMalformedAnswer) {
			t.Errorf("%s: %v", a.Provider, a.Err)
		}
	}
}

func TestAllProvidersFailed(t *testing.T) {
	f := setup(t)
	r := f.router(t, chain("openai", "anthropic"))
	f.openaiFake.Then(f.openaiFake.RateLimited("45"))
	f.anthropicFake.Then(providertest.Hang(5 * time.Second))
	start := time.Now()
	_, err := r.Synthesize(context.Background(), caseRequest())
	var all *domain.AllProvidersFailedError
	if !errors.As(err, &all) || !errors.Is(err, domain.ErrAllProvidersFailed) {
		t.Fatalf("got %v", err)
	}
	if got := outcomes(all.Attempts); got != "openai:rate_limited anthropic:timeout" || all.RetryAfter() != 45*time.Second {
		t.Errorf("attempts %s, retry after %s", got, all.RetryAfter())
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
	if fl, ok := fault.As(domain.Fault(err)); !ok || fl.Kind != fault.KindUnavailable || fl.RetryAfter != 45*time.Second {
		t.Errorf("fault %+v", fl)
	}
	if strings.Contains(err.Error(), "Margaret") {
		t.Error("the error holds health data")
	}
}

func TestAttemptTimeout(t *testing.T) {
	f := setup(t)
	hang := &hanging{spy: &spy{info: domain.ProviderInfo{Name: "slow", Kind: domain.KindLocal}}}
	r, err := New(Config{Routing: domain.Routing{DefaultChain: []string{"slow", "local"}}, AttemptTimeout: 100 * time.Millisecond},
		[]domain.Provider{hang, f.local}, Deps{Requests: f.metrics.AIRequests})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Synthesize(context.Background(), caseRequest())
	if err != nil || outcomes(res.Attempts) != "slow:timeout local:success" {
		t.Errorf("%v %s", err, outcomes(res.Attempts))
	}
}

// hanging waits for its context: an adapter without a timeout of its own.
type hanging struct{ *spy }

func (h *hanging) Synthesize(ctx context.Context, req domain.SynthesisRequest) (domain.Reply, error) {
	<-ctx.Done()
	return domain.Reply{}, ctx.Err()
}

// The caller giving up stops the chain: no failover, no breaker count.
func TestCallerCancelStopsTheChain(t *testing.T) {
	f := setup(t)
	r := f.router(t, chain("openai", "local"))
	f.openaiFake.Always(providertest.Hang(5 * time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := r.Synthesize(ctx, caseRequest())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if len(f.local.calls()) != 0 {
		t.Error("failed over after the caller gave up")
	}
	if c := r.breakers["openai"].Counts(); c.TotalFailures != 0 {
		t.Errorf("the breaker counted the caller's cancel: %+v", c)
	}
	if f.count("openai", domain.Canceled) != 1 {
		t.Error("cancel not counted")
	}
}

func TestCircuitBreaker(t *testing.T) {
	f := setup(t)
	cfg := chain("openai", "local")
	cfg.Breaker = BreakerConfig{Failures: 2, OpenFor: 300 * time.Millisecond}
	r := f.router(t, cfg)
	f.openaiFake.Then(f.openaiFake.Status(500), f.openaiFake.Status(502))
	for range 2 {
		if res, err := r.Synthesize(context.Background(), caseRequest()); err != nil || res.Attempts[0].Outcome != domain.ServerError {
			t.Fatalf("%v %s", err, outcomes(res.Attempts))
		}
	}
	if r.Providers()[1].Breaker != "open" {
		t.Fatalf("breaker %s after 2 failures", r.Providers()[1].Breaker)
	}
	// Open: openai is not called, local answers.
	res, err := r.Synthesize(context.Background(), caseRequest())
	if err != nil || outcomes(res.Attempts) != "openai:circuit_open local:success" || !errors.Is(res.Attempts[0].Err, domain.ErrCircuitOpen) {
		t.Fatalf("%v %s", err, outcomes(res.Attempts))
	}
	if n := len(f.openaiFake.Requests()); n != 2 {
		t.Errorf("openai called %d times, want 2", n)
	}
	// After OpenFor: a trial goes through and closes it.
	time.Sleep(350 * time.Millisecond)
	if r.Providers()[1].Breaker != "half-open" {
		t.Errorf("breaker %s", r.Providers()[1].Breaker)
	}
	res, err = r.Synthesize(context.Background(), caseRequest())
	if err != nil || outcomes(res.Attempts) != "openai:success" || r.Providers()[1].Breaker != "closed" {
		t.Fatalf("%v %s, breaker %s", err, outcomes(res.Attempts), r.Providers()[1].Breaker)
	}
	if f.count("openai", domain.CircuitOpen) != 1 {
		t.Error("circuit_open not counted")
	}
}

// The allow-list is checked on every call, not only at start: a chain
// with a provider off the list skips it, and never fails over to it.
func TestFailoverKeepsToTheAllowList(t *testing.T) {
	f := setup(t)
	cfg := Config{Routing: domain.Routing{DefaultChain: []string{"anthropic", "openai", "local"}, AllowList: []string{"openai"}}}
	r, err := build(cfg, f.providers(t), Deps{Requests: f.metrics.AIRequests, Now: f.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	f.openaiFake.Then(f.openaiFake.Status(500))
	res, err := r.Synthesize(context.Background(), caseRequest())
	if err != nil || outcomes(res.Attempts) != "anthropic:not_allowed openai:server_error local:success" {
		t.Fatalf("%v %s", err, outcomes(res.Attempts))
	}
	if n := len(f.anthropicFake.Requests()); n != 0 {
		t.Errorf("a provider off the allow-list got %d requests", n)
	}

	// Nobody allowed: a clear error, and nothing sent.
	r, _ = build(Config{Routing: domain.Routing{DefaultChain: []string{"anthropic", "openai"}}}, f.providers(t), Deps{})
	_, err = r.Synthesize(context.Background(), caseRequest())
	if !errors.Is(err, domain.ErrNotAllowed) || errors.Is(err, domain.ErrAllProvidersFailed) {
		t.Fatalf("got %v, want ErrNotAllowed", err)
	}
	if fl, ok := fault.As(domain.Fault(err)); !ok || fl.Kind != fault.KindForbidden {
		t.Errorf("fault %+v", fl)
	}
	if len(f.anthropicFake.Requests())+len(f.openaiFake.Requests()) != 1 {
		t.Error("a provider off the allow-list was called")
	}
}

func TestNewChecksTheConfiguration(t *testing.T) {
	f := setup(t)
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Routing: domain.Routing{DefaultChain: []string{"openai", "local"}}}, "not on the allow-list"},
		{Config{Routing: domain.Routing{DefaultChain: []string{"mistral"}}}, "unknown provider"},
	} {
		if _, err := New(tt.cfg, f.providers(t), Deps{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v, want %q", err, tt.want)
		}
	}
	if _, err := New(Config{}, append(f.providers(t), newLocal()), Deps{}); err == nil {
		t.Error("two providers named local accepted")
	}
	r := f.router(t, chain("openai", "local"))
	st := r.Providers()
	if len(st) != 3 || st[0].Name != "local" || st[0].External || !st[0].Allowed || st[1].Breaker != "closed" || st[2].Model != "claude-test" {
		t.Errorf("providers %+v", st)
	}
}

// The metric's labels stay a small fixed set.
func TestMetricLabels(t *testing.T) {
	f := setup(t)
	r := f.router(t, chain("openai", "anthropic", "local"))
	f.openaiFake.Then(f.openaiFake.Status(401))
	f.anthropicFake.Then(providertest.Raw(200, "application/json", "{"))
	if _, err := r.Synthesize(context.Background(), caseRequest()); err != nil {
		t.Fatal(err)
	}
	if f.count("openai", domain.ClientError) != 1 || f.count("anthropic", domain.Malformed) != 1 || f.count("local", domain.Success) != 1 {
		t.Error("counts")
	}
	if n := testutil.CollectAndCount(f.metrics.AIRequests); n != 3 {
		t.Errorf("%d series, want 3", n)
	}
}

// Many cases at once: every one is answered, by openai or, while it is
// rate limited, by local; nothing races (run with -race).
func TestConcurrentRequests(t *testing.T) {
	f := setup(t)
	r := f.router(t, chain("openai", "local"))
	f.openaiFake.Then(f.openaiFake.RateLimited("1"), f.openaiFake.Status(500))
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 40 {
		wg.Go(func() {
			res, err := r.Synthesize(context.Background(), caseRequest())
			if err == nil && res.Usage.Provider != "openai" && res.Usage.Provider != "local" {
				err = errors.New("answered by " + res.Usage.Provider)
			}
			if err != nil {
				errs <- err
			}
			_ = r.Providers()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var total float64
	for _, o := range domain.Outcomes {
		total += f.count("local", o) + f.count("openai", o)
	}
	if f.count("openai", domain.Success)+f.count("local", domain.Success) != 40 || total < 40 {
		t.Errorf("successes %v, attempts %v", f.count("openai", domain.Success)+f.count("local", domain.Success), total)
	}
}
