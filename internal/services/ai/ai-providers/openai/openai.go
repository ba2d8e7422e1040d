// Package openai is the adapter for any OpenAI-compatible chat completions
// API — OpenAI itself, Azure OpenAI, vLLM, Ollama — asking for the answer
// as JSON that follows the answer's JSON schema (structured outputs,
// response_format json_schema, strict), or as a JSON object described in
// the prompt for servers that lack schemas.
//
// The adapter is transport only: the router has already applied the
// privacy gate (it gets the de-identified view) and checks the answer.
// The SDK's own retries are off — the router decides whether to fail over
// — and the SDK reads no environment variable: everything comes from
// Config.
package openai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/secondopinion/platform/internal/services/ai/ai-providers/domain"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/internal/wire"
)

// Response formats.
const (
	JSONSchema = "json_schema" // structured outputs: the server enforces the schema
	JSONObject = "json_object" // JSON mode: the schema is in the prompt
)

// DefaultBaseURL is OpenAI's API.
const DefaultBaseURL = "https://api.openai.com/v1/"

// Config configures one OpenAI-compatible provider.
type Config struct {
	// Name is the provider's name in routes and metrics; default "openai".
	Name string
	// BaseURL is the API root, ending before "chat/completions":
	// https://api.openai.com/v1/ (default), http://vllm:8000/v1/,
	// http://localhost:11434/v1/ (Ollama),
	// https://RESOURCE.openai.azure.com/openai/v1/ (Azure, v1 API) or
	// https://RESOURCE.openai.azure.com/openai/deployments/DEPLOYMENT/
	// (Azure, with AzureAPIVersion).
	BaseURL string
	// APIKey is sent as a bearer token (as api-key for Azure); servers
	// without keys (vLLM, Ollama) take "". Secret.
	APIKey string
	// Model is the model or deployment name. Required.
	Model string
	// AzureAPIVersion, for Azure OpenAI's deployment endpoints, is sent as
	// the api-version query parameter, and the key as the api-key header.
	AzureAPIVersion string
	// ResponseFormat is JSONSchema (default) or JSONObject.
	ResponseFormat string
	// MaxOutputTokens bounds the answer; default 4096.
	MaxOutputTokens int64
	// Temperature, when set, is sent; some reasoning models refuse it.
	Temperature *float64
	// Timeout bounds one call; default 60s.
	Timeout time.Duration
	// HTTPClient carries the calls; default a client of its own.
	HTTPClient *http.Client
	// Now is the clock for Retry-After dates; default time.Now.
	Now func() time.Time
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// Validate fills defaults and reports what is wrong, never the key.
func (c Config) Validate() (Config, error) {
	if c.Name == "" {
		c.Name = "openai"
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if !strings.HasSuffix(c.BaseURL, "/") {
		c.BaseURL += "/"
	}
	if c.ResponseFormat == "" {
		c.ResponseFormat = JSONSchema
	}
	if c.MaxOutputTokens == 0 {
		c.MaxOutputTokens = 4096
	}
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	var errs []error
	if !namePattern.MatchString(c.Name) {
		errs = append(errs, errors.New("name: lower case letters, digits and dashes, starting with a letter"))
	}
	if err := wire.CheckBaseURL(c.BaseURL); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(c.Model) == "" {
		errs = append(errs, errors.New("model: required"))
	}
	if c.ResponseFormat != JSONSchema && c.ResponseFormat != JSONObject {
		errs = append(errs, fmt.Errorf("response format: %s or %s", JSONSchema, JSONObject))
	}
	if c.MaxOutputTokens < 256 {
		errs = append(errs, errors.New("max output tokens: 256 or more"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("openai provider %q: %w", c.Name, err)
	}
	return c, nil
}

// Provider is an OpenAI-compatible provider.
type Provider struct {
	cfg  Config
	chat sdk.ChatCompletionService
}

var _ domain.Provider = (*Provider)(nil)

// New builds the provider from cfg.
func New(cfg Config) (*Provider, error) {
	cfg, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithHTTPClient(cfg.HTTPClient),
		option.WithMaxRetries(0),
	}
	switch {
	case cfg.AzureAPIVersion != "":
		opts = append(opts, option.WithQuery("api-version", cfg.AzureAPIVersion), option.WithHeader("api-key", cfg.APIKey))
	case cfg.APIKey != "":
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}
	// The chat service alone, not openai.NewClient: the client would read
	// OPENAI_* variables (key, organisation, base URL, extra headers).
	return &Provider{cfg: cfg, chat: sdk.NewChatCompletionService(opts...)}, nil
}

// Info describes the provider: external, since the text leaves the process.
func (p *Provider) Info() domain.ProviderInfo {
	return domain.ProviderInfo{Name: p.cfg.Name, Kind: domain.KindOpenAI, Model: p.cfg.Model, External: true}
}

// Synthesize asks for the synthesis of req, which the router has already
// de-identified.
func (p *Provider) Synthesize(ctx context.Context, req domain.SynthesisRequest) (domain.Reply, error) {
	name := p.cfg.Name
	schema, err := wire.Schema(req)
	if err != nil {
		return domain.Reply{}, fmt.Errorf("%w: schema: %v", domain.ErrInvalidRequest, err)
	}
	prompt := domain.BuildPrompt(req, p.cfg.ResponseFormat == JSONObject)
	params := sdk.ChatCompletionNewParams{
		Model: shared.ChatModel(p.cfg.Model),
		Messages: []sdk.ChatCompletionMessageParamUnion{
			sdk.SystemMessage(prompt.System),
			sdk.UserMessage(prompt.User),
		},
		MaxCompletionTokens: sdk.Int(p.cfg.MaxOutputTokens),
	}
	if p.cfg.Temperature != nil {
		params.Temperature = sdk.Float(*p.cfg.Temperature)
	}
	if p.cfg.ResponseFormat == JSONObject {
		params.ResponseFormat.OfJSONObject = &shared.ResponseFormatJSONObjectParam{}
	} else {
		params.ResponseFormat.OfJSONSchema = &shared.ResponseFormatJSONSchemaParam{JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
			Name:        domain.SchemaName,
			Description: sdk.String("A case synthesis whose findings cite the passages given."),
			Strict:      sdk.Bool(true),
			Schema:      schema,
		}}
	}

	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	resp, err := p.chat.New(ctx, params)
	if err != nil {
		var apiErr *sdk.Error
		if errors.As(err, &apiErr) && apiErr.StatusCode != 0 {
			var h http.Header
			if apiErr.Response != nil {
				h = apiErr.Response.Header
			}
			return domain.Reply{}, wire.StatusError(name, apiErr.StatusCode, h, errorCode(apiErr), p.cfg.Now())
		}
		return domain.Reply{}, wire.TransportError(ctx, name, err)
	}
	if len(resp.Choices) == 0 {
		return domain.Reply{}, domain.Malformedf(name, "the response has no choice")
	}
	choice := resp.Choices[0]
	switch {
	case choice.Message.Refusal != "":
		return domain.Reply{}, domain.Malformedf(name, "the model refused to answer")
	case choice.FinishReason == "length":
		return domain.Reply{}, domain.Malformedf(name, "the answer was cut at the output token limit")
	case choice.FinishReason == "content_filter":
		return domain.Reply{}, domain.Malformedf(name, "the answer was withheld by a content filter")
	case strings.TrimSpace(choice.Message.Content) == "":
		return domain.Reply{}, domain.Malformedf(name, "the answer is empty")
	}
	model := resp.Model
	if model == "" {
		model = p.cfg.Model
	}
	return domain.Reply{
		Answer:       wire.Unfence(choice.Message.Content),
		Model:        model,
		InputTokens:  resp.Usage.PromptTokens,
		OutputTokens: resp.Usage.CompletionTokens,
	}, nil
}

// errorCode is the error's type and code, never its message.
func errorCode(e *sdk.Error) string {
	var parts []string
	for _, s := range []string{e.Type, e.Code} {
		if s != "" && len(s) <= 64 && !slices.Contains(parts, s) {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "/")
}
