package payments

import (
	"context"

	"github.com/secondopinion/platform/internal/clients/pricing"
)

// pricing reaches pricing's QuoteService.
func (s *Service) pricing() (Quotes, func(context.Context) error, error) {
	peer, err := s.Peer(pricing.Target)
	if err != nil {
		return nil, nil, err
	}
	c := pricing.New(peer)
	return pricingQuotes{c}, c.Ready, nil
}

// pricingQuotes is the pricing client as Quotes.
type pricingQuotes struct{ c *pricing.Client }

func (p pricingQuotes) Redeem(ctx context.Context, token, caseID, patientID string) (Quote, error) {
	q, err := p.c.Redeem(ctx, token, caseID, patientID)
	if err != nil {
		return Quote{}, err
	}
	return Quote{ID: q.ID, CaseID: q.CaseID, PatientID: q.PatientID, Region: q.Region, Specialty: q.Specialty,
		Urgency: q.Urgency, Currency: q.Currency, DiscountCode: q.DiscountCode, Net: q.Net, Discount: q.Discount,
		Tax: q.Tax, Total: q.Total, TaxRate: q.TaxRate, ExpiresAt: q.ExpiresAt}, nil
}
