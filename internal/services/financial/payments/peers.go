package payments

import (
	"context"
	"fmt"
	"time"

	casemanagement "github.com/secondopinion/platform/internal/clients/case-management"
	"github.com/secondopinion/platform/internal/clients/pricing"
)

// Cases is what payments asks case-management: whose a case is and its
// status.
type Cases interface {
	Case(ctx context.Context, id, purpose string) (casemanagement.Case, error)
}

// Quote is a redeemed quote: what to charge for a case, with the
// breakdown payment.succeeded carries. Amounts are minor units of
// Currency; Total = Net - Discount + Tax.
type Quote struct {
	ID, CaseID, PatientID, Region, Specialty, Urgency, Currency, DiscountCode string
	Net, Discount, Tax, Total                                                 int64
	TaxRate                                                                   int // basis points
	ExpiresAt                                                                 time.Time
}

// Quotes redeems the signed quotes pricing issued.
type Quotes interface {
	Redeem(ctx context.Context, token, caseID, patientID string) (Quote, error)
}

// peers reaches case-management and pricing unless the configuration
// gave stand-ins, and makes each a readiness check: without them no case
// can be paid for.
func (s *Service) peers() error {
	if s.cases == nil {
		peer, err := s.Peer(casemanagement.Target)
		if err != nil {
			return err
		}
		c := casemanagement.New(peer)
		s.cases = c
		s.Check(casemanagement.Target, c.Ready)
	}
	if s.quotes == nil {
		q, ready, err := s.pricing()
		if err != nil {
			return fmt.Errorf("%s: %w", Name, err)
		}
		s.quotes = q
		s.Check(pricing.Target, ready)
	}
	return nil
}
