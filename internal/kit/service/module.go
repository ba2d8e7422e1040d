package service

import (
	"context"
	"fmt"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/idempotency"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// Domain groups targets as the catalogue does (ARCHITECTURE.md §3).
type Domain string

const (
	Patient      Domain = "patient"
	Professional Domain = "professional"
	AI           Domain = "ai"
	Financial    Domain = "financial"
	Platform     Domain = "platform"
	Edge         Domain = "edge"
)

// Module is a service target's descriptor: everything the binary needs to
// know of it, exported by the service's own package as Module. The app's
// registry is the list of these.
type Module struct {
	Name    string // the target name, e.g. "case-management"; also its folder
	Domain  Domain
	Summary string // one line for `secondopinion targets`
	// Requires are the targets it calls synchronously; each runs in the
	// same process or is reached at its <TARGET>_SERVICE_URL.
	Requires []string
	// Callers are the policies its internal APIs are guarded with
	// (rpc.Guard): who may call it besides the gateway, which a mesh's
	// authorisation policies and network policies are derived from.
	Callers []rpc.Callers
	// Consumes are the event types it subscribes to ("*" for every type):
	// a consumer group of its name when not empty.
	Consumes []string
	// Migrate creates or upgrades its store; nil for a service without one.
	Migrate func(context.Context, *sqldb.DB) error
	// Routes registers its public REST API on api. The spec of a service
	// that is not running comes from it (the gateway's routing table, the
	// published documents), so it must not use the service's state.
	Routes func(api huma.API)
	// Build makes the running service from its configuration; see Builds.
	Build Builder
}

// Spec is the service's public API document, built without running it.
func (m Module) Spec() *huma.OpenAPI {
	api := httpapi.NewAPI(http.NewServeMux(), m.Name, APIVersion)
	if m.Routes != nil {
		m.Routes(api)
	}
	return api.OpenAPI()
}

// APIVersion is the version of every service's public API document.
const APIVersion = "1.0.0"

// Builder makes a service from its own configuration type.
type Builder struct {
	config func() any
	build  func(cfg any, deps Deps) (Service, error)
}

// Builds is the Builder of a service whose New takes its own Config (a
// struct whose env-tagged fields are its settings, see package config).
func Builds[C any, S Service](newService func(C, Deps) (S, error)) Builder {
	return Builder{
		config: func() any { return new(C) },
		build: func(cfg any, deps Deps) (Service, error) {
			c, ok := cfg.(*C)
			if !ok {
				return nil, fmt.Errorf("configuration is a %T, want a %T", cfg, c)
			}
			return newService(*c, deps)
		},
	}
}

// LoadConfig reads the module's configuration through get; a bad value is
// an error naming its variable. A module without settings has an empty one.
func (m Module) LoadConfig(get config.Lookup) (any, error) {
	if m.Build.config == nil {
		return struct{}{}, nil
	}
	cfg := m.Build.config()
	if err := config.Load(get, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Name, err)
	}
	return cfg, nil
}

// Settings lists the service's own variables, with their defaults.
func (m Module) Settings() []config.Setting {
	if m.Build.config == nil {
		return nil
	}
	return config.Settings(m.Build.config())
}

// New builds the running service from a configuration LoadConfig read.
func (m Module) New(cfg any, deps Deps) (Service, error) {
	if m.Build.build == nil {
		return nil, fmt.Errorf("%s: its Module has no Build", m.Name)
	}
	return m.Build.build(cfg, deps)
}

// WithOutbox is the Migrate of a service with an outbox and an inbox (every
// service that publishes or consumes): their tables and the idempotency
// records', then its own.
func WithOutbox(own func(context.Context, *sqldb.DB) error) func(context.Context, *sqldb.DB) error {
	return func(ctx context.Context, db *sqldb.DB) error {
		if err := outbox.Migrate(ctx, db); err != nil {
			return err
		}
		// The Idempotency-Key records the platform keeps in the store
		// beside the changes they guard, which an erasure forgets
		// (Base.ForgetRequests): there with Redis too, so a service can
		// go without Redis later.
		if err := idempotency.Migrate(ctx, db); err != nil {
			return err
		}
		return own(ctx, db)
	}
}
