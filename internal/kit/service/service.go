// Package service is the contract between the binary's lifecycle manager
// (internal/app) and every service target: the descriptor a service
// exports (Module), what it is given (Deps), what it must provide
// (Service), and the skeleton every service shares (Base). Services
// implement it without importing internal/app, so the app can list every
// service.
package service

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/redis/go-redis/v9"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/telemetry"
)

// Deps is what the app hands a service it builds. The app owns every value
// in it: it opens and migrates DB before New and closes it after Close.
type Deps struct {
	Region  string // e.g. "EU": prefixes case and professional numbers
	DataDir string
	DB      *sqldb.DB // nil for a service without a store
	Bus     bus.Transport
	Metrics *telemetry.Metrics
	Log     *slog.Logger
	// Redis is shared by the replicas of a service (sessions, throttling);
	// nil without REDIS_URL, when such state stays in the process.
	Redis *redis.Client
	// Peer returns how to reach another target's internal gRPC API: over
	// an in-memory connection in `all` mode, over the network otherwise.
	Peer func(target string) (Peer, error)
}

// Peer is another target's internal endpoint.
type Peer struct {
	HTTP *http.Client
	URL  string
}

// Service is a running target.
type Service interface {
	// Handler serves the service's public REST API and its internal gRPC
	// API. The app wraps it in the platform middleware (httpapi.Wrap).
	Handler() http.Handler
	// OpenAPI describes the public REST API, for the gateway's merged spec.
	OpenAPI() *huma.OpenAPI
	// Checks are the readiness checks beyond the store and the bus, which
	// the app checks itself: typically required peers.
	Checks() map[string]httpapi.Check
	// Run does the background work (outbox relay, event consumers,
	// schedulers) until ctx ends, then flushes what it can and returns.
	Run(ctx context.Context) error
}

// Authority is the service that issues tokens (auth). Where it runs, the
// app verifies every bearer token and mints every service identity
// through it, which also sees logouts and idle sessions at once.
type Authority interface {
	Verifier() authn.Verifier
	ServiceToken(service string) rpc.TokenSource
}
