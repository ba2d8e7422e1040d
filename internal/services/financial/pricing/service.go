// Package pricing is the pricing service: the catalogue of what a case
// costs by region, specialty and urgency (net price in minor units of an
// ISO 4217 currency, and the tax rate charged on it), the discount codes
// admins issue (a percentage or a fixed amount, a validity window, limits
// in all and per patient), and quotes. A patient asks for a quote for
// their case (POST /api/v1/pricing/quotes) and gets its breakdown with a
// signed token that expires; payments redeems the token over the internal
// QuoteService and charges exactly what the quote says, and the quote's
// discount code is counted then, once.
//
// Read it top-down: module.go (what the binary knows of it), http.go (the
// public API), app.go (the rules over domain/ and store/), rpc.go
// (QuoteService), events.go (the erasures it consumes), key.go (the key
// that signs quotes).
package pricing

import (
	"errors"
	"fmt"
	"time"

	"github.com/secondopinion/platform/api/gen/financial/v1/financialv1connect"
	casemanagement "github.com/secondopinion/platform/internal/clients/case-management"
	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/financial/pricing/store"
)

// Config is what the service is configured with: the env-tagged fields
// are its settings, the others hooks for tests.
type Config struct {
	QuoteTTL time.Duration `env:"PRICING_QUOTE_TTL" default:"30m" doc:"how long a quote may be paid with, 1m to 24h"`
	// QuoteKey signs quote tokens. Empty: the key file
	// DataDir/pricing-quote-key, made on first start. Replicas must
	// share it; changing it voids the quotes not yet paid.
	QuoteKey QuoteKey `env:"PRICING_QUOTE_KEY" secret:"true" doc:"at least 32 bytes in base64url that sign quotes; replicas of pricing must share it. Empty: a key file under DATA_DIR, made on first start"`
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Validate checks what the fields' own forms do not.
func (c *Config) Validate() error {
	if c.QuoteTTL < time.Minute || c.QuoteTTL > 24*time.Hour {
		return config.Errorf("PRICING_QUOTE_TTL", "must be 1m to 24h, got %s", c.QuoteTTL)
	}
	return nil
}

// Service is a running pricing target.
type Service struct {
	*service.Base
	cfg    Config
	region string // the deployment's, for a case number without one
	key    []byte
	store  *store.Store
	cases  *casemanagement.Client // a case's patient, status, number, specialty and urgency
}

// Migrate creates or upgrades the service's tables, its outbox, its inbox
// and the table of its Idempotency-Key records.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the service over a migrated store.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	key, err := loadQuoteKey(cfg.QuoteKey, deps.DataDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	if deps.Region == "" {
		return nil, fmt.Errorf("%s: %w", Name, errors.New("no region"))
	}
	s := &Service{cfg: cfg, region: deps.Region, key: key, store: store.New(deps.DB)}
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(s)); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	cases, err := s.Peer(casemanagement.Target)
	if err != nil {
		return nil, err
	}
	s.cases = casemanagement.New(cases)
	// No quote is issued without the case it prices.
	s.Check(casemanagement.Target, s.cases.Ready)
	s.routes(s.API)
	path, h := financialv1connect.NewQuoteServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers))
	s.ServeRPC(financialv1connect.QuoteServiceName, path, h)
	return s, nil
}

// now is the clock, in UTC to the microsecond, as the store keeps times.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }
