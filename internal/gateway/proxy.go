package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/propagation"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/logging"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/telemetry"
)

// Circuit breaker tuning: an upstream that failed this many times in a row
// at the transport level is not called for breakerOpen, then probed with
// one request.
const (
	breakerFailures = 5
	breakerOpen     = 10 * time.Second
	unavailableWait = 5 * time.Second
)

// proxy forwards requests to one upstream through its circuit breaker.
type proxy struct {
	target  string
	timeout time.Duration
	rp      *httputil.ReverseProxy
}

func newProxy(target string, base *url.URL, client *http.Client, timeout time.Duration) *proxy {
	rt := client.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	p := &proxy{target: target, timeout: timeout}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        rewrite(base),
		Transport:      &breakerTransport{next: rt, cb: newBreaker(target)},
		ModifyResponse: ownHeaders,
		ErrorHandler:   p.fail,
	}
	return p
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
	defer cancel()
	p.rp.ServeHTTP(w, r.WithContext(ctx))
}

// rewrite builds the outgoing request. ReverseProxy has already removed
// hop-by-hop headers and the client's X-Forwarded-* (Rewrite mode), so
// what a client claims about its address never reaches a service.
func rewrite(base *url.URL) func(*httputil.ProxyRequest) {
	return func(pr *httputil.ProxyRequest) {
		pr.SetURL(base)
		pr.SetXForwarded()
		h := pr.Out.Header
		h.Del("Forwarded")
		h.Del(httpapi.RequestIDHeader)
		if id := logging.RequestID(pr.In.Context()); id != "" {
			h.Set(httpapi.RequestIDHeader, id)
		}
		// The trace context is the gateway's span, never the client's raw
		// header: the middleware already extracted a valid one as parent.
		h.Del("Traceparent")
		h.Del("Tracestate")
		telemetry.Propagator.Inject(pr.In.Context(), propagation.HeaderCarrier(h))
	}
}

// ownHeaders drops the response headers the gateway sets itself, so a
// client sees each once and CORS is decided at the edge only.
func ownHeaders(res *http.Response) error {
	res.Header.Del(httpapi.RequestIDHeader)
	for k := range res.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			res.Header.Del(k)
		}
	}
	return nil
}

// fail answers a request the upstream did not answer. Upstream responses,
// including their own problem documents, never come here: they pass through.
func (p *proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	var tooLarge *http.MaxBytesError
	switch {
	case r.Context().Err() != nil && errors.Is(err, context.Canceled):
		// The caller hung up: no upstream failed and nobody reads an
		// answer. 499, as nginx logs it, keeps it apart in the metrics.
		w.WriteHeader(statusClientClosed)
	case errors.As(err, &tooLarge):
		httpapi.WriteProblem(w, r, &fault.Error{Kind: fault.KindTooLarge, Title: "Request body too large",
			Detail: "the request body is over the gateway's limit"})
	case errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests):
		httpapi.WriteProblem(w, r, &fault.Error{Kind: fault.KindUnavailable, Title: "Service unavailable",
			Detail: p.target + " is unavailable", Err: err, RetryAfter: breakerOpen})
	case timedOut(err):
		httpapi.WriteProblem(w, r, &fault.Error{Kind: fault.KindTimeout, Title: "Gateway timeout",
			Detail: p.target + " did not answer in time", Err: err})
	case connFailed(err):
		httpapi.WriteProblem(w, r, &fault.Error{Kind: fault.KindUnavailable, Title: "Service unavailable",
			Detail: p.target + " is unavailable", Err: err, RetryAfter: unavailableWait})
	default:
		httpapi.WriteProblem(w, r, &fault.Error{Kind: fault.KindBadGateway, Title: "Bad gateway",
			Detail: p.target + " answered with an invalid response", Err: err})
	}
}

// statusClientClosed is nginx's code for a request the client abandoned.
const statusClientClosed = 499

func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// connFailed reports that no connection to the upstream could be made, so
// the request certainly did not reach it.
func connFailed(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) ||
		(errors.As(err, &op) && op.Op == "dial") ||
		errors.As(err, &dns) ||
		errors.Is(err, rpc.ErrServerClosed)
}

func newBreaker(target string) *gobreaker.CircuitBreaker[*http.Response] {
	return gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:        target,
		MaxRequests: 1,
		Timeout:     breakerOpen,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= breakerFailures },
		// Neither a caller who went away nor an oversized body says
		// anything about the upstream's health.
		IsExcluded: func(err error) bool {
			var tooLarge *http.MaxBytesError
			return errors.Is(err, context.Canceled) || errors.As(err, &tooLarge)
		},
	})
}

// breakerTransport counts transport failures (not 4xx/5xx answers, which
// are the upstream's to give) and retries a bodiless idempotent request
// once when no connection could be made.
type breakerTransport struct {
	next http.RoundTripper
	cb   *gobreaker.CircuitBreaker[*http.Response]
}

func (t *breakerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	call := func() (*http.Response, error) { return t.next.RoundTrip(req) }
	res, err := t.cb.Execute(call)
	if err != nil && idempotent(req) && connFailed(err) && req.Context().Err() == nil {
		res, err = t.cb.Execute(call)
	}
	return res, err
}

func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return req.Body == nil || req.Body == http.NoBody
	}
	return false
}
