package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/idempotency"
	"github.com/secondopinion/platform/internal/kit/logging"
	"github.com/secondopinion/platform/internal/kit/telemetry"
)

// Options configures the middleware chain of one service.
type Options struct {
	Service  string // target name, the metrics' service label
	Metrics  *telemetry.Metrics
	Verifier authn.Verifier // nil refuses every token (authn.RejectAll)
	MaxBody  int64          // request body limit in bytes; default 1 MiB
	// Idempotency keeps Idempotency-Key records; nil keeps them in memory.
	Idempotency idempotency.Store
	// TrustedProxies are the peers whose X-Forwarded-For is believed: the
	// gateway's addresses, and loopback for a mesh sidecar. A caller from
	// anywhere else is its own address, whatever it claims. Requests over
	// the in-process connection (all mode) come from the gateway.
	TrustedProxies []netip.Prefix
	// Streams picks the requests of streamed operations (see
	// RegisterStream), which enforce their own body limits; nil is none.
	Streams func(*http.Request) bool
}

// RequestIDHeader carries the request id between the gateway and services.
const RequestIDHeader = "X-Request-ID"

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// Wrap runs h behind the platform's middleware chain. Every service's REST
// and gRPC handler goes through it, so request ids, traces, metrics, access
// logs and the caller's verified identity are uniform.
func Wrap(h http.Handler, o Options) http.Handler {
	if o.Verifier == nil {
		o.Verifier = authn.RejectAll{}
	}
	if o.MaxBody == 0 {
		o.MaxBody = 1 << 20
	}
	h = capturePattern(h)
	if o.Idempotency == nil {
		o.Idempotency = idempotency.NewMemory()
	}
	h = bypass(idempotency.Middleware(o.Service, o.Idempotency, WriteProblem)(h), h, o.Streams)
	h = authn.Middleware(o.Verifier, WriteProblem)(h)
	h = bypass(limitBody(h, o.MaxBody), h, o.Streams)
	h = recoverPanics(h)
	h = private(h)
	return observe(h, o)
}

// NewRequestID returns a random 128-bit id in hex.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func observe(next http.Handler, o Options) http.Handler {
	tracer := telemetry.Tracer()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID.MatchString(id) {
			id = NewRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := logging.WithRequestID(r.Context(), id)
		// Audit entries and login throttling name the client.
		ctx = audit.WithClient(ctx, clientAddr(r, o.TrustedProxies), r.UserAgent())
		ctx = telemetry.Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
		method := methodLabel(r.Method)
		ctx, span := tracer.Start(ctx, o.Service+" "+method, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()

		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		route := new(string)
		ctx = context.WithValue(ctx, routeKey{}, route)
		next.ServeHTTP(rec, r.WithContext(ctx))

		// Label by the mux pattern, never by the path, so ids in paths
		// neither explode cardinality nor reach logs. Every label comes
		// from a bounded set: a series lives as long as the process, so
		// one label taken from the request would let any client grow
		// memory and the scrape without bound.
		if *route == "" {
			*route = "unmatched"
		}
		elapsed := time.Since(start)
		span.SetName(o.Service + " " + *route)
		span.SetAttributes(attribute.String("http.route", *route), attribute.Int("http.response.status_code", rec.status))
		if o.Metrics != nil {
			o.Metrics.HTTPDuration.WithLabelValues(method, *route, statusLabel(rec.status), o.Service).Observe(elapsed.Seconds())
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		slog.Log(ctx, level, "http request", "service", o.Service, "method", method, "route", *route,
			"status", rec.status, "duration_ms", float64(elapsed.Microseconds())/1000)
	})
}

// methodLabel is the method as metrics, logs and span names carry it: one
// of the standard methods, or OTHER. A method is any token the client
// cares to send (`curl -X X00000001`), and no route answers the others.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// statusLabel is the status code as the metrics carry it. Our handlers
// answer RFC 9110 codes, but the gateway passes on whatever three digits
// an upstream (the legacy monolith) sends; codes outside 100–599 are not
// HTTP status codes and share one label.
func statusLabel(code int) string {
	if code < 100 || code > 599 {
		return "invalid"
	}
	return strconv.Itoa(code)
}

type routeKey struct{}

// capturePattern sits right outside the mux: the mux records the matched
// pattern on the request it is handed, which is a copy made by the
// middleware in between, so the pattern is passed back through the context.
func capturePattern(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if route, ok := r.Context().Value(routeKey{}).(*string); ok && r.Pattern != "" {
			*route = r.Pattern
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach flushers and deadlines, which
// gRPC streaming needs.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				WriteProblem(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// bypass sends the requests of streamed operations (streams) to direct
// and the others to h: a streamed body is neither cut at the platform
// limit nor read whole to key an Idempotency-Key record.
func bypass(h, direct http.Handler, streams func(*http.Request) bool) http.Handler {
	if streams == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if streams(r) {
			direct.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func limitBody(next http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			WriteProblem(w, r, &fault.Error{Kind: fault.KindTooLarge, Title: "Request body too large",
				Detail: fmt.Sprintf("the body may be at most %d bytes", max)})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}
