// Package invoicing is the invoicing service: on payment.succeeded it
// issues the payment's invoice, numbered without gaps in a series per
// region and year (INV-EU-2026-000001), with the seller's and the buyer's
// details as they are at issue time, the consultation, any discount, the
// tax and the totals; on payment.refunded a credit note (CN-EU-2026-…)
// that credits the invoice for the refund, split into net and tax. Each
// document is written once, published as invoice.issued, and served to
// its patient and to admins as JSON and PDF. Documents outlive the
// erasure of their patient, as tax law requires (docs/retention.md).
//
// Read it top-down: module.go (what the binary knows of it), events.go
// (what it consumes), issue.go (issuing, numbering, erasure), http.go (the
// public API), pdf.go (the document), domain/ (numbers, lines, the split
// of a refund), store/ (the documents and their series).
package invoicing

import (
	"fmt"
	"strings"
	"time"

	patientidentity "github.com/secondopinion/platform/internal/clients/patient-identity"
	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/financial/invoicing/store"
)

// Config is what the service is configured with: the seller every
// document names. The defaults are for development; a platform that
// invoices for real sets all three.
type Config struct {
	SellerName    string `env:"INVOICE_SELLER_NAME" default:"Second Opinion Platform (development)" doc:"the seller's legal name on every invoice and credit note"`
	SellerAddress string `env:"INVOICE_SELLER_ADDRESS" default:"1 Example Street, 00000 Example City" doc:"the seller's postal address on every invoice and credit note; a comma starts a new line in the PDF"`
	SellerTaxID   string `env:"INVOICE_SELLER_TAX_ID" default:"XX000000000" doc:"the seller's VAT or tax identification number on every invoice and credit note"`
	// Now is the clock of issue dates; nil is time.Now.
	Now func() time.Time
}

// Validate checks that the seller is named.
func (c *Config) Validate() error {
	for name, v := range map[string]string{"INVOICE_SELLER_NAME": c.SellerName, "INVOICE_SELLER_ADDRESS": c.SellerAddress,
		"INVOICE_SELLER_TAX_ID": c.SellerTaxID} {
		if strings.TrimSpace(v) == "" {
			return config.Errorf(name, "an invoice must name its seller: set it")
		}
	}
	return nil
}

func (c Config) seller() store.Seller {
	return store.Seller{Name: strings.TrimSpace(c.SellerName), Address: strings.TrimSpace(c.SellerAddress),
		TaxID: strings.TrimSpace(c.SellerTaxID)}
}

// Service is a running invoicing target.
type Service struct {
	*service.Base
	cfg      Config
	store    *store.Store
	patients *patientidentity.Client
}

// Migrate creates or upgrades the documents, their series, the outbox and
// the inbox.
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
	peer, err := s.Peer(patientidentity.Target)
	if err != nil {
		return nil, err
	}
	s.patients = patientidentity.New(peer)
	// Without patient-identity no invoice can name its buyer: the
	// payments wait in the inbox and are retried.
	s.Check(patientidentity.Target, s.patients.Ready)
	s.routes(s.API)
	return s, nil
}

// now is the issue time: UTC, to the microsecond both stores keep.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }
