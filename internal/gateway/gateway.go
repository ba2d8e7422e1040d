// Package gateway is the platform's edge: it routes public requests by
// method and path to the service that owns them (in process in `all` mode,
// over the network otherwise), enforces CORS, body limits and timeouts,
// guards each upstream with a circuit breaker, sends every route no
// service has taken over yet to the legacy monolith (strangler fig), and
// publishes the merged OpenAPI document with its docs page.
package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/problem"
)

// Upstream is one service the gateway forwards to.
type Upstream struct {
	Target string        // e.g. "patient-identity"
	URL    string        // base URL of the service; for in-process upstreams rpc.BaseURL
	HTTP   *http.Client  // rpc.NewInProcess(handler).Client() in all mode, a pooled network client otherwise
	Spec   *huma.OpenAPI // its spec when in-process; nil when remote (fetched from URL+"/openapi.json")
}

// Config tunes the edge.
type Config struct {
	LegacyURL   string        // the v1 monolith; "" answers unrouted /api/ paths 404
	Timeout     time.Duration // per upstream request; default 30 s
	MaxBody     int64         // request body limit in bytes; default 1 MiB
	CORSOrigins []string      // exact origins allowed to call from a browser; "*" for any
}

// Gateway is the configured edge. Build it with New.
type Gateway struct {
	cfg     Config
	ups     []Upstream
	proxies map[string]*proxy
	legacy  *proxy
	allowed map[string][]string // mounted pattern → its methods, for 405s
	paths   *http.ServeMux      // the mounted patterns without methods
	specs   *specCache
}

// New checks the upstreams and builds the gateway. Routes whose target is
// not among ups are not mounted, so a deployment of a single service runs
// a gateway for just that service.
func New(cfg Config, ups []Upstream) (*Gateway, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
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
		g.proxies[u.Target] = newProxy(u.Target, base, u.HTTP, cfg.Timeout)
		g.ups = append(g.ups, u)
	}
	if cfg.LegacyURL != "" {
		base, err := parseBase(cfg.LegacyURL)
		if err != nil {
			return nil, fmt.Errorf("legacy monolith: %w", err)
		}
		client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
		g.legacy = newProxy("legacy monolith", base, client, cfg.Timeout)
	}
	g.paths = http.NewServeMux()
	for _, rt := range Routes {
		if g.proxies[rt.Target] == nil {
			continue
		}
		if g.allowed[rt.Pattern] == nil {
			g.paths.HandleFunc(rt.Pattern, func(http.ResponseWriter, *http.Request) {})
		}
		g.allowed[rt.Pattern] = append(g.allowed[rt.Pattern], rt.Method)
	}
	g.specs = newSpecCache(g.ups)
	return g, nil
}

func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("base URL %q is not an absolute http(s) URL", raw)
	}
	return u, nil
}

// Handler serves the routed public API, GET /openapi.json (the merged
// spec) and GET /docs. It expects httpapi.Wrap around it, which sets the
// request id and the trace span it forwards.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi.json", g.serveSpec)
	mux.HandleFunc("GET /docs", serveDocs)
	for _, rt := range Routes {
		if p := g.proxies[rt.Target]; p != nil {
			mux.Handle(rt.Method+" "+rt.Pattern, p)
		}
	}
	mux.HandleFunc("/api/", g.unrouted)
	mux.HandleFunc("/", notFound)
	return g.cors(g.limitBody(mux))
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
		httpapi.WriteProblem(w, r, &problem.Error{Kind: problem.KindMethodNotAllowed, Title: "Method not allowed",
			Detail: "allowed: " + strings.Join(methods, ", ")})
		return
	}
	notFound(w, r)
}

func notFound(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteProblem(w, r, problem.NotFound("route"))
}

// limitBody refuses bodies over the limit before any upstream sees them;
// a body without a declared length is cut at the limit while streaming.
func (g *Gateway) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > g.cfg.MaxBody {
			httpapi.WriteProblem(w, r, &problem.Error{Kind: problem.KindTooLarge, Title: "Request body too large",
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
		if u.Spec != nil {
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
