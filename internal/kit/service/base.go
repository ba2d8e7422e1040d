package service

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/idempotency"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// Base is the skeleton every service shares, built once here: its logger,
// store, outbox relay, event consumer, mux and public API, readiness
// checks and background jobs, and the Service methods over them. A
// service embeds it, so its own New holds only what is its own.
type Base struct {
	Name  string
	Log   *slog.Logger
	DB    *sqldb.DB
	Relay *outbox.Relay
	Mux   *http.ServeMux
	API   huma.API

	deps     Deps
	consumer *outbox.Consumer // nil when the service consumes nothing
	checks   map[string]httpapi.Check
	jobs     []func(context.Context)
	rpcs     rpcHealth // the internal gRPC services ServeRPC mounted
}

// NewBase builds the skeleton of service name over deps, consuming events
// with handlers (none: it only publishes).
func NewBase(name string, deps Deps, handlers outbox.Handlers) (*Base, error) {
	if deps.DB == nil || deps.Bus == nil {
		return nil, fmt.Errorf("%s: needs a store and a bus", name)
	}
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	b := &Base{Name: name, Log: log, DB: deps.DB, Mux: http.NewServeMux(), deps: deps, checks: map[string]httpapi.Check{},
		Relay: outbox.NewRelay(deps.DB, deps.Bus, outbox.RelayOptions{Logger: log})}
	b.API = httpapi.NewAPI(b.Mux, name, APIVersion)
	if !handlers.Empty() {
		b.consumer = outbox.NewConsumer(deps.DB, name, handlers.ByType,
			outbox.ConsumerOptions{Logger: log, Fallback: handlers.Fallback, Journal: handlers.Journal})
	}
	return b, nil
}

// ServeRPC mounts an internal gRPC service's handler at path, and answers
// gRPC health checks for it by its full name.
func (b *Base) ServeRPC(name, path string, h http.Handler) {
	if b.rpcs == nil {
		b.rpcs = rpcHealth{}
		b.Mux.Handle(grpchealth.NewHandler(b.rpcs))
	}
	b.rpcs[name] = true
	b.Mux.Handle(path, h)
}

// rpcHealth answers gRPC health checks: serving for the process ("") and
// for every service ServeRPC mounted. A service mounts them while it is
// built, before anyone can ask.
type rpcHealth map[string]bool

func (h rpcHealth) Check(_ context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	if req.Service != "" && !h[req.Service] {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("unknown service %s", req.Service))
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
}

// Check adds a readiness check beyond the store and the bus, which the app
// checks itself: typically a required peer.
func (b *Base) Check(name string, c httpapi.Check) { b.checks[name] = c }

// Go adds background work (a scheduler) that Run runs until ctx ends.
func (b *Base) Go(job func(context.Context)) { b.jobs = append(b.jobs, job) }

// Handler serves the public REST API and the internal gRPC API.
func (b *Base) Handler() http.Handler { return b.Mux }

// OpenAPI describes the public REST API.
func (b *Base) OpenAPI() *huma.OpenAPI { return b.API.OpenAPI() }

// Checks are the service's readiness checks.
func (b *Base) Checks() map[string]httpapi.Check { return b.checks }

// Run relays the outbox, consumes events and runs the jobs until ctx ends;
// the relay flushes the outbox on its way out.
func (b *Base) Run(ctx context.Context) error {
	return outbox.Serve(ctx, b.deps.Bus, b.Name, b.Relay, b.consumer, b.jobs...)
}

// Peer reaches another target's internal API (see Deps.Peer).
func (b *Base) Peer(target string) (Peer, error) {
	if b.deps.Peer == nil {
		return Peer{}, fmt.Errorf("%s: no peers given", b.Name)
	}
	p, err := b.deps.Peer(target)
	if err != nil {
		return Peer{}, fmt.Errorf("%s: reach %s: %w", b.Name, target, err)
	}
	return p, nil
}

// ForgetRequests forgets the Idempotency-Key records of the service that
// were made by one of ids or whose answer names one of them: in tx, when
// they live in the service's store, or in Redis when the platform keeps
// them there. An erasure calls it, so that no replayable answer outlives
// the data it showed.
func (b *Base) ForgetRequests(ctx context.Context, tx *sql.Tx, ids ...string) error {
	if b.deps.Redis != nil {
		return idempotency.NewRedis(b.deps.Redis).Forget(ctx, b.Name, ids...)
	}
	return idempotency.ForgetSQL(ctx, tx, b.DB.Engine, ids...)
}

// Record queues e in the audit trail through the service's outbox and
// wakes the relay. Its error is the 503 that keeps an access to health
// data from being served unrecorded.
func (b *Base) Record(ctx context.Context, e audit.Entry) error {
	if err := audit.Record(ctx, b.DB, e); err != nil {
		return err
	}
	b.Relay.Notify()
	return nil
}

// Consume handles one event as if the bus had delivered it: exactly once,
// within the inbox, retried from it when the handler fails.
func (b *Base) Consume(ctx context.Context, e bus.Event) error {
	if b.consumer == nil {
		return fmt.Errorf("%s consumes no events", b.Name)
	}
	return b.consumer.Handle(ctx, e)
}
