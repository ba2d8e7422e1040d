// Package wire holds what the HTTP adapters share: turning a failed call
// into a *domain.ProviderError (status, Retry-After, timeouts, broken
// connections, undecodable bodies), the schema as providers take it, and
// unwrapping an answer from a code fence.
package wire

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/secondopinion/platform/internal/services/ai/ai-providers/domain"
)

// MaxRetryAfter bounds what a provider may ask us to wait.
const MaxRetryAfter = time.Hour

// StatusError classifies an HTTP error answer: 429 is a rate limit, 408
// and 5xx are the provider's trouble, any other 4xx a refusal of the
// request (key, model, size). code is the provider's error type or code:
// the provider's message is left out, as it may quote the request.
func StatusError(provider string, status int, h http.Header, code string, now time.Time) *domain.ProviderError {
	e := &domain.ProviderError{Provider: provider, StatusCode: status, RetryAfter: RetryAfter(h, now)}
	switch {
	case status == http.StatusTooManyRequests:
		e.Outcome = domain.RateLimited
	case status == http.StatusRequestTimeout || status == 529 || status >= 500:
		e.Outcome = domain.ServerError // 529: Anthropic's "overloaded"
	default:
		e.Outcome = domain.ClientError
	}
	if code != "" {
		e.Err = errors.New(code)
	}
	return e
}

// RetryAfter reads retry-after-ms (OpenAI) or Retry-After, in seconds or
// as an HTTP date; 0 when absent or unreadable, at most MaxRetryAfter.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	var d time.Duration
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			d = time.Duration(ms * float64(time.Millisecond))
		}
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); d == 0 && v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil {
			d = time.Duration(s * float64(time.Second))
		} else if t, err := http.ParseTime(v); err == nil {
			d = t.Sub(now).Round(time.Second)
		}
	}
	return min(max(d, 0), MaxRetryAfter)
}

// TransportError classifies a call that got no usable HTTP error answer.
// A canceled ctx is returned as it is: the caller gave up, the provider
// did nothing wrong. A deadline is a timeout; a refused, reset or closed
// connection is unreachable; a body that ends early or is not the
// provider's JSON is a malformed answer.
func TransportError(ctx context.Context, provider string, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return ctx.Err()
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return &domain.ProviderError{Provider: provider, Outcome: domain.Timeout, Err: errors.New("no answer in time")}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Malformedf(provider, "the response body ended early (truncated)")
	case isDecodeError(err):
		return domain.Malformedf(provider, "the response is not the provider's JSON")
	}
	var ue *url.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.EOF) {
		return &domain.ProviderError{Provider: provider, Outcome: domain.Unreachable, Err: errors.New(connectionProblem(err))}
	}
	return &domain.ProviderError{Provider: provider, Outcome: domain.Unreachable, Err: fmt.Errorf("%T", err)}
}

func isDecodeError(err error) bool {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	if errors.As(err, &se) || errors.As(err, &te) {
		return true
	}
	// The SDKs decode with their own JSON packages; their messages say so.
	msg := err.Error()
	return strings.Contains(msg, "invalid character") || strings.Contains(msg, "unexpected end of JSON") ||
		strings.Contains(msg, "cannot unmarshal")
}

// connectionProblem names what went wrong with the connection, without
// the URL (whose query may carry a key).
func connectionProblem(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Op + ": " + oe.Err.Error()
	}
	if errors.Is(err, io.EOF) {
		return "connection closed before the response"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return "connection failed"
}

// Schema is the answer schema of req as providers take it: an object,
// without "$schema", which some reject.
func Schema(req domain.SynthesisRequest) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(domain.SchemaOf(req), &m); err != nil {
		return nil, err
	}
	delete(m, "$schema")
	return m, nil
}

// Unfence returns the JSON inside a Markdown code fence, which models
// without structured output like to add; other text is returned trimmed.
func Unfence(s string) []byte {
	b := bytes.TrimSpace([]byte(s))
	if !bytes.HasPrefix(b, []byte("```")) {
		return b
	}
	b = b[3:]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[i+1:] // the info string ("json")
	}
	b = bytes.TrimSpace(b)
	return bytes.TrimSpace(bytes.TrimSuffix(b, []byte("```")))
}

// CheckBaseURL reports a base URL that is not http(s)://host/….
func CheckBaseURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return errors.New("base URL must be http(s)://host[:port]/path, without credentials")
	}
	return nil
}
