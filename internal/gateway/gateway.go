// Package gateway is the platform's edge: it routes public requests by
// method and path to the service that owns them (in process in `all` mode,
// over the network otherwise), enforces CORS, body limits and timeouts,
// guards each upstream with a circuit breaker, passes the client's address
// on in X-Forwarded-For, sends every route no
// service has taken over yet to the legacy monolith (strangler fig), and
// publishes the merged OpenAPI document with its docs page.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/gateway/docs"
	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
)

// Upstream is one service the gateway forwards to.
type Upstream struct {
	Target string       // e.g. "patient-identity"
	URL    string       // base URL of the service; for in-process upstreams rpc.BaseURL
	HTTP   *http.Client // rpc.NewInProcess(handler).Client() in all mode, a pooled network client otherwise
	// Spec is the service's public API: what the gateway routes to it and
	// publishes. The binary knows every service's, running or not.
	Spec *huma.OpenAPI
	// Local is set for a service in this process: the app checks its
	// readiness itself.
	Local bool
}

// Config tunes the edge; its settings are the gateway target's.
type Config struct {
	// LegacyURL is the v1 monolith; "" answers unrouted /api/ paths 404.
	LegacyURL string `env:"LEGACY_MONOLITH_URL" secret:"url" doc:"the v1 monolith: unrouted /api/ requests go there (strangler fig)"`
	// CORSOrigins are the exact origins allowed to call from a browser;
	// "*" for any.
	CORSOrigins []string      `env:"CORS_ALLOWED_ORIGINS" doc:"origins allowed to call the API from a browser"`
	Timeout     time.Duration // per upstream request; default 30 s
	MaxBody     int64         // request body limit in bytes; default 1 MiB
	// MaxHeaderBytes bounds a request's header block, counted as the
	// HTTP/2 hop to a service counts it (see headerSize); a larger one is
	// answered 431 and never forwarded. Default 64 KiB.
	MaxHeaderBytes int
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (an ingress, a sidecar): theirs is passed on with the peer appended.
	// From anyone else only the peer's own address is passed on.
	TrustedProxies []netip.Prefix
	// StreamIdle bounds the pause between two reads of a streamed
	// operation's body, or two writes of its answer
	// (httpapi.StreamExtension: uploads and downloads of records), which no
	// fixed timeout or body limit of the edge cuts: its service enforces
	// the size limits. Default 30 s.
	StreamIdle time.Duration
}

// Validate checks the settings' forms; errors name the variable.
func (c *Config) Validate() error {
	var errs []error
	if c.LegacyURL != "" {
		if err := config.CheckURL(c.LegacyURL, []string{"http", "https"}); err != nil {
			errs = append(errs, config.Errorf("LEGACY_MONOLITH_URL", "%v", err))
		}
	}
	for _, o := range c.CORSOrigins {
		if err := config.CheckOrigin(o); err != nil {
			errs = append(errs, config.Errorf("CORS_ALLOWED_ORIGINS", "%v", err))
		}
	}
	return errors.Join(errs...)
}

// Gateway is the configured edge. Build it with New.
type Gateway struct {
	cfg     Config
	ups     []Upstream
	proxies map[string]*proxy
	legacy  *proxy
	routes  []Route
	allowed map[string][]string // mounted pattern → its methods, for 405s
	paths   *http.ServeMux      // the mounted patterns without methods
	// streamed are the routes ("METHOD pattern") of streamed operations,
	// which streams matches.
	streamed map[string]bool
	streams  func(*http.Request) bool
	doc      []byte       // the merged OpenAPI document
	docs     http.Handler // GET /docs, the API reference page, and its assets
}

// New checks the upstreams and builds the gateway: its routing table from
// their specs, and the merged document. A deployment of some services runs
// a gateway for just those.
func New(cfg Config, ups []Upstream) (*Gateway, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 64 << 10
	}
	if cfg.StreamIdle <= 0 {
		cfg.StreamIdle = 30 * time.Second
	}
	g := &Gateway{cfg: cfg, proxies: map[string]*proxy{}, allowed: map[string][]string{}}
	for _, u := range ups {
		base, err := parseBase(u.URL)
		if err != nil {
			return nil, fmt.Errorf("upstream %s: %w", u.Target, err)
		}
		if u.Target == "" || u.HTTP == nil {
			return nil, fmt.Errorf("upstream %q: target and HTTP client are required", u.Target)
		}
		if _, dup := g.proxies[u.Target]; dup {
			return nil, fmt.Errorf("upstream %s given twice", u.Target)
		}
		g.proxies[u.Target] = newProxy(u.Target, base, u.HTTP, cfg)
		g.ups = append(g.ups, u)
	}
	if cfg.LegacyURL != "" {
		base, err := parseBase(cfg.LegacyURL)
		if err != nil {
			return nil, fmt.Errorf("legacy monolith: %w", err)
		}
		client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		g.legacy = newProxy("legacy monolith", base, client, cfg)
		// The monolith may serve protocol upgrades (WebSocket) over HTTP/1.
		g.legacy.upgrades = true
	}
	var err error
	if g.routes, err = routesOf(g.ups); err != nil {
		return nil, err
	}
	if g.doc, err = Merge(g.ups); err != nil {
		return nil, err
	}
	if g.docs, err = docs.Handler("/docs", "/openapi.json"); err != nil {
		return nil, fmt.Errorf("docs page: %w", err)
	}
	var routes []string
	g.streamed = map[string]bool{}
	for _, u := range g.ups {
		for _, route := range httpapi.StreamedRoutes(u.Spec) {
			routes, g.streamed[route] = append(routes, route), true
		}
	}
	g.streams = httpapi.Streams(routes)
	g.paths = http.NewServeMux()
	for _, rt := range g.routes {
		if g.allowed[rt.Pattern] == nil {
			g.paths.HandleFunc(rt.Pattern, func(http.ResponseWriter, *http.Request) {})
		}
		g.allowed[rt.Pattern] = append(g.allowed[rt.Pattern], rt.Method)
	}
	return g, nil
}

