package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/redis/go-redis/v9"

	authclient "github.com/secondopinion/platform/internal/clients/auth"
	"github.com/secondopinion/platform/internal/gateway"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/idempotency"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/telemetry"
)

// Options tune a start beyond the configuration.
type Options struct {
	// Listener to serve on; nil listens on cfg.Listen. Tests pass
	// testkit.Listen.
	Listener net.Listener
	// MetricsListener serves /metrics (and the probes) apart from the
	// public port; nil listens on METRICS_LISTEN, or nowhere when
	// Listener is set (see listenOps).
	MetricsListener net.Listener
	// SkipMigrations starts without applying migrations (serve --migrate=false).
	SkipMigrations bool
	// Log receives the app's log lines; nil uses slog.Default (which main
	// sets to the JSON logger, as the middleware logs there too).
	Log *slog.Logger
	// Verifier, when set, checks bearer tokens instead of the auth
	// service: tests that need principals without logins set it.
	Verifier authn.Verifier
	// ServiceTokens, when set with Verifier, issues the services' own
	// identities for calls between them.
	ServiceTokens func(service string) rpc.TokenSource
}

// App is a set of targets ready to serve. Build it with New, then Run it;
// Close releases it if Run is never called.
type App struct {
	cfg      Config
	opts     Options
	log      *slog.Logger
	metrics  *telemetry.Metrics
	bus      bus.Transport
	services []*running
	gateway  *gateway.Gateway
	handler  http.Handler
	server   *http.Server
	ln       net.Listener
	ops      *opsServer // nil when METRICS_LISTEN is off

	mu    sync.Mutex
	peers map[string]*inProcessPeer // local targets reached through their wrapped handler
	// selected are the targets of this process, built or about to be.
	selected map[string]bool
	remote   *http.Client  // gRPC to peers in other processes
	upHTTP   *http.Client  // the gateway's REST to remote upstreams
	redis    *redis.Client // nil without REDIS_URL
	// authority is the token issuer (auth) when it runs here.
	authority service.Authority
	// verifier is the authn.Verifier behind Verify, chosen by
	// chooseVerifier once every target is built.
	verifier atomic.Value
	idem     idempotency.Store // Idempotency-Key records in Redis; nil keeps them in each service's store
	closing  sync.Once
	closed   error
}

// running is a service target built in this process.
type running struct {
	target  Target
	svc     service.Service
	db      *sqldb.DB
	handler http.Handler // svc.Handler wrapped in the platform middleware
}

type inProcessPeer struct {
	srv    *rpc.InProcess
	client *http.Client
}

// Run builds the targets and serves them until ctx ends.
func Run(ctx context.Context, cfg Config, targets []string, opts Options) error {
	a, err := New(ctx, cfg, targets, opts)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// New opens the bus and every target's store, applies migrations, builds
// the services and the gateway, and binds the listener. Any failure undoes
// what was done and names the target at fault.
func New(ctx context.Context, cfg Config, names []string, opts Options) (_ *App, err error) {
	targets, err := Resolve(names)
	if err != nil {
		return nil, err
	}
	if err := checkPeers(cfg, targets); err != nil {
		return nil, err
	}
	a := &App{
		cfg:      cfg,
		opts:     opts,
		log:      opts.Log,
		metrics:  telemetry.NewMetrics(),
		peers:    map[string]*inProcessPeer{},
		selected: map[string]bool{},
		remote:   rpc.RemoteClient(),
		upHTTP:   &http.Client{Transport: upstreamTransport()},
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	for _, t := range targets {
		a.selected[t.Name] = true
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.bus, err = openBus(ctx, cfg, targets); err != nil {
		return nil, err
	}
	if err = a.openRedis(ctx); err != nil {
		return nil, err
	}
	for _, t := range byDependency(targets) {
		if t.Name == Gateway {
			err = a.addGateway(t)
		} else {
			err = a.addService(ctx, t)
		}
		if err != nil {
			return nil, err
		}
	}
	a.chooseVerifier()
	if a.handler, err = a.routes(); err != nil {
		return nil, err
	}
	a.server = newServer(cfg.Platform, a.handler)
	if a.ln = opts.Listener; a.ln == nil {
		if a.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
	}
	if err = a.listenOps(len(targets)); err != nil {
		return nil, err
	}
	return a, nil
}

// newServer is the public listener's server, its limits from the platform
// settings. Headers get a shorter bound than the whole request. The server
// reads up to net/http's own 1 MiB of header (or twice the limit, if that
// is more): the gateway answers a block over the limit with a problem
// document a client can act on, and a service apart takes what the gateway
// forwards (the block it admitted plus a few headers of its own). Only
// beyond that does net/http answer a plain-text 431 itself and close the
// connection.
func newServer(p Platform, h http.Handler) *http.Server {
	return &http.Server{Handler: h, Protocols: rpc.Protocols(),
		ReadHeaderTimeout: min(10*time.Second, p.HTTPReadTimeout), ReadTimeout: p.HTTPReadTimeout,
		WriteTimeout: p.HTTPWriteTimeout, IdleTimeout: p.HTTPIdleTimeout,
		MaxHeaderBytes: max(2*p.HTTPMaxHeaderBytes, http.DefaultMaxHeaderBytes)}
}

// upstreamTransport keeps enough idle connections per upstream for the
// gateway's concurrency: the default two per host made most proxied
// requests open a new connection under load (bench/RESULTS.md).
func upstreamTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 128
	return t
}

// openRedis connects to REDIS_URL, where Idempotency-Key records are
// shared by every replica; without it each service keeps them in its own
// store (see wrap).
func (a *App) openRedis(ctx context.Context) error {
	if a.cfg.RedisURL == "" {
		return nil
	}
	opt, err := redis.ParseURL(a.cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	a.redis = redis.NewClient(opt)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.redis.Ping(pctx).Err(); err != nil {
		return fmt.Errorf("connect to redis at %s: %w", config.RedactURL(a.cfg.RedisURL), err)
	}
	a.idem = idempotency.NewRedis(a.redis)
	return nil
}

// wrap puts a service's handler behind the platform middleware. Without
// Redis its Idempotency-Key records live in its own store db, beside the
// changes they guard: they survive a crash, and replicas sharing the
// database share them.
func (a *App) wrap(target string, h http.Handler, db *sqldb.DB, streams func(*http.Request) bool) http.Handler {
	idem := a.idem
	if idem == nil {
		idem = idempotency.NewSQL(db)
	}
	return httpapi.Wrap(h, httpapi.Options{Service: target, Metrics: a.metrics, Verifier: a, Idempotency: idem,
		TrustedProxies: a.cfg.TrustedProxies, Streams: streams})
}

// edgeVerifier is the gateway's: a service identity is for calls between
// services inside the mesh, so one presented from outside is refused like
// a forged token.
type edgeVerifier struct{ a *App }

func (v edgeVerifier) Verify(ctx context.Context, token string) (authn.Principal, error) {
	p, err := v.a.Verify(ctx, token)
	if err == nil && p.Role == authn.RoleService {
		return authn.Principal{}, fmt.Errorf("%w: a service identity at the edge", authn.ErrInvalidToken)
	}
	return p, err
}

// Verify checks a bearer token for the gateway and every service here,
// with the verifier chosen once all targets are built (see verifier).
func (a *App) Verify(ctx context.Context, token string) (authn.Principal, error) {
	v, _ := a.verifier.Load().(authn.Verifier)
	if v == nil {
		return authn.Principal{}, authn.ErrNoVerifier
	}
	return v.Verify(ctx, token)
}

// chooseVerifier picks who checks tokens: the test's verifier; the auth
// service of this process, which also sees logouts and idle sessions at
// once; or the JWKS of the auth service at AUTH_SERVICE_URL, cached and
// refreshed on an unknown key. Without either, every token is refused.
func (a *App) chooseVerifier() {
	switch {
	case a.opts.Verifier != nil:
		a.verifier.Store(a.opts.Verifier)
	case a.authority != nil:
		a.verifier.Store(a.authority.Verifier())
	case a.cfg.ServiceURLs["auth"] != "":
		jwks := strings.TrimSuffix(a.cfg.ServiceURLs["auth"], "/") + "/.well-known/jwks.json"
		a.verifier.Store(authn.NewJWKSVerifier(jwks, authn.VerifierOptions{HTTP: a.upHTTP}))
	default:
		a.log.Warn("no auth service in this process and AUTH_SERVICE_URL unset: every bearer token is refused")
	}
}

// checkPeers refuses a start where a target would call a peer that is
// neither in this process nor at a configured URL.
func checkPeers(cfg Config, targets []Target) error {
	local := map[string]bool{}
	for _, t := range targets {
		local[t.Name] = true
	}
	for _, t := range targets {
		for _, r := range t.Requires {
			if !local[r] && cfg.ServiceURLs[r] == "" {
				return fmt.Errorf("%s requires %s: run it in this process (--target=%s,%s) or set %s",
					t.Name, r, t.Name, r, ServiceURLVar(r))
			}
			if t.Name != Gateway && !local[r] && !local["auth"] && cfg.ServiceSecret == "" {
				return fmt.Errorf("%s calls %s in another process with its own service identity: set SERVICE_SECRET (and list it in auth's SERVICE_SECRETS)", t.Name, r)
			}
		}
	}
	services := 0
	for _, t := range targets {
		if t.Name != Gateway {
			services++
		}
	}
	if services > 1 && !local[Gateway] {
		return errors.New("several services in one process are served through the gateway: add gateway to --target")
	}
	return nil
}

// OpenStore opens a target's store: PostgreSQL at <SERVICE>_DATABASE_URL or
// DATABASE_URL (in the target's own schema), else SQLite under DATA_DIR.
// Its errors already name the target ("open patient-identity store: ...").
func OpenStore(ctx context.Context, cfg Config, target string) (*sqldb.DB, error) {
	return sqldb.Open(ctx, sqldb.Options{Service: target, URL: cfg.DatabaseURLFor(target), DataDir: cfg.DataDir,
		ConnectTimeout: cfg.DatabaseConnectTimeout, StatementTimeout: cfg.DatabaseStatementTimeout})
}

// Migrate applies the migrations of the named targets and returns.
func Migrate(ctx context.Context, cfg Config, names []string, log *slog.Logger) error {
	targets, err := Resolve(names)
	if err != nil {
		return err
	}
	for _, t := range targets {
		if t.Migrate == nil {
			continue
		}
		db, err := OpenStore(ctx, cfg, t.Name)
		if err != nil {
			return err
		}
		err = migrate(ctx, t, db)
		db.Close()
		if err != nil {
			return fmt.Errorf("migrate %s store: %w", t.Name, err)
		}
		log.Info("migrated", "target", t.Name, "engine", string(db.Engine))
	}
	return nil
}

// migrate applies a service's migrations, which include the table of
// the Idempotency-Key records the app keeps in every service's store (see
// wrap and service.WithOutbox).
func migrate(ctx context.Context, t Target, db *sqldb.DB) error {
	return t.Migrate(ctx, db)
}

func (a *App) addService(ctx context.Context, t Target) error {
	db, err := OpenStore(ctx, a.cfg, t.Name)
	if err != nil {
		return err
	}
	s := &running{target: t, db: db}
	a.services = append(a.services, s) // from here on, Close closes the store
	if err := a.metrics.WatchDB(t.Name, databaseName(a.cfg, db), db.DB); err != nil {
		return fmt.Errorf("watch %s store: %w", t.Name, err)
	}
	if !a.opts.SkipMigrations {
		if err := migrate(ctx, t, db); err != nil {
			return fmt.Errorf("migrate %s store: %w", t.Name, err)
		}
	}
	s.svc, err = t.New(a.cfg.Services[t.Name], service.Deps{
		Region:  a.cfg.Region,
		DataDir: a.cfg.DataDir,
		DB:      db,
		Bus:     a.bus,
		Metrics: a.metrics,
		Log:     a.log.With("service", t.Name),
		Redis:   a.redis,
		Peer:    a.peerOf(t.Name),
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", t.Name, err)
	}
	if auth, ok := s.svc.(service.Authority); ok {
		a.authority = auth
	}
	s.handler = a.wrap(t.Name, s.svc.Handler(), db, httpapi.Streams(httpapi.StreamedRoutes(s.svc.OpenAPI())))
	return nil
}

// addGateway routes to every required service running here (in process)
// or configured at its URL; services that exist nowhere yet stay unrouted.
func (a *App) addGateway(t Target) error {
	var ups []gateway.Upstream
	for _, r := range t.Requires {
		if s := a.local(r); s != nil {
			ups = append(ups, gateway.Upstream{Target: r, URL: rpc.BaseURL, HTTP: a.inProcess(r).client, Spec: s.svc.OpenAPI(), Local: true})
		} else if u := a.cfg.ServiceURLs[r]; u != "" {
			m, _ := Lookup(r)
			ups = append(ups, gateway.Upstream{Target: r, URL: u, HTTP: a.upHTTP, Spec: m.Spec()})
		}
	}
	gcfg := a.cfg.Gateway
	gcfg.MaxHeaderBytes = a.cfg.HTTPMaxHeaderBytes
	gcfg.TrustedProxies = a.cfg.TrustedProxies
	gcfg.StreamIdle = a.cfg.HTTPReadTimeout
	g, err := gateway.New(gcfg, ups)
	if err != nil {
		return fmt.Errorf("build gateway: %w", err)
	}
	a.gateway = g
	return nil
}

func (a *App) local(target string) *running {
	for _, s := range a.services {
		if s.target.Name == target && s.svc != nil {
			return s
		}
	}
	return nil
}

// inProcess serves a local service's wrapped handler in memory, once, so
// its peers and the gateway reach it with the full protocol and middleware.
// The handler is found per request: two services may call each other
// (medical-records reads cases, case-management asks for the records'
// checklist), so one is given its peer before that peer is built.
func (a *App) inProcess(target string) *inProcessPeer {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.peers[target]
	if p == nil {
		srv := rpc.NewInProcess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := a.local(target)
			if s == nil || s.handler == nil {
				httpapi.WriteProblem(w, r, fault.Unavailable(target, errors.New("not built yet")))
				return
			}
			s.handler.ServeHTTP(w, r)
		}))
		p = &inProcessPeer{srv: srv, client: srv.Client()}
		a.peers[target] = p
	}
	return p
}

// peerOf is service.Deps.Peer of the service caller: its calls carry the
// caller's own service identity.
func (a *App) peerOf(caller string) func(string) (service.Peer, error) {
	return func(target string) (service.Peer, error) {
		p, err := a.peer(target)
		if err != nil {
			return p, err
		}
		p.HTTP = rpc.WithIdentity(p.HTTP, a.serviceIdentity(caller))
		return p, nil
	}
}

func (a *App) peer(target string) (service.Peer, error) {
	if a.selected[target] {
		return service.Peer{HTTP: a.inProcess(target).client, URL: rpc.BaseURL}, nil
	}
	if u := a.cfg.ServiceURLs[target]; u != "" {
		return service.Peer{HTTP: a.remote, URL: u}, nil
	}
	return service.Peer{}, fmt.Errorf("peer %s is not in this process and %s is not set", target, ServiceURLVar(target))
}

// serviceIdentity is where service name gets the token it presents to
// peers: the test's issuer, auth in this process, or auth elsewhere in
// exchange for SERVICE_SECRET. It is asked at the first call, when every
// local target exists.
func (a *App) serviceIdentity(name string) rpc.TokenSource {
	return func(ctx context.Context) (string, time.Time, error) {
		switch {
		case a.opts.ServiceTokens != nil:
			return a.opts.ServiceTokens(name)(ctx)
		case a.authority != nil:
			return a.authority.ServiceToken(name)(ctx)
		case a.cfg.ServiceSecret == "":
			return "", time.Time{}, fmt.Errorf("%s has no service identity: auth is not in this process and SERVICE_SECRET is not set", name)
		}
		p, err := a.peer("auth")
		if err != nil {
			return "", time.Time{}, err
		}
		return authclient.New(p, a.log).ServiceToken(name, a.cfg.ServiceSecret)(ctx)
	}
}

// routes puts the operational endpoints and the events document beside
// the public API: the gateway's when it runs here (the services are then
// reached only through it), else the single service's own REST and gRPC
// handler. Those patterns are more specific than the catch-all "/", so
// neither shadows the other.
func (a *App) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	httpapi.Probes(mux, a.checks())
	events, err := AsyncAPIDocument()
	if err != nil {
		return nil, fmt.Errorf("asyncapi document: %w", err)
	}
	mux.HandleFunc("GET /asyncapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(events)
	})
	if a.gateway != nil {
		// The gateway serves the merged /openapi.json and /docs itself.
		// It keeps no Idempotency-Key records: it passes the header on,
		// and the service that carries the request out keeps the one
		// record. A second copy here would be lost in a crash (without
		// Redis) and could only answer ahead of the durable one.
		mux.Handle("/", httpapi.Wrap(a.gateway.Handler(), httpapi.Options{Service: Gateway, Metrics: a.metrics, Verifier: edgeVerifier{a}, Idempotency: idempotency.Forward,
			TrustedProxies: a.cfg.TrustedProxies, Streams: a.gateway.Streams}))
		return mux, nil
	}
	s := a.services[0]
	spec, err := json.Marshal(s.svc.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("%s openapi: %w", s.target.Name, err)
	}
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/openapi+json")
		_, _ = w.Write(spec)
	})
	mux.Handle("/", s.handler)
	return mux, nil
}

// checks are the readiness checks: every local store, the bus, and what
// each service and the gateway add.
func (a *App) checks() map[string]httpapi.Check {
	checks := map[string]httpapi.Check{"bus": a.bus.Ping}
	if a.redis != nil {
		checks["redis"] = func(ctx context.Context) error { return a.redis.Ping(ctx).Err() }
	}
	for _, s := range a.services {
		checks[s.target.Name+" store"] = s.db.PingContext
		for n, c := range s.svc.Checks() {
			checks[s.target.Name+" "+n] = c
		}
	}
	if a.gateway != nil {
		for n, c := range a.gateway.Checks() {
			checks[Gateway+" "+n] = c
		}
	}
	return checks
}

// Handler is everything the listener serves.
func (a *App) Handler() http.Handler { return a.handler }

// Addr is the bound listen address.
func (a *App) Addr() net.Addr { return a.ln.Addr() }

// Bus is the event transport the services share.
func (a *App) Bus() bus.Transport { return a.bus }

// OpenAPI is a local service's own spec, or nil: what it serves whether
// or not the gateway routes it.
func (a *App) OpenAPI(target string) *huma.OpenAPI {
	if s := a.local(target); s != nil {
		return s.svc.OpenAPI()
	}
	return nil
}

// Store is a local target's store, or nil.
func (a *App) Store(target string) *sqldb.DB {
	for _, s := range a.services {
		if s.target.Name == target {
			return s.db
		}
	}
	return nil
}

