// Package payments is the payments service: a patient pays for a case
// (POST /api/v1/payments) with a signed quote from pricing and a payment
// method their client got from the provider — never a card number, so PCI
// DSS scope stays with the provider — through the embedded sandbox or
// Stripe (PaymentIntents). It keeps Stripe's idempotency on both sides:
// the Idempotency-Key the client must send (replay, 409 while in flight,
// 422 for other parameters, by the platform's middleware), and the
// provider's, keyed by our payment's id, which is written before the
// provider is called, so a crash between the charge and our update is
// recovered by asking the provider, never by charging again. It refunds
// (admins; automatically when a case is cancelled before assignment or
// orphaned), takes the providers' signed webhooks (idempotent, safe when
// replayed or reordered: a payment's status only moves forward), and
// reconciles its payments with the provider's. It publishes
// payment.succeeded, payment.failed and payment.refunded.
//
// Read it top-down: module.go, http.go (the public API), pay.go (a
// charge, its confirmation and recovery), refund.go, webhook.go,
// reconcile.go, events.go (consumers and published events), domain/ (the
// rules), provider/ (sandbox and stripe), store/.
package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider/sandbox"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider/stripe"
	"github.com/secondopinion/platform/internal/services/financial/payments/store"
)

// Config is what the service is configured with.
type Config struct {
	Provider             string        `env:"PAYMENTS_PROVIDER" default:"sandbox" doc:"the provider new payments go through: sandbox (embedded, Stripe's test payment methods) or stripe"`
	StripeSecretKey      string        `env:"STRIPE_SECRET_KEY" secret:"true" doc:"Stripe's secret API key; required for PAYMENTS_PROVIDER=stripe"`
	StripeAPIBase        string        `env:"STRIPE_API_BASE" default:"https://api.stripe.com" doc:"Stripe's API (tests point it at a local server)"`
	StripeWebhookSecret  string        `env:"STRIPE_WEBHOOK_SECRET" secret:"true" doc:"the signing secret (whsec_…) of Stripe's webhook endpoint /api/v1/webhooks/stripe"`
	SandboxWebhookSecret string        `env:"PAYMENTS_SANDBOX_WEBHOOK_SECRET" default:"whsec_sandbox_development_only" secret:"true" doc:"the signing secret of the sandbox's webhook endpoint (Stripe-Signature scheme); the default is for development"`
	RecoverAfter         time.Duration `env:"PAYMENTS_RECOVER_AFTER" default:"2m" doc:"how long a payment may stay PROCESSING before recovery asks the provider what became of it"`
	RecoveryInterval     time.Duration `env:"PAYMENTS_RECOVERY_INTERVAL" default:"30s" doc:"how often stale payments and pending refunds are driven on"`
	ReconcileInterval    time.Duration `env:"PAYMENTS_RECONCILE_INTERVAL" default:"1h" doc:"how often payments are reconciled with the provider's records"`
	ReconcileWindow      time.Duration `env:"PAYMENTS_RECONCILE_WINDOW" default:"72h" doc:"how far back reconciliation compares payments"`

	// Cases, Quotes and Providers stand in for case-management, pricing
	// and the providers (tests); nil ones are reached as configured.
	Cases     Cases
	Quotes    Quotes
	Providers []provider.Provider
	// HTTP reaches Stripe; nil is a client with a timeout.
	HTTP *http.Client
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Validate checks the settings.
func (c *Config) Validate() error {
	switch c.Provider {
	case provider.Sandbox:
	case provider.Stripe:
		if c.StripeSecretKey == "" && !c.injected(provider.Stripe) {
			return config.Errorf("STRIPE_SECRET_KEY", "is required with PAYMENTS_PROVIDER=stripe")
		}
	default:
		return config.Errorf("PAYMENTS_PROVIDER", "must be sandbox or stripe, not %q", c.Provider)
	}
	if c.RecoverAfter <= 0 || c.RecoveryInterval <= 0 || c.ReconcileInterval <= 0 || c.ReconcileWindow <= 0 {
		return config.Errorf("PAYMENTS_RECOVER_AFTER, PAYMENTS_RECOVERY_INTERVAL, PAYMENTS_RECONCILE_INTERVAL, PAYMENTS_RECONCILE_WINDOW",
			"must be positive")
	}
	return nil
}

func (c *Config) injected(name string) bool {
	return slices.ContainsFunc(c.Providers, func(p provider.Provider) bool { return p.Name() == name })
}

// Service is a running payments target.
type Service struct {
	*service.Base
	cfg       Config
	store     *store.Store
	cases     Cases
	quotes    Quotes
	providers map[string]provider.Provider
	// sandbox is the embedded provider's ledger, which an erasure
	// unlinks as well (events.go).
	sandbox *sandbox.Sandbox
	kick    chan struct{} // wakes the recovery loop: a refund is pending
}

// Migrate creates or upgrades payments' tables, the sandbox's, the outbox
// and the inbox.
var Migrate = service.WithOutbox(func(ctx context.Context, db *sqldb.DB) error {
	if err := store.Migrate(ctx, db); err != nil {
		return err
	}
	return sandbox.Migrate(ctx, db)
})

// New builds the service over a migrated store.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if cfg.Provider == "" {
		cfg.Provider = provider.Sandbox
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, store: store.New(deps.DB), cases: cfg.Cases, quotes: cfg.Quotes,
		providers: map[string]provider.Provider{}, kick: make(chan struct{}, 1)}
	var err error
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(s)); err != nil {
		return nil, err
	}
	// The sandbox is always there: payments made through it stay
	// readable and refundable whatever the default provider.
	s.sandbox = sandbox.New(deps.DB, cfg.Now)
	s.providers[provider.Sandbox] = s.sandbox
	if cfg.StripeSecretKey != "" {
		s.providers[provider.Stripe] = stripe.New(stripe.Options{SecretKey: cfg.StripeSecretKey, APIBase: cfg.StripeAPIBase,
			HTTP: cfg.HTTP, Retries: 2})
	}
	for _, p := range cfg.Providers {
		s.providers[p.Name()] = p
	}
	if err := s.peers(); err != nil {
		return nil, err
	}
	s.Go(s.recoveryLoop)
	s.routes(s.API)
	return s, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// provider is the provider of name; an unknown one is an error of ours
// (a payment made through a provider since unconfigured).
func (s *Service) provider(name string) (provider.Provider, error) {
	p, ok := s.providers[name]
	if !ok {
		return nil, fmt.Errorf("payment provider %q is not configured", name)
	}
	return p, nil
}

// recoveryLoop drives on what a crash or an outage left half done —
// payments stuck PROCESSING, refunds PENDING — on every replica (each
// step is idempotent and conditional, so replicas racing do it once), and
// reconciles with the provider now and then.
func (s *Service) recoveryLoop(ctx context.Context) {
	recovery := time.NewTicker(s.cfg.RecoveryInterval)
	defer recovery.Stop()
	reconcile := time.NewTicker(s.cfg.ReconcileInterval)
	defer reconcile.Stop()
	// A kick comes from within a transaction that may not have committed
	// yet: the loop looks again a moment later.
	var again <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
			again = time.After(time.Second)
		case <-again:
			again = nil
		case <-recovery.C:
		case <-reconcile.C:
			if _, err := s.Reconcile(ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.Log.WarnContext(ctx, "reconciliation failed", "err", err)
			}
			continue
		}
		if _, err := s.Recover(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.Log.WarnContext(ctx, "payment recovery failed", "err", err)
		}
	}
}

// wake asks the recovery loop to run soon.
func (s *Service) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}