func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q is not an absolute http(s) URL", raw)
	}
	return u, nil
}

// Routes is the routing table, derived from the upstreams' specs.
func (g *Gateway) Routes() []Route { return slices.Clone(g.routes) }

// Handler serves the routed public API, GET /openapi.json (the merged
// spec) and GET /docs. It expects httpapi.Wrap around it, which sets the
// request id and the trace span it forwards.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi.json", g.serveSpec)
	mux.Handle("GET /docs", g.docs)
	mux.Handle("GET /docs/assets/", g.docs)
	for _, rt := range g.routes {
		if g.streamed[rt.Method+" "+rt.Pattern] {
			mux.Handle(rt.Method+" "+rt.Pattern, g.stream(g.proxies[rt.Target]))
		} else {
			mux.Handle(rt.Method+" "+rt.Pattern, g.limitBody(g.proxies[rt.Target]))
		}
	}
	mux.Handle("/api/", g.limitBody(http.HandlerFunc(g.unrouted)))
	mux.HandleFunc("/", notFound)
	return g.cors(g.admit(mux))
}

// Streams reports whether r is for a streamed operation (see
// Config.StreamIdle), for the middleware around the gateway: its body
// passes on whole, without the platform's limit.
func (g *Gateway) Streams(r *http.Request) bool { return g.streams(r) }

// stream forwards a streamed operation (see Config.StreamIdle): without
// the upstream timeout, for as long as its body or answer keeps moving.
func (g *Gateway) stream(p *proxy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.forward(httpapi.Idle(w, r, g.cfg.StreamIdle), r, 0)
	})
}

// unrouted handles /api/ requests no route matched: the legacy monolith
// still owns them while it exists (this includes a method a service does
// not serve on a routed path, e.g. DELETE /api/v1/patients/{id}).
// Without it, a routed path with another method is 405, anything else 404.
func (g *Gateway) unrouted(w http.ResponseWriter, r *http.Request) {
	if g.legacy != nil {
		g.legacy.ServeHTTP(w, r)
		return
	}
	if _, pattern := g.paths.Handler(r); pattern != "" {
		methods := slices.Clone(g.allowed[pattern])
		slices.Sort(methods)
		w.Header().Set("Allow", strings.Join(methods, ", "))
		httpapi.WriteProblem(w, r, &fault.Error{Kind: fault.KindMethodNotAllowed, Title: "Method not allowed",
			Detail: "allowed: " + strings.Join(methods, ", ")})
		return
	}
	notFound(w, r)
}

func notFound(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteProblem(w, r, fault.NotFound("route"))
}

// admit answers at the edge, as problems, the requests no upstream should
// see: a header block over the limit (431), which the hop to the service
// could not carry, and an Upgrade naming no protocol (400), which the
// proxy cannot forward.
func (g *Gateway) admit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if headerSize(r) > g.cfg.MaxHeaderBytes {
			httpapi.WriteProblem(w, r, &fault.Error{Kind: fault.KindHeadersTooLarge, Title: "Request headers too large",
				Detail: fmt.Sprintf("the request's headers may be at most %d bytes", g.cfg.MaxHeaderBytes)})
			return
		}
		if up := r.Header.Get("Upgrade"); up != "" && !printable(up) {
			httpapi.WriteProblem(w, r, &fault.Error{Kind: fault.KindMalformed, Title: "Malformed request",
				Detail: "the Upgrade header names no valid protocol"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// headerSize is the size of r's header block as HTTP/2 counts it (RFC 9113
// §6.5.2): each field's name and value plus 32 bytes, with the request
// line as pseudo-header fields. The host counts twice: the gateway passes
// it on again as X-Forwarded-Host. What it adds beyond that (its request
// id, trace context and one address) is small and bounded, so what it
// admits passes a hop to a server that takes somewhat more than the limit
// (the platform's take twice as much).
func headerSize(r *http.Request) int {
	const perField = 32
	n := len(":method") + len(r.Method) + len(":path") + len(r.URL.RequestURI()) + len(":scheme") + len("https") +
		2*(len(":authority")+len(r.Host)) + 5*perField
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + perField
		}
	}
	return n
}

func printable(s string) bool {
	for i := range len(s) {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// limitBody refuses bodies over the limit before any upstream sees them;
// a body without a declared length is cut at the limit while streaming.
func (g *Gateway) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > g.cfg.MaxBody {
			httpapi.WriteProblem(w, r, &fault.Error{Kind: fault.KindTooLarge, Title: "Request body too large",
				Detail: fmt.Sprintf("the body may be at most %d bytes", g.cfg.MaxBody)})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, g.cfg.MaxBody)
		next.ServeHTTP(w, r)
	})
}

// Checks are the readiness checks of the remote upstreams: each must
// answer its own /api/ready with 200. In-process upstreams are checked by
// the app directly.
func (g *Gateway) Checks() map[string]httpapi.Check {
	checks := map[string]httpapi.Check{}
	for _, u := range g.ups {
		if u.Local {
			continue
		}
		checks["upstream "+u.Target] = func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(u.URL, "/")+"/api/ready", nil)
			if err != nil {
				return fmt.Errorf("%s readiness request: %w", u.Target, err)
			}
			res, err := u.HTTP.Do(req)
			if err != nil {
				return fmt.Errorf("%s unreachable: %w", u.Target, err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("%s not ready: status %d", u.Target, res.StatusCode)
			}
			return nil
		}
	}
	return checks
}
