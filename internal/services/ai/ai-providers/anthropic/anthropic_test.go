package anthropic_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/anthropic"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/domain"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/providertest"
)

func request(t *testing.T) domain.SynthesisRequest {
	t.Helper()
	r, err := domain.SynthesisRequest{
		CaseID:    "0190a4b2-0000-7000-8000-000000000001",
		CaseType:  "SECOND_OPINION",
		Specialty: "NEUROLOGY",
		Consent:   domain.Consent{AIProcessing: true},
		Documents: []domain.Document{
			{ID: "doc-1", Title: "MRI brain", Passages: []domain.Passage{{Page: 1, Start: 5, End: 60, Text: "Multiple periventricular T2 lesions."}}},
			{ID: "doc-2", Passages: []domain.Passage{{Page: 2, Start: 0, End: 30, Text: "Oligoclonal bands present."}}},
		},
	}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// key is the API key a request carries: SDK v2.17 sends it as a bearer
// token, earlier ones as x-api-key.
func key(h http.Header) string {
	if k := h.Get("X-Api-Key"); k != "" {
		return k
	}
	return strings.TrimPrefix(h.Get("Authorization"), "Bearer ")
}

func provider(t *testing.T, fake *providertest.Server, edit func(*anthropic.Config)) *anthropic.Provider {
	t.Helper()
	cfg := anthropic.Config{BaseURL: fake.URL, APIKey: "sk-ant-test", Model: "claude-test", Timeout: 2 * time.Second}
	if edit != nil {
		edit(&cfg)
	}
	p, err := anthropic.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestToolUse(t *testing.T) {
	fake := providertest.New(t, providertest.Anthropic)
	p := provider(t, fake, nil)
	req := request(t)
	reply, err := p.Synthesize(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Model != providertest.ClaudeModel || reply.InputTokens != providertest.InputTokens || reply.OutputTokens != providertest.OutputTokens {
		t.Errorf("usage %+v", reply)
	}
	if ans, err := domain.ParseAnswer(req, reply.Answer); err != nil || len(ans.KeyFindings) != 2 {
		t.Fatalf("answer %v: %+v", err, ans)
	}

	got := fake.Requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1 (no SDK retries)", len(got))
	}
	r := got[0]
	if r.Path != "/v1/messages" || key(r.Header) != "sk-ant-test" || r.Header.Get("Anthropic-Version") == "" {
		t.Errorf("path %s, headers %v", r.Path, r.Header)
	}
	var b struct {
		Model      string `json:"model"`
		MaxTokens  int    `json:"max_tokens"`
		System     []struct{ Text string }
		ToolChoice struct{ Type, Name string } `json:"tool_choice"`
		Tools      []struct {
			Name        string
			InputSchema map[string]any `json:"input_schema"`
		}
	}
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatal(err)
	}
	if b.Model != "claude-test" || b.MaxTokens != 4096 || b.ToolChoice.Type != "tool" || b.ToolChoice.Name != "case_synthesis" {
		t.Errorf("request %s", r.Body)
	}
	if len(b.Tools) != 1 || b.Tools[0].Name != "case_synthesis" {
		t.Fatalf("tools %+v", b.Tools)
	}
	s := b.Tools[0].InputSchema
	if s["type"] != "object" || s["additionalProperties"] != false || s["properties"].(map[string]any)["keyFindings"] == nil || len(s["required"].([]any)) != 2 {
		t.Errorf("input schema %v", s)
	}
	if _, ok := s["$schema"]; ok {
		t.Error("$schema sent")
	}
	if len(b.System) != 1 || !strings.Contains(b.System[0].Text, "case_synthesis") {
		t.Errorf("system %+v", b.System)
	}
	if c, err := fake.CaseOf(r); err != nil || c.CaseType != "SECOND_OPINION" || c.Documents[0].Title != "MRI brain" {
		t.Errorf("case sent: %v %+v", err, c)
	}
}

func TestFailures(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	fake := providertest.New(t, providertest.Anthropic)
	tests := []struct {
		name    string
		reply   providertest.Reply
		outcome domain.Outcome
		status  int
		retry   time.Duration
	}{
		{"429 with Retry-After seconds", fake.RateLimited("12"), domain.RateLimited, 429, 12 * time.Second},
		{"429 with Retry-After date", fake.RateLimited(date), domain.RateLimited, 429, 80 * time.Second},
		{"529 overloaded", fake.Status(529), domain.ServerError, 529, 0},
		{"500", fake.Status(500), domain.ServerError, 500, 0},
		{"503 from a proxy, in HTML", providertest.Raw(503, "text/html", "<html>unavailable</html>"), domain.ServerError, 503, 0},
		{"401", fake.Status(401), domain.ClientError, 401, 0},
		{"timeout", providertest.Hang(5 * time.Second), domain.Timeout, 0, 0},
		{"truncated body", providertest.Truncated(fake.Cite()), domain.Malformed, 0, 0},
		{"malformed JSON body", providertest.Raw(200, "application/json", `{"id":"msg_1","type":"message","content":[{"type":"tool_use","input":{"summary":`), domain.Malformed, 0, 0},
		{"cut at max_tokens", fake.CutOff(map[string]any{"summary": "Multiple"}), domain.Malformed, 0, 0},
		{"refusal", fake.Refusal(), domain.Malformed, 0, 0},
		{"text instead of the tool", fake.TextOnly(`{"summary": "in text"}`), domain.Malformed, 0, 0},
	}
	p := provider(t, fake, func(c *anthropic.Config) { c.Timeout = 300 * time.Millisecond })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.Then(tt.reply)
			start := time.Now()
			_, err := p.Synthesize(context.Background(), request(t))
			var pe *domain.ProviderError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v (%T), want a ProviderError", err, err)
			}
			t.Log(err)
			if pe.Outcome != tt.outcome || pe.StatusCode != tt.status || pe.Provider != "anthropic" {
				t.Errorf("got %s HTTP %d, want %s HTTP %d: %v", pe.Outcome, pe.StatusCode, tt.outcome, tt.status, err)
			}
			if pe.RetryAfter < tt.retry || (tt.retry == 0 && pe.RetryAfter != 0) || pe.RetryAfter > 2*time.Minute {
				t.Errorf("retry after %s, want %s", pe.RetryAfter, tt.retry)
			}
			if (tt.outcome == domain.Malformed) != errors.Is(err, domain.ErrMalformedAnswer) {
				t.Errorf("errors.Is(ErrMalformedAnswer) wrong for %v", err)
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
			if strings.Contains(err.Error(), "server had an error") || strings.Contains(err.Error(), "Multiple") {
				t.Errorf("the error repeats the provider's message or the answer: %v", err)
			}
		})
	}
}

