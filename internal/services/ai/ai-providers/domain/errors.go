package domain

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// Errors with meaning. Match them with errors.Is; the typed errors below
// carry the details. No message ever holds text of a document or of an
// answer: both are health data.
var (
	// ErrInvalidRequest: the request breaks a rule; the fault in the chain
	// names the field.
	ErrInvalidRequest = errors.New("invalid synthesis request")
	// ErrNoConsent: the patient has not consented to AI_PROCESSING, so no
	// provider was called at all.
	ErrNoConsent = errors.New("no AI_PROCESSING consent: no AI provider may process this case")
	// ErrNotAllowed: a provider is not on the allow-list, or no provider of
	// the chain is.
	ErrNotAllowed = errors.New("provider not on the allow-list")
	// ErrMalformedAnswer: the provider's answer is not what the schema and
	// the request's documents allow. The router fails over on it.
	ErrMalformedAnswer = errors.New("malformed answer")
	// ErrCircuitOpen: the provider's circuit breaker is open, so the
	// provider was not called.
	ErrCircuitOpen = errors.New("circuit open")
	// ErrAllProvidersFailed: every provider of the chain failed; the
	// *AllProvidersFailedError in the chain lists the attempts.
	ErrAllProvidersFailed = errors.New("all AI providers failed")
)

// Outcome classifies one attempt at a provider. Its values are the status
// label of ai_provider_requests_total: a small fixed set.
type Outcome string

const (
	Success     Outcome = "success"
	RateLimited Outcome = "rate_limited" // 429, or still within a Retry-After
	ServerError Outcome = "server_error" // 5xx
	ClientError Outcome = "client_error" // other 4xx: key, model or request refused
	Timeout     Outcome = "timeout"      // no answer in time
	Unreachable Outcome = "unreachable"  // connection refused, reset, DNS
	Malformed   Outcome = "malformed"    // an answer that breaks the schema or cites nothing of the request
	CircuitOpen Outcome = "circuit_open" // not called: its breaker is open
	NotAllowed  Outcome = "not_allowed"  // not called: not on the allow-list
	Canceled    Outcome = "canceled"     // the caller gave up
)

// Outcomes lists every outcome, for tests and dashboards.
var Outcomes = []Outcome{Success, RateLimited, ServerError, ClientError, Timeout, Unreachable, Malformed, CircuitOpen, NotAllowed, Canceled}

// ProviderError is a provider's failure to answer. Retryable ones (rate
// limits, 5xx, timeouts, unreachable) may succeed later on the same
// provider; RetryAfter, when the provider said it, is when.
type ProviderError struct {
	Provider   string
	Outcome    Outcome
	StatusCode int           // the HTTP status, 0 when there was none
	RetryAfter time.Duration // from Retry-After (or retry-after-ms); 0 when not given
	Err        error         // the cause, free of document text
}

func (e *ProviderError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "provider %s: %s", e.Provider, e.Outcome)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.StatusCode)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *ProviderError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrMalformedAnswer) hold for a malformed answer
// whatever its cause, and likewise ErrCircuitOpen and ErrNotAllowed.
func (e *ProviderError) Is(target error) bool {
	switch target {
	case ErrMalformedAnswer:
		return e.Outcome == Malformed
	case ErrCircuitOpen:
		return e.Outcome == CircuitOpen
	case ErrNotAllowed:
		return e.Outcome == NotAllowed
	}
	return false
}

// Retryable reports whether the same provider may answer if asked later.
func (e *ProviderError) Retryable() bool {
	switch e.Outcome {
	case RateLimited, ServerError, Timeout, Unreachable, CircuitOpen:
		return true
	}
	return false
}

// Malformedf is a ProviderError for an answer that is not what was asked.
func Malformedf(provider, format string, args ...any) *ProviderError {
	return &ProviderError{Provider: provider, Outcome: Malformed, Err: fmt.Errorf("%w: "+format, append([]any{ErrMalformedAnswer}, args...)...)}
}

// Attempt is one provider of the chain and how it went.
type Attempt struct {
	Provider string
	Outcome  Outcome
	Latency  time.Duration
	Err      error // nil on success
}

// AllProvidersFailedError lists each attempt when no provider answered.
type AllProvidersFailedError struct {
	Attempts []Attempt
}

func (e *AllProvidersFailedError) Error() string {
	parts := make([]string, len(e.Attempts))
	for i, a := range e.Attempts {
		parts[i] = a.Provider + ": " + string(a.Outcome)
		var pe *ProviderError
		if errors.As(a.Err, &pe) {
			if pe.StatusCode != 0 {
				parts[i] += fmt.Sprintf(" (HTTP %d)", pe.StatusCode)
			}
			if pe.RetryAfter > 0 {
				parts[i] += fmt.Sprintf(" (retry after %s)", pe.RetryAfter)
			}
		}
	}
	return ErrAllProvidersFailed.Error() + ": " + strings.Join(parts, "; ")
}

func (e *AllProvidersFailedError) Is(target error) bool { return target == ErrAllProvidersFailed }

// RetryAfter is the soonest time at which a provider of the chain said it
// may answer again, 0 when none did — a hint for the orchestrator's backoff.
func (e *AllProvidersFailedError) RetryAfter() time.Duration {
	var min time.Duration
	for _, a := range e.Attempts {
		var pe *ProviderError
		if errors.As(a.Err, &pe) && pe.RetryAfter > 0 && (min == 0 || pe.RetryAfter < min) {
			min = pe.RetryAfter
		}
	}
	return min
}

// Fault classifies err for the service's edges (HTTP problem, gRPC code):
// no consent is 403, an invalid request 422, nobody allowed 403, all
// providers down 503 with Retry-After. Other errors are returned as they
// are.
func Fault(err error) error {
	if err == nil {
		return nil
	}
	if f, ok := fault.As(err); ok {
		return f
	}
	var all *AllProvidersFailedError
	switch {
	case errors.Is(err, ErrNoConsent):
		return &fault.Error{Kind: fault.KindForbidden, Title: "No consent to AI processing", Detail: "the patient has not consented to AI_PROCESSING", Err: err}
	case errors.Is(err, ErrNotAllowed):
		return &fault.Error{Kind: fault.KindForbidden, Title: "No AI provider allowed", Detail: "no provider of the chain is on the allow-list", Err: err}
	case errors.As(err, &all):
		retry := all.RetryAfter()
		if retry <= 0 {
			retry = 30 * time.Second
		}
		return &fault.Error{Kind: fault.KindUnavailable, Title: "AI providers unavailable", Detail: "every provider of the chain failed", Err: err, RetryAfter: retry}
	}
	return err
}

func invalid(field, format string, args ...any) *fault.Error {
	f := fault.Invalid(field, format, args...)
	f.Err = ErrInvalidRequest
	return f
}
