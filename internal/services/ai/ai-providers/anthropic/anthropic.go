// Package anthropic is the adapter for Anthropic's Messages API. It gets
// structure by tool use: one tool, "case_synthesis", whose input schema is
// the answer's schema, and a tool_choice that forces the model to call it;
// the tool call's input is the answer.
//
// The adapter is transport only: the router has already applied the
// privacy gate (it gets the de-identified view) and checks the answer.
// The SDK's retries are off, it reads no environment variable, and its
// OpenTelemetry spans never carry the content.
package anthropic

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/secondopinion/platform/internal/services/ai/ai-providers/domain"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/internal/wire"
)

// DefaultBaseURL is Anthropic's API.
const DefaultBaseURL = "https://api.anthropic.com/"

// Config configures one Anthropic provider.
type Config struct {
	// Name is the provider's name in routes and metrics; default "anthropic".
	Name string
	// BaseURL is the API root, before "v1/messages"; default
	// DefaultBaseURL.
	BaseURL string
	// APIKey is sent as x-api-key. Secret.
	APIKey string
	// Model, e.g. "claude-sonnet-4-5". Required.
	Model string
	// MaxTokens bounds the answer; default 4096.
	MaxTokens int64
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
		c.Name = "anthropic"
	}
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	if !strings.HasSuffix(c.BaseURL, "/") {
		c.BaseURL += "/"
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = 4096
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
	if c.APIKey == "" {
		errs = append(errs, errors.New("API key: required"))
	}
	if c.MaxTokens < 256 {
		errs = append(errs, errors.New("max tokens: 256 or more"))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("anthropic provider %q: %w", c.Name, err)
	}
	return c, nil
}

// Provider is an Anthropic provider.
type Provider struct {
	cfg    Config
	client sdk.Client
}

var _ domain.Provider = (*Provider)(nil)

// New builds the provider from cfg.
func New(cfg Config) (*Provider, error) {
	cfg, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	client := sdk.NewClient(
		option.WithoutEnvironmentDefaults(), // no ANTHROPIC_* key, profile or base URL
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIKey(cfg.APIKey),
		option.WithHTTPClient(cfg.HTTPClient),
		option.WithMaxRetries(0),
		option.WithOpenTelemetryTracesContentMode(option.OpenTelemetryContentModeMetadataOnly),
	)
	return &Provider{cfg: cfg, client: client}, nil
}

// Info describes the provider: external, since the text leaves the process.
func (p *Provider) Info() domain.ProviderInfo {
	return domain.ProviderInfo{Name: p.cfg.Name, Kind: domain.KindAnthropic, Model: p.cfg.Model, External: true}
}

// Synthesize asks for the synthesis of req, which the router has already
// de-identified, as a forced call of the case_synthesis tool.
func (p *Provider) Synthesize(ctx context.Context, req domain.SynthesisRequest) (domain.Reply, error) {
	name := p.cfg.Name
	schema, err := wire.Schema(req)
	if err != nil {
		return domain.Reply{}, fmt.Errorf("%w: schema: %v", domain.ErrInvalidRequest, err)
	}
	input := sdk.ToolInputSchemaParam{Properties: schema["properties"], ExtraFields: map[string]any{}}
	for k, v := range schema {
		switch k {
		case "properties", "type":
		case "required":
			for _, r := range v.([]any) {
				if s, ok := r.(string); ok {
					input.Required = append(input.Required, s)
				}
			}
		default:
			input.ExtraFields[k] = v // additionalProperties, title…
		}
	}
	prompt := domain.BuildPrompt(req, false)
	params := sdk.MessageNewParams{
		Model:     sdk.Model(p.cfg.Model),
		MaxTokens: p.cfg.MaxTokens,
		System:    []sdk.TextBlockParam{{Text: prompt.System + "\n- Give the answer by calling the tool " + domain.SchemaName + "."}},
		Messages:  []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock(prompt.User))},
		Tools: []sdk.ToolUnionParam{{OfTool: &sdk.ToolParam{
			Name:        domain.SchemaName,
			Description: sdk.String("Record the case synthesis: a summary and key findings, each citing one passage of the documents given."),
			InputSchema: input,
		}}},
		ToolChoice: sdk.ToolChoiceParamOfTool(domain.SchemaName),
	}

	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	msg, err := p.client.Messages.New(ctx, params)
	if err != nil {
		var apiErr *sdk.Error
		if errors.As(err, &apiErr) && apiErr.StatusCode != 0 {
			var h http.Header
			if apiErr.Response != nil {
				h = apiErr.Response.Header
			}
			return domain.Reply{}, wire.StatusError(name, apiErr.StatusCode, h, errorType(apiErr), p.cfg.Now())
		}
		return domain.Reply{}, wire.TransportError(ctx, name, err)
	}
	switch msg.StopReason {
	case sdk.StopReasonMaxTokens, sdk.StopReasonModelContextWindowExceeded:
		return domain.Reply{}, domain.Malformedf(name, "the answer was cut at the token limit")
	case sdk.StopReasonRefusal:
		return domain.Reply{}, domain.Malformedf(name, "the model refused to answer")
	}
	for _, block := range msg.Content {
		if block.Type == "tool_use" && block.Name == domain.SchemaName {
			model := string(msg.Model)
			if model == "" {
				model = p.cfg.Model
			}
			return domain.Reply{
				Answer:       block.Input,
				Model:        model,
				InputTokens:  msg.Usage.InputTokens + msg.Usage.CacheCreationInputTokens + msg.Usage.CacheReadInputTokens,
				OutputTokens: msg.Usage.OutputTokens,
			}, nil
		}
	}
	return domain.Reply{}, domain.Malformedf(name, "the answer has no %s tool call", domain.SchemaName)
}

// errorType is the API's error type ("rate_limit_error"), never its message.
func errorType(e *sdk.Error) string {
	if t := string(e.Type()); len(t) <= 64 {
		return t
	}
	return ""
}
