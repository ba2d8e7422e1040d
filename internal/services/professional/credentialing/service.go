// Package credentialing is the credentialing service: professionals submit
// their licences, admins verify or reject them and set levels, and a
// scheduled check expires licences. It owns each professional's standing
// (PENDING, VERIFIED, SUSPENDED) and level and publishes their changes;
// it learns which professionals exist from professional.registered.
package credentialing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/professional/credentialing/store"
)

// Name is the service's target name.
const Name = "credentialing"

// DefaultInterval is how often the expiry check runs by default.
const DefaultInterval = 24 * time.Hour

// Config is what the service is configured with.
type Config struct {
	// Interval is the period of the expiry check, which also runs once
	// when Run starts; zero is DefaultInterval.
	Interval time.Duration
	// Now is the clock (reviews, expiry, standing); nil is time.Now.
	Now func() time.Time
}

// Service is a running credentialing target.
type Service struct {
	cfg      Config
	log      *slog.Logger
	db       *sqldb.DB
	store    *store.Store
	bus      bus.Transport
	relay    *outbox.Relay
	consumer *outbox.Consumer
	mux      *http.ServeMux
	api      huma.API
}

// Migrate creates or upgrades the service's tables and its outbox.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := outbox.Migrate(ctx, db); err != nil {
		return err
	}
	return store.Migrate(ctx, db)
}

// New builds the service over a migrated store.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if deps.DB == nil || deps.Bus == nil {
		return nil, errors.New(Name + ": needs a store and a bus")
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("%s: negative expiry interval %s", Name, cfg.Interval)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	s := &Service{
		cfg:   cfg,
		log:   log.With("service", Name),
		db:    deps.DB,
		store: store.New(deps.DB),
		bus:   deps.Bus,
		relay: outbox.NewRelay(deps.DB, deps.Bus, outbox.RelayOptions{Logger: log}),
		mux:   http.NewServeMux(),
	}
	s.consumer = outbox.NewConsumer(deps.DB, Name, s.handlers(), outbox.ConsumerOptions{Logger: log})
	s.api = httpapi.NewAPI(s.mux, Name, "1.0.0")
	s.routes()
	return s, nil
}

// Handler serves the public REST API.
func (s *Service) Handler() http.Handler { return s.mux }

// OpenAPI describes the public REST API.
func (s *Service) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// Checks is empty: the service needs no peer, only its store and the bus,
// which the app checks.
func (s *Service) Checks() map[string]httpapi.Check { return map[string]httpapi.Check{} }

// Run relays the outbox, consumes events and runs the expiry check until
// ctx ends; the relay flushes the outbox on its way out.
func (s *Service) Run(ctx context.Context) error {
	return outbox.Serve(ctx, s.bus, Name, s.relay, s.consumer, s.watchExpiry)
}
