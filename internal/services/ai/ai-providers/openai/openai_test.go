package openai_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/domain"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/openai"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/providertest"
)

func request(t *testing.T) domain.SynthesisRequest {
	t.Helper()
	r, err := domain.SynthesisRequest{
		CaseID:    "0190a4b2-0000-7000-8000-000000000001",
		Specialty: "CARDIOLOGY",
		Language:  "de",
		Consent:   domain.Consent{AIProcessing: true},
		Documents: []domain.Document{
			{ID: "doc-1", Passages: []domain.Passage{{Page: 1, Start: 0, End: 42, Text: "Hochgradige Stenose der RIVA."}}},
			{ID: "doc-2", Passages: []domain.Passage{{Page: 3, Start: 10, End: 90, Text: "LVEF 35 %."}}},
		},
	}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func provider(t *testing.T, fake *providertest.Server, edit func(*openai.Config)) *openai.Provider {
	t.Helper()
	cfg := openai.Config{BaseURL: fake.URL, APIKey: "sk-test", Model: "gpt-test", Timeout: 2 * time.Second}
	if edit != nil {
		edit(&cfg)
	}
	p, err := openai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func body(t *testing.T, r providertest.Request) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("request body: %v", err)
	}
	return m
}

func TestStructuredOutput(t *testing.T) {
	fake := providertest.New(t, providertest.OpenAI)
	p := provider(t, fake, nil)
	req := request(t)
	reply, err := p.Synthesize(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Model != providertest.OpenAIModel || reply.InputTokens != providertest.InputTokens || reply.OutputTokens != providertest.OutputTokens {
		t.Errorf("usage %+v", reply)
	}
	ans, err := domain.ParseAnswer(req, reply.Answer)
	if err != nil || len(ans.KeyFindings) != 2 {
		t.Fatalf("answer %v: %+v", err, ans)
	}

	got := fake.Requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1 (no SDK retries)", len(got))
	}
	r := got[0]
	if r.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer sk-test" {
		t.Errorf("path %s, authorization %q", r.Path, r.Header.Get("Authorization"))
	}
	b := body(t, r)
	rf := b["response_format"].(map[string]any)
	js := rf["json_schema"].(map[string]any)
	schema := js["schema"].(map[string]any)
	if b["model"] != "gpt-test" || rf["type"] != "json_schema" || js["name"] != "case_synthesis" || js["strict"] != true {
		t.Errorf("request %s", r.Body)
	}
	if _, ok := schema["$schema"]; ok || schema["additionalProperties"] != false {
		t.Errorf("schema as sent: %v", schema)
	}
	if b["max_completion_tokens"] != float64(4096) {
		t.Errorf("max_completion_tokens %v", b["max_completion_tokens"])
	}
	msgs := b["messages"].([]any)
	if len(msgs) != 2 || msgs[0].(map[string]any)["role"] != "system" || !strings.Contains(msgs[0].(map[string]any)["content"].(string), `"de"`) {
		t.Errorf("messages %v", msgs)
	}
	if c, err := fake.CaseOf(r); err != nil || c.Specialty != "CARDIOLOGY" || c.Documents[1].Passages[0].Start != 10 {
		t.Errorf("case sent: %v %+v", err, c)
	}
	if strings.Contains(string(r.Body), req.CaseID) {
		t.Error("the case id was sent")
	}
}

func TestFailures(t *testing.T) {
	date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	fake := providertest.New(t, providertest.OpenAI)
	tests := []struct {
		name    string
		reply   providertest.Reply
		outcome domain.Outcome
		status  int
		retry   time.Duration // at least
	}{
		{"429 with Retry-After seconds", fake.RateLimited("7"), domain.RateLimited, 429, 7 * time.Second},
		{"429 with Retry-After date", fake.RateLimited(date), domain.RateLimited, 429, 80 * time.Second},
		{"429 without Retry-After", fake.RateLimited(""), domain.RateLimited, 429, 0},
		{"500", fake.Status(500), domain.ServerError, 500, 0},
		{"503", fake.Status(503), domain.ServerError, 503, 0},
		{"502 from a proxy, in HTML", providertest.Raw(502, "text/html", "<html>Bad gateway</html>"), domain.ServerError, 502, 0},
		{"401 bad key", fake.Status(401), domain.ClientError, 401, 0},
		{"400", fake.Status(400), domain.ClientError, 400, 0},
		{"timeout", providertest.Hang(5 * time.Second), domain.Timeout, 0, 0},
		{"truncated body", providertest.Truncated(fake.Answer(map[string]any{"summary": "x", "keyFindings": []any{}})), domain.Malformed, 0, 0},
		{"malformed JSON body", providertest.Raw(200, "application/json", `{"id": "chatcmpl-1", "choices": [{"message": {"content": "x"`), domain.Malformed, 0, 0},
		{"not JSON at all", providertest.Raw(200, "application/json", `<<not json>>`), domain.Malformed, 0, 0},
		{"no choice", providertest.Raw(200, "application/json", `{"id":"c","object":"chat.completion","model":"m","choices":[]}`), domain.Malformed, 0, 0},
		{"cut at the token limit", fake.CutOff(`{"summary": "Hochgradige`), domain.Malformed, 0, 0},
		{"refusal", fake.Refusal(), domain.Malformed, 0, 0},
		{"empty answer", fake.Answer("  "), domain.Malformed, 0, 0},
	}
	p := provider(t, fake, func(c *openai.Config) { c.Timeout = 300 * time.Millisecond })
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
			if pe.Outcome != tt.outcome || pe.StatusCode != tt.status || pe.Provider != "openai" {
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
			if strings.Contains(err.Error(), "Rate limit reached") || strings.Contains(err.Error(), "Hochgradige") {
				t.Errorf("the error repeats the provider's message or the answer: %v", err)
			}
		})
	}
}

// A valid HTTP answer whose content is broken JSON reaches the router,
// which refuses it as malformed.
func TestBrokenAnswerContent(t *testing.T) {
	fake := providertest.New(t, providertest.OpenAI)
	p := provider(t, fake, nil)
	for _, content := range []string{
		`{"summary": "Stenose", "keyFindings": [{"text": "RIVA"`, // truncated
		`{"summary": "Stenose", "keyFindings": "none"}`,          // breaks the schema
		`{"summary": "S", "keyFindings": [{"text": "t", "confidence": 0.5, "citation": {"documentId": "doc-9", "page": 1, "start": 0, "end": 5}}]}`, // cites nothing of the request
	} {
		fake.Then(fake.Answer(content))
		reply, err := p.Synthesize(context.Background(), request(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := domain.ParseAnswer(request(t), reply.Answer); !errors.Is(err, domain.ErrMalformedAnswer) {
			t.Errorf("%s: got %v, want ErrMalformedAnswer", content, err)
		}
	}
}

func TestCallerCancels(t *testing.T) {
	fake := providertest.New(t, providertest.OpenAI).Always(providertest.Hang(5 * time.Second))
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
	p, err := openai.New(openai.Config{BaseURL: "http://" + testkit.RefusingAddr(t) + "/v1/", Model: "m", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Synthesize(context.Background(), request(t))
	var pe *domain.ProviderError
	if !errors.As(err, &pe) || pe.Outcome != domain.Unreachable || !pe.Retryable() {
		t.Errorf("got %v, want unreachable", err)
	}
}

func TestAzureDeployment(t *testing.T) {
	fake := providertest.New(t, providertest.OpenAI)
	p := provider(t, fake, func(c *openai.Config) {
		c.Name, c.BaseURL, c.AzureAPIVersion, c.APIKey = "azure-eu", fake.URL, "2024-10-21", "azure-key"
	})
	if _, err := p.Synthesize(context.Background(), request(t)); err != nil {
		t.Fatal(err)
	}
	r := fake.Requests()[0]
	if r.RawQuery != "api-version=2024-10-21" || r.Header.Get("Api-Key") != "azure-key" || r.Header.Get("Authorization") != "" {
		t.Errorf("query %q, api-key %q, authorization %q", r.RawQuery, r.Header.Get("Api-Key"), r.Header.Get("Authorization"))
	}
	if info := p.Info(); info.Name != "azure-eu" || !info.External || info.Kind != domain.KindOpenAI {
		t.Errorf("info %+v", info)
	}
}

// Servers without schema support (older Ollama, some proxies) get JSON
// mode and the schema in the prompt; a fenced answer is unwrapped.
func TestJSONObjectMode(t *testing.T) {
	fake := providertest.New(t, providertest.OpenAI)
	p := provider(t, fake, func(c *openai.Config) { c.ResponseFormat = openai.JSONObject; c.APIKey = "" })
	req := request(t)
	answer := `{"summary":"S","keyFindings":[{"text":"t","confidence":0.5,"citation":{"documentId":"doc-1","page":1,"start":0,"end":42}}]}`
	fake.Then(fake.Answer("```json\n" + answer + "\n```"))
	reply, err := p.Synthesize(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := domain.ParseAnswer(req, reply.Answer); err != nil {
		t.Errorf("fenced answer: %v", err)
	}
	r := fake.Requests()[0]
	b := body(t, r)
	if b["response_format"].(map[string]any)["type"] != "json_object" || !strings.Contains(string(r.Body), `keyFindings`) {
		t.Errorf("request %s", r.Body)
	}
	if r.Header.Get("Authorization") != "" {
		t.Error("a key was sent though none is configured")
	}
}

// The SDK would read OPENAI_* variables; the adapter must not.
func TestIgnoresEnvironment(t *testing.T) {
	fake := providertest.New(t, providertest.OpenAI)
	t.Setenv("OPENAI_API_KEY", "sk-from-env")
	t.Setenv("OPENAI_BASE_URL", "http://"+testkit.RefusingAddr(t)+"/v1/")
	t.Setenv("OPENAI_ORG_ID", "org-env")
	t.Setenv("OPENAI_CUSTOM_HEADERS", "X-Leak: yes")
	p := provider(t, fake, func(c *openai.Config) { c.APIKey = "" })
	if _, err := p.Synthesize(context.Background(), request(t)); err != nil {
		t.Fatal(err)
	}
	h := fake.Requests()[0].Header
	if h.Get("Authorization") != "" || h.Get("OpenAI-Organization") != "" || h.Get("X-Leak") != "" {
		t.Errorf("environment leaked into the request: %v", h)
	}
}

func TestConfig(t *testing.T) {
	c, err := openai.Config{Model: "gpt-x"}.Validate()
	if err != nil || c.Name != "openai" || c.BaseURL != openai.DefaultBaseURL || c.ResponseFormat != openai.JSONSchema || c.Timeout != time.Minute {
		t.Errorf("defaults: %v %+v", err, c)
	}
	for _, bad := range []openai.Config{
		{},
		{Model: "m", BaseURL: "ftp://x/"},
		{Model: "m", BaseURL: "https://user:pw@x/"},
		{Model: "m", Name: "Open AI"},
		{Model: "m", ResponseFormat: "xml"},
		{Model: "m", MaxOutputTokens: 10},
	} {
		if _, err := openai.New(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("error repeats a credential: %v", err)
		}
	}
}
