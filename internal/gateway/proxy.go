package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
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
// (see breakerTransport) is not called for breakerOpen, then probed with
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
	// upgrades is set for an upstream that may switch protocols (the
	// legacy monolith). The services serve none, and the HTTP/2 hop to
	// them cannot carry an Upgrade: theirs is ignored, as RFC 9110 §7.8
	// allows, and the request served as it is.
	upgrades bool
}

func newProxy(target string, base *url.URL, client *http.Client, cfg Config) *proxy {
	rt := client.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	p := &proxy{target: target, timeout: cfg.Timeout}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        rewrite(base, cfg.TrustedProxies),
		Transport:      &breakerTransport{next: rt, cb: newBreaker(target)},
		ModifyResponse: ownHeaders,
		ErrorHandler:   p.fail,
	}
	return p
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.forward(w, r, p.timeout) }

// forward sends r upstream, cut off after timeout unless it is 0.
func (p *proxy) forward(w http.ResponseWriter, r *http.Request, timeout time.Duration) {
	ctx, cancel := r.Context(), context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	var body *callerBody
	if r.Body != nil && r.Body != http.NoBody {
		// The transport gets the body behind ReverseProxy's own wrapper:
		// the breaker finds it in the context.
		body = &callerBody{ReadCloser: r.Body}
		ctx = context.WithValue(ctx, callerBodyKey{}, body)
	}
	r = r.WithContext(ctx)
	if body != nil {
		r.Body = body
	}
	if !p.upgrades && r.Header.Get("Upgrade") != "" {
		r.Header = r.Header.Clone()
		r.Header.Del("Upgrade")
	}
	p.rp.ServeHTTP(w, r)
}

// rewrite builds the outgoing request. ReverseProxy has already removed
// hop-by-hop headers and the client's X-Forwarded-* (Rewrite mode). The
// client's X-Forwarded-For is put back only when the peer is a trusted
// proxy, whose hops name the client; the peer's address is appended as the
// last hop either way. The services read it from the right, over trusted
// hops only (httpapi's clientAddr), so what a client claims about its own
// address never becomes the address that audit entries and per-address
// throttling use.
func rewrite(base *url.URL, trusted []netip.Prefix) func(*httputil.ProxyRequest) {
	return func(pr *httputil.ProxyRequest) {
		pr.SetURL(base)
		if hops := pr.In.Header.Values("X-Forwarded-For"); len(hops) > 0 && httpapi.Trusted(pr.In.RemoteAddr, trusted) {
			pr.Out.Header["X-Forwarded-For"] = hops
		}
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
	var caller *callerError
	switch {
	case errors.Is(r.Context().Err(), context.Canceled):
		// The caller hung up, whatever the transport made of it: no
		// upstream failed and nobody reads an answer. 499, as nginx logs
		// it, keeps it apart in the metrics.
		w.WriteHeader(httpapi.StatusClientClosed)
	case errors.As(err, &tooLarge):
		httpapi.WriteProblem(w, r, &fault.Error{Kind: fault.KindTooLarge, Title: "Request body too large",
			Detail: "the request body is over the gateway's limit"})
	case errors.As(err, &caller):
		httpapi.WriteProblem(w, r, caller.problem())
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

// callerError is a failed forward that the request caused, not the
// upstream: its body could not be read (too large, too slow, malformed,
// cut off), the caller went away, or the transport refused to send it as
// it was. It never counts against the upstream's circuit.
type callerError struct{ err error }

func (e *callerError) Error() string { return e.err.Error() }
func (e *callerError) Unwrap() error { return e.err }

// problem is the answer to the caller (who went away is answered 499
// before this).
func (e *callerError) problem() *fault.Error {
	switch {
	case headerListTooLarge(e.err):
		return &fault.Error{Kind: fault.KindHeadersTooLarge, Title: "Request headers too large",
			Detail: "the request's headers are over the service's limit"}
	case timedOut(e.err):
		return &fault.Error{Kind: fault.KindRequestTimeout, Title: "Request timeout",
			Detail: "the request body did not arrive in time"}
	}
	return &fault.Error{Kind: fault.KindMalformed, Title: "Malformed request",
		Detail: "the request could not be forwarded as it was sent"}
}

// callerBody is the caller's request body on its way upstream. Its read
// errors are the caller's. It remembers whether one failed, and whether a
// read is waiting on the caller, so that a deadline passing while the
// caller is slow to send is not taken for a slow upstream: the HTTP/2
// transport gives up at once, the HTTP/1 one only once the read fails.
type callerBody struct {
	io.ReadCloser
	waiting, failed atomic.Bool
}

type callerBodyKey struct{}

func (b *callerBody) Read(p []byte) (int, error) {
	b.waiting.Store(true)
	n, err := b.ReadCloser.Read(p)
	b.waiting.Store(false)
	if err != nil && err != io.EOF {
		b.failed.Store(true)
		err = &callerError{err}
	}
	return n, err
}

// causedByCaller tells a failed round trip that the request caused from
// one the upstream did. net/http exports none of the errors its transports
// return for a request they refuse to send, so those are known by their
// text (TestRefusedRequestsAreRecognised holds it to net/http's).
func causedByCaller(req *http.Request, err error) bool {
	var caller *callerError
	body, _ := req.Context().Value(callerBodyKey{}).(*callerBody)
	return errors.As(err, &caller) ||
		errors.Is(req.Context().Err(), context.Canceled) ||
		(body != nil && (body.failed.Load() || (body.waiting.Load() && timedOut(err)))) ||
		headerListTooLarge(err) || invalidRequest(err)
}

// headerListTooLarge is HTTP/2's refusal of headers over the limit the
// upstream advertised.
func headerListTooLarge(err error) bool {
	return strings.Contains(err.Error(), "request header list larger than peer's advertised limit")
}

// invalidRequest is a transport's refusal of a request it cannot encode:
// an invalid header or trailer, or for HTTP/2 also a connection-specific
// header or an invalid path.
func invalidRequest(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "net/http: invalid ") || strings.HasPrefix(msg, "http2: invalid ")
}

func newBreaker(target string) *gobreaker.CircuitBreaker[*http.Response] {
	return gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:        target,
		MaxRequests: 1,
		Timeout:     breakerOpen,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= breakerFailures },
		// What the caller caused says nothing about the upstream's health.
		IsExcluded: func(err error) bool {
			var caller *callerError
			return errors.As(err, &caller)
		},
	})
}

// breakerTransport counts the upstream's failures: no connection, no
// answer in time, a connection broken or an answer malformed. What the
// request caused is excluded (see causedByCaller), and so are the
// upstream's own answers, 5xx included: they pass through, and an input
// that makes one endpoint fail must not let anyone take the whole service
// off the air. It retries a bodiless idempotent request once when no
// connection could be made.
type breakerTransport struct {
	next http.RoundTripper
	cb   *gobreaker.CircuitBreaker[*http.Response]
}

func (t *breakerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	call := func() (*http.Response, error) {
		res, err := t.next.RoundTrip(req)
		if err != nil && causedByCaller(req, err) {
			err = &callerError{err}
		}
		return res, err
	}
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