// Tool input that breaks the schema reaches the router, which refuses it.
func TestBrokenToolInput(t *testing.T) {
	fake := providertest.New(t, providertest.Anthropic)
	p := provider(t, fake, nil)
	for _, input := range []any{
		map[string]any{"summary": "S"},
		map[string]any{"summary": "S", "keyFindings": []any{map[string]any{"text": "t", "confidence": 0.9,
			"citation": map[string]any{"documentId": "doc-1", "page": 1, "start": 0, "end": 200}}}}, // beyond the passage
	} {
		fake.Then(fake.Answer(input))
		reply, err := p.Synthesize(context.Background(), request(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := domain.ParseAnswer(request(t), reply.Answer); !errors.Is(err, domain.ErrMalformedAnswer) {
			t.Errorf("%v: got %v, want ErrMalformedAnswer", input, err)
		}
	}
}

func TestCallerCancels(t *testing.T) {
	fake := providertest.New(t, providertest.Anthropic).Always(providertest.Hang(5 * time.Second))
	p := provider(t, fake, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := p.Synthesize(ctx, request(t))
	var pe *domain.ProviderError
	if !errors.Is(err, context.Canceled) || errors.As(err, &pe) {
		t.Errorf("got %v, want context.Canceled and no provider fault", err)
	}
}

func TestUnreachable(t *testing.T) {
	p, err := anthropic.New(anthropic.Config{BaseURL: "http://" + testkit.RefusingAddr(t) + "/", APIKey: "k", Model: "m", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Synthesize(context.Background(), request(t))
	var pe *domain.ProviderError
	if !errors.As(err, &pe) || pe.Outcome != domain.Unreachable {
		t.Errorf("got %v, want unreachable", err)
	}
}

// The SDK would read ANTHROPIC_* variables; the adapter must not.
func TestIgnoresEnvironment(t *testing.T) {
	fake := providertest.New(t, providertest.Anthropic)
	t.Setenv("ANTHROPIC_API_KEY", "sk-from-env")
	t.Setenv("ANTHROPIC_BASE_URL", "http://"+testkit.RefusingAddr(t)+"/")
	t.Setenv("ANTHROPIC_CUSTOM_HEADERS", "X-Leak: yes")
	p := provider(t, fake, nil)
	if _, err := p.Synthesize(context.Background(), request(t)); err != nil {
		t.Fatal(err)
	}
	h := fake.Requests()[0].Header
	if key(h) != "sk-ant-test" || h.Get("X-Leak") != "" {
		t.Errorf("environment leaked into the request: %v", h)
	}
}

func TestConfig(t *testing.T) {
	c, err := anthropic.Config{Model: "claude-x", APIKey: "k"}.Validate()
	if err != nil || c.Name != "anthropic" || c.BaseURL != anthropic.DefaultBaseURL || c.MaxTokens != 4096 {
		t.Errorf("defaults: %v %+v", err, c)
	}
	for _, bad := range []anthropic.Config{
		{APIKey: "k"},
		{Model: "m"},
		{Model: "m", APIKey: "secret-key", BaseURL: "ftp://x/"},
		{Model: "m", APIKey: "k", MaxTokens: 1},
	} {
		if _, err := anthropic.New(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		} else if strings.Contains(err.Error(), "secret-key") {
			t.Errorf("error repeats the key: %v", err)
		}
	}
	p, _ := anthropic.New(anthropic.Config{Name: "claude-eu", Model: "m", APIKey: "k"})
	if info := p.Info(); info.Name != "claude-eu" || !info.External || info.Kind != domain.KindAnthropic || info.Model != "m" {
		t.Errorf("info %+v", info)
	}
}