// Run serves until ctx ends or a part fails, then shuts down gracefully
// within SHUTDOWN_TIMEOUT: stop accepting and finish in-flight requests,
// stop the services' background work (their outbox relays flush), then
// close the peers, the bus and the stores. It returns the first error.
func (a *App) Run(ctx context.Context) error {
	stopTracing, err := telemetry.SetupTracing(ctx, a.serviceName(), a.cfg.OTLPEndpoint)
	if err != nil {
		return errors.Join(fmt.Errorf("tracing: %w", err), a.Close())
	}
	// Services outlive ctx: they stop only after the server has drained.
	runCtx, stopServices := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServices()
	failed := make(chan error, len(a.services)+2) // the services, the public and the operations server
	var wg sync.WaitGroup
	for _, s := range a.services {
		wg.Go(func() {
			if err := s.svc.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
				failed <- fmt.Errorf("%s: %w", s.target.Name, err)
			}
		})
		a.log.Info("target started", "target", s.target.Name, "domain", string(s.target.Domain), "engine", string(s.db.Engine))
	}
	if a.gateway != nil {
		a.log.Info("target started", "target", Gateway, "domain", string(service.Edge))
	}
	go func() {
		if err := a.server.Serve(a.ln); !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("serve: %w", err)
		}
	}()
	a.log.Info("listening", "addr", a.ln.Addr().String())
	a.ops.serve(a.log, failed)

	var first error
	select {
	case <-ctx.Done():
	case first = <-failed:
	}
	a.log.Info("shutting down", "timeout", a.cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	keep := func(err error) {
		if first == nil && err != nil {
			first = err
		}
	}
	if err := a.server.Shutdown(sctx); err != nil {
		keep(fmt.Errorf("stop http server: %w", err))
	}
	stopServices()
	stopped := make(chan struct{})
	go func() { wg.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-sctx.Done():
		keep(errors.New("services did not stop within SHUTDOWN_TIMEOUT"))
	}
	for len(failed) > 0 {
		keep(<-failed)
	}
	if err := stopTracing(sctx); err != nil {
		keep(fmt.Errorf("flush traces: %w", err))
	}
	keep(a.Close())
	if first == nil {
		a.log.Info("stopped")
	}
	return first
}

