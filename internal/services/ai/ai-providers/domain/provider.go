package domain

import (
	"context"
	"encoding/json"
	"time"
)

// Kind is the kind of adapter behind a provider.
type Kind string

const (
	KindLocal     Kind = "local"     // embedded, in-process, offline
	KindOpenAI    Kind = "openai"    // any OpenAI-compatible chat completions API
	KindAnthropic Kind = "anthropic" // Anthropic's Messages API
)

// ProviderInfo describes a provider to the router and to admins.
type ProviderInfo struct {
	// Name identifies this provider in routes, the allow-list and the
	// metric's provider label ("local", "openai", "azure-eu", "vllm").
	Name  string
	Kind  Kind
	Model string
	// External is true when the request leaves the process: such a
	// provider gets only de-identified text, and only when allowed.
	External bool
}

// Provider is one adapter. Synthesize sends the request as it is given —
// the router has already applied the privacy gate — and returns the
// answer as the provider wrote it; the router checks it (ParseAnswer).
// Failures are *ProviderError, or ctx's error when the caller gave up.
type Provider interface {
	Info() ProviderInfo
	Synthesize(ctx context.Context, req SynthesisRequest) (Reply, error)
}

// Reply is a provider's raw answer and what it cost.
type Reply struct {
	Answer       json.RawMessage
	Model        string // the model that answered, as the provider reports it
	InputTokens  int64
	OutputTokens int64
}

// Usage is what one answered request cost: for ai-usage's tracker.
type Usage struct {
	Provider     string        `json:"provider"`
	Model        string        `json:"model"`
	InputTokens  int64         `json:"inputTokens"`
	OutputTokens int64         `json:"outputTokens"`
	Latency      time.Duration `json:"latency"`
}

// Result is the router's answer: the synthesis with citations to the
// request's own documents, its usage, every attempt made (failed ones
// first), and how many identifiers were removed before an external
// provider saw the text (nil when the answering provider is in-process).
type Result struct {
	Answer     Answer
	Usage      Usage
	Attempts   []Attempt
	Redactions Counts
}
