// Package credentialing is the credentialing service: professionals submit
// their licences, admins verify or reject them and set levels, and a
// scheduled check expires licences. It owns each professional's standing
// (PENDING, VERIFIED, SUSPENDED) and level and publishes their changes;
// it learns which professionals exist from professional.registered.
//
// Read it top-down: module.go (what the binary knows of it), http.go (the
// public API), app.go (the application rules over domain/ and store/),
// events.go (what it publishes and consumes), expiry.go (the scheduled
// expiry check).
package credentialing

import (
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/professional/credentialing/store"
)

// Config is what the service is configured with.
type Config struct {
	// Interval is the period of the expiry check, which also runs once
	// when the service starts.
	Interval time.Duration `env:"CREDENTIAL_CHECK_INTERVAL" default:"24h" doc:"how often expired licences suspend professionals"`
	// Now is the clock (reviews, expiry, standing); nil is time.Now.
	Now func() time.Time
}

// Validate refuses a period the check cannot tick at.
func (c *Config) Validate() error {
	if c.Interval <= 0 {
		return config.Errorf("CREDENTIAL_CHECK_INTERVAL", "must be a positive duration such as 24h")
	}
	return nil
}

// Service is a running credentialing target. It needs no peer: its
// readiness is its store and the bus, which the app checks.
type Service struct {
	*service.Base
	cfg   Config
	store *store.Store
}

// Migrate creates or upgrades the service's tables, its outbox and inbox.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the service over a migrated store.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, store: store.New(deps.DB)}
	var err error
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(s)); err != nil {
		return nil, err
	}
	s.routes(s.API)
	s.Go(s.watchExpiry)
	return s, nil
}