// Close releases the listener, the in-process peers, the bus and the
// stores. It is safe to call more than once.
func (a *App) Close() error {
	a.closing.Do(func() {
		var errs []error
		if a.server != nil {
			errs = append(errs, a.server.Close())
		}
		if a.ln != nil {
			if err := a.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, fmt.Errorf("close listener: %w", err))
			}
		}
		if err := a.ops.close(); err != nil {
			errs = append(errs, err)
		}
		a.mu.Lock()
		for name, p := range a.peers {
			if err := p.srv.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close in-process %s: %w", name, err))
			}
		}
		a.mu.Unlock()
		if a.redis != nil {
			if err := a.redis.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close redis: %w", err))
			}
		}
		if a.bus != nil {
			if err := a.bus.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close bus: %w", err))
			}
		}
		for _, s := range a.services {
			// A service holding more than its store (a bucket, a keeper)
			// lets go of it first.
			if c, ok := s.svc.(io.Closer); ok {
				if err := c.Close(); err != nil {
					errs = append(errs, fmt.Errorf("close %s: %w", s.target.Name, err))
				}
			}
			if err := s.db.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s store: %w", s.target.Name, err))
			}
		}
		a.closed = errors.Join(errs...)
	})
	return a.closed
}

// serviceName names this process in traces.
func (a *App) serviceName() string {
	switch {
	case a.cfg.ServiceName != "":
		return a.cfg.ServiceName
	case len(a.services) == 1 && a.gateway == nil:
		return a.services[0].target.Name
	default:
		return "secondopinion"
	}
}

// databaseName labels active_database_connections: the SQLite file, or
// the PostgreSQL database with the service's schema.
func databaseName(cfg Config, db *sqldb.DB) string {
	if db.Engine == sqldb.SQLite {
		return db.Service + ".db"
	}
	name := "postgres"
	if u, err := url.Parse(cfg.DatabaseURLFor(db.Service)); err == nil && strings.Trim(u.Path, "/") != "" {
		name = strings.Trim(u.Path, "/")
	}
	return name + "/" + db.Schema
}
