package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/services/ai/ai-providers/domain"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	for _, tt := range []struct {
		h    http.Header
		want time.Duration
	}{
		{h("Retry-After", "7"), 7 * time.Second},
		{h("Retry-After", "1.5"), 1500 * time.Millisecond},
		{h("Retry-After", now.Add(2*time.Minute).Format(http.TimeFormat)), 2 * time.Minute},
		{h("Retry-After", now.Add(-time.Minute).Format(http.TimeFormat)), 0}, // in the past
		{h("Retry-After-Ms", "250", "Retry-After", "9"), 250 * time.Millisecond},
		{h("Retry-After", "-3"), 0},
		{h("Retry-After", "soon"), 0},
		{h("Retry-After", "999999"), MaxRetryAfter},
		{nil, 0},
	} {
		if got := RetryAfter(tt.h, now); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.h, got, tt.want)
		}
	}
}

func TestStatusError(t *testing.T) {
	for status, want := range map[int]domain.Outcome{
		429: domain.RateLimited, 408: domain.ServerError, 500: domain.ServerError, 503: domain.ServerError,
		529: domain.ServerError, 400: domain.ClientError, 401: domain.ClientError, 404: domain.ClientError,
	} {
		e := StatusError("p", status, http.Header{"Retry-After": {"3"}}, "code", time.Now())
		if e.Outcome != want || e.StatusCode != status || e.RetryAfter != 3*time.Second || e.Err.Error() != "code" {
			t.Errorf("%d: %+v", status, e)
		}
	}
}

func TestTransportError(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	refused := &url.Error{Op: "Post", URL: "http://127.0.0.1:1/v1/chat/completions?key=secret", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}
	for _, tt := range []struct {
		ctx  context.Context
		err  error
		want domain.Outcome // "" means ctx's own error
	}{
		{canceled, fmt.Errorf("post: %w", context.Canceled), ""},
		{bg, fmt.Errorf("post: %w", context.DeadlineExceeded), domain.Timeout},
		{bg, fmt.Errorf("read: %w", io.ErrUnexpectedEOF), domain.Malformed},
		{bg, errors.New("invalid character '<' looking for beginning of value"), domain.Malformed},
		{bg, refused, domain.Unreachable},
		{bg, &url.Error{Op: "Post", URL: "u", Err: io.EOF}, domain.Unreachable},
	} {
		err := TransportError(tt.ctx, "p", tt.err)
		var pe *domain.ProviderError
		switch {
		case tt.want == "" && err != context.Canceled:
			t.Errorf("%v: %v, want context.Canceled", tt.err, err)
		case tt.want != "" && (!errors.As(err, &pe) || pe.Outcome != tt.want):
			t.Errorf("%v: %v, want %s", tt.err, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the URL's query leaked: %v", err)
		}
	}
}

func TestUnfence(t *testing.T) {
	for in, want := range map[string]string{
		"```json\n{\"a\":1}\n```": `{"a":1}`,
		"```\n{\"a\":1}```":       `{"a":1}`,
		"  {\"a\":1}\n":           `{"a":1}`,
	} {
		if got := string(Unfence(in)); got != want {
			t.Errorf("Unfence(%q) = %q", in, got)
		}
	}
}
