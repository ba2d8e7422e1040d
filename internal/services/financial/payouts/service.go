// Package payouts is the payouts service: what professionals earn and how
// they are paid. On opinion.approved it accrues exactly one earning for
// the opinion's author, priced by their level from the rate table in force
// at approval, and a fee for the peer reviewer who approved a JUNIOR's
// opinion. Professionals read their earnings and monthly statements; an
// admin sets the rates, gathers a period's unpaid earnings into a payout
// batch (an earning is in at most one batch), exports it as CSV and as a
// SEPA credit transfer file (ISO 20022 pain.001.001.09) for the bank, and
// marks it paid, which publishes payout.paid per professional. Payout
// accounts (holder, IBAN) are sealed at rest with a data key per
// professional.
//
// Read it top-down: module.go (what the binary knows of it), http.go (the
// public API), app.go (the rules over domain/ and store/), events.go (what
// it consumes and publishes), accounts.go (sealed payout accounts),
// domain/ (money, rates, IBAN, the SEPA file), store/ (the tables).
package payouts

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/crypt"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/financial/payouts/domain"
	"github.com/secondopinion/platform/internal/services/financial/payouts/store"
)

// Config is what the service is configured with. The debtor is the
// platform's own account, which SEPA files debit.
type Config struct {
	DebtorName string `env:"PAYOUTS_DEBTOR_NAME" default:"Second Opinion Platform" doc:"the account holder that pays professionals, as SEPA files name it (at most 70 characters)"`
	DebtorIBAN string `env:"PAYOUTS_DEBTOR_IBAN" default:"DE89370400440532013000" doc:"the IBAN SEPA files debit; the default is a well-known test IBAN for development"`
	DebtorBIC  string `env:"PAYOUTS_DEBTOR_BIC" default:"COBADEFFXXX" doc:"the BIC of the debtor's bank; empty: none given (NOTPROVIDED)"`
	KeyURL     string `env:"PAYOUTS_KEY_URL" secret:"url" doc:"the keeper that wraps each professional's data key of their payout account: base64key://… or a KMS URL; default a key file under DATA_DIR/payouts/keys"`
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	debtor domain.Party
}

// Validate checks the debtor's account.
func (c *Config) Validate() error {
	c.debtor = domain.Party{Name: c.DebtorName, IBAN: domain.NormalizeIBAN(c.DebtorIBAN), BIC: domain.NormalizeBIC(c.DebtorBIC)}
	if c.debtor.Name == "" || len([]rune(c.debtor.Name)) > 70 {
		return config.Errorf("PAYOUTS_DEBTOR_NAME", "1 to 70 characters")
	}
	if err := domain.ValidIBAN(c.debtor.IBAN); err != nil {
		return config.Errorf("PAYOUTS_DEBTOR_IBAN", "not a valid IBAN")
	}
	if c.debtor.BIC != "" {
		if err := domain.ValidBIC(c.debtor.BIC); err != nil {
			return config.Errorf("PAYOUTS_DEBTOR_BIC", "not a valid BIC")
		}
	}
	return nil
}

// Service is a running payouts target.
type Service struct {
	*service.Base
	cfg    Config
	store  *store.Store
	keeper *crypt.Keeper
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
	if s.keeper, err = crypt.OpenKeeper(context.Background(), cfg.KeyURL, filepath.Join(deps.DataDir, Name)); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	s.routes(s.API)
	return s, nil
}

// Close releases the key keeper.
func (s *Service) Close() error { return s.keeper.Close() }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }
