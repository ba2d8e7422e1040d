package pricing

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/services/financial/pricing/domain"
	"github.com/secondopinion/platform/internal/services/financial/pricing/store"
)

// The application functions take the verified caller (who). The coarse
// policy (httpapi.Register) has admitted who's role by then: anyone
// signed in reads the catalogue, admins change it and the discount codes,
// and a patient asks for quotes of their own cases only. QuoteService's
// guard admits payments alone (rpc.go).

// payable are the statuses of a case that can still be paid for.
var payable = []vocab.CaseStatus{vocab.Draft, vocab.AwaitingPayment}

// auditTx queues the audit entry of who's action within tx, so the change
// is never committed without its record.
func (s *Service) auditTx(ctx context.Context, tx *sql.Tx, action, resourceType, resourceID, patientID string) error {
	e := kitaudit.FromContext(ctx)
	e.Action, e.ResourceType, e.ResourceID, e.PatientID = action, resourceType, resourceID, patientID
	e.Purpose, e.Outcome = authz.Purpose(authn.FromContext(ctx)), kitaudit.Allowed
	if e.Purpose == "" || e.Purpose == string(authn.RoleService) {
		e.Purpose = "payment"
	}
	if err := e.Validate(); err != nil {
		return err
	}
	ev, err := kitaudit.Recorded.New(Name, resourceID, e)
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, ev)
}

// catalogue lists the prices of region ("" for all).
func (s *Service) catalogue(ctx context.Context, region string) ([]store.Price, error) {
	if region != "" && !vocab.Region(region).Valid() {
		return nil, fault.Invalid("region", "must be 2 or 3 upper-case letters")
	}
	return s.store.Catalogue(ctx, region)
}

// setPrice sets the catalogue's price of specialty at urgency in region,
// as an admin's audited change. A region keeps one currency, so that
// every case of it is invoiced alike.
func (s *Service) setPrice(ctx context.Context, p store.Price) (store.Price, error) {
	switch {
	case !vocab.Region(p.Region).Valid():
		return store.Price{}, fault.Invalid("region", "must be 2 or 3 upper-case letters")
	case !vocab.Specialty(p.Specialty).Valid():
		return store.Price{}, fault.Invalid("specialty", "is not a specialty")
	case !vocab.Urgency(p.Urgency).Valid():
		return store.Price{}, fault.Invalid("urgency", "is not an urgency")
	case p.Net < 0 || p.Net > domain.MaxAmount:
		return store.Price{}, fault.Invalid("netAmount", "must be 0 to %d minor units", domain.MaxAmount)
	case !domain.ValidCurrency(p.Currency):
		return store.Price{}, fault.Invalid("currency", "must be an ISO 4217 code such as EUR")
	case p.TaxRate < 0 || p.TaxRate > domain.Whole:
		return store.Price{}, fault.Invalid("taxRate", "must be 0 to %d basis points", domain.Whole)
	}
	p.UpdatedAt = s.now()
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.DB.LockKey(ctx, tx, "region/"+p.Region); err != nil {
			return err
		}
		cur, err := s.store.RegionCurrency(ctx, tx, p.Region, p.Specialty, p.Urgency)
		if err != nil {
			return err
		}
		if cur != "" && cur != p.Currency {
			return fault.Invalid("currency", "the prices of %s are in %s", p.Region, cur)
		}
		if err := s.store.SetPrice(ctx, tx, p); err != nil {
			return err
		}
		return s.auditTx(ctx, tx, "pricing.price.set", "catalogue_price", p.Region+"/"+p.Specialty+"/"+p.Urgency, "")
	})
	if err != nil {
		return store.Price{}, err
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "catalogue price set", "region", p.Region, "specialty", p.Specialty, "urgency", p.Urgency,
		"netAmount", p.Net, "currency", p.Currency, "taxRate", p.TaxRate)
	return p, nil
}

// createDiscount issues a discount code, as an admin's audited change. A
// window without a start starts now.
func (s *Service) createDiscount(ctx context.Context, d domain.Discount) (store.Discount, error) {
	d.Code = domain.NormalizeCode(d.Code)
	now := s.now()
	if d.ValidFrom.IsZero() {
		d.ValidFrom = now
	}
	if err := d.Validate(); err != nil {
		return store.Discount{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return store.Discount{}, err
	}
	out := store.Discount{ID: id.String(), Discount: d, CreatedAt: now}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.store.CreateDiscount(ctx, tx, out); err != nil {
			return err
		}
		return s.auditTx(ctx, tx, "pricing.discount.create", "discount_code", out.ID, "")
	})
	if errors.Is(err, store.ErrCodeTaken) {
		return store.Discount{}, fault.Conflict("Discount code taken", "a discount code "+d.Code+" exists already")
	}
	if err != nil {
		return store.Discount{}, err
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "discount code created", "discountId", out.ID, "kind", d.Kind)
	return out, nil
}

// discounts lists the discount codes, oldest first.
func (s *Service) discounts(ctx context.Context, cursor string, limit int) ([]store.Discount, string, error) {
	after, err := page.Decode(cursor)
	if err != nil {
		return nil, "", err
	}
	return s.store.Discounts(ctx, after, limit)
}

// quote prices case caseID for who, its patient, with the discount code
// ("" for none), and stores the quote it signs.
func (s *Service) quote(ctx context.Context, who authn.Principal, caseID, code string) (store.Quote, string, error) {
	if who.Role != authn.RolePatient || who.Subject == "" {
		return store.Quote{}, "", fault.Forbidden("only a patient asks for a quote for their case")
	}
	if _, err := uuid.Parse(caseID); err != nil {
		return store.Quote{}, "", fault.Invalid("caseId", "must be a UUID")
	}
	c, err := s.cases.Case(ctx, caseID, "pricing.quote")
	if err != nil {
		return store.Quote{}, "", err
	}
	if err := authz.OwnerOrAdmin(who, c.CustomerID, "case"); err != nil || authz.IsAdmin(who) {
		return store.Quote{}, "", fault.NotFound("case")
	}
	if !slices.Contains(payable, vocab.CaseStatus(c.Status)) {
		return store.Quote{}, "", fault.Conflict("Case not payable", "a case is quoted while it is DRAFT or AWAITING_PAYMENT; this one is "+c.Status)
	}
	region := domain.RegionOf(c.CaseNumber, s.region)
	price, err := s.store.Price(ctx, s.DB, region, c.Specialty, c.Urgency)
	if errors.Is(err, store.ErrNotFound) {
		s.Log.WarnContext(ctx, "no catalogue price", "region", region, "specialty", c.Specialty, "urgency", c.Urgency)
		return store.Quote{}, "", fault.Conflict("Case not priced", "the catalogue has no price for this case yet")
	}
	if err != nil {
		return store.Quote{}, "", err
	}
	now := s.now()
	var discount *store.Discount
	if code != "" {
		d, err := s.usableDiscount(ctx, code, who.Subject, now)
		if err != nil {
			return store.Quote{}, "", err
		}
		discount = &d
	}
	var terms *domain.Discount
	if discount != nil {
		terms = &discount.Discount
	}
	amounts, err := domain.Price(price.Net, price.Currency, price.TaxRate, terms)
	if errors.Is(err, domain.ErrCurrency) {
		return store.Quote{}, "", domain.ErrWrongCurrency
	}
	if err != nil {
		return store.Quote{}, "", err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return store.Quote{}, "", err
	}
	q := store.Quote{ID: id.String(), CaseID: c.ID, PatientID: who.Subject, Region: region, Specialty: c.Specialty,
		Urgency: c.Urgency, Currency: price.Currency, Amounts: amounts, IssuedAt: now,
		// The token carries the expiry in whole seconds.
		ExpiresAt: now.Add(s.cfg.QuoteTTL).Truncate(time.Second)}
	if discount != nil {
		q.DiscountID, q.DiscountCode = discount.ID, discount.Code
	}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.store.AddQuote(ctx, tx, q); err != nil {
			return err
		}
		return s.auditTx(ctx, tx, "quote.create", "quote", q.ID, q.PatientID)
	})
	if err != nil {
		return store.Quote{}, "", err
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "quote issued", "quoteId", q.ID, "caseId", q.CaseID, "currency", q.Currency,
		"totalAmount", q.Total, "discounted", q.DiscountID != "")
	return q, s.token(q), nil
}

// usableDiscount is the code, if patient may use it at now. Its use is
// counted only when the quote is redeemed, where the limits are enforced
// again, atomically (store.UseDiscount): this check tells the patient
// early.
func (s *Service) usableDiscount(ctx context.Context, code, patient string, now time.Time) (store.Discount, error) {
	code = domain.NormalizeCode(code)
	if err := domain.ValidCode("discountCode", code); err != nil {
		return store.Discount{}, domain.ErrUnknownCode
	}
	d, err := s.store.DiscountByCode(ctx, s.DB, code)
	if errors.Is(err, store.ErrNotFound) {
		return store.Discount{}, domain.ErrUnknownCode
	}
	if err != nil {
		return store.Discount{}, err
	}
	mine, err := s.store.PatientUses(ctx, s.DB, d.ID, patient)
	if err != nil {
		return store.Discount{}, err
	}
	if err := d.Usable(now, d.Uses, mine); err != nil {
		return store.Discount{}, err
	}
	return d, nil
}

// token signs q.
func (s *Service) token(q store.Quote) string {
	return domain.Sign(s.key, domain.Claims{QuoteID: q.ID, CaseID: q.CaseID, PatientID: q.PatientID, Total: q.Total,
		Currency: q.Currency, ExpiresAt: q.ExpiresAt})
}

// Why payments' redemption of a quote is refused: each is the patient's
// to mend with a new quote, so payments answers 422.
var (
	errBadToken     = fault.Invalid("token", "is not a quote issued by pricing")
	errOtherCase    = fault.Invalid("token", "is a quote for another case")
	errOtherPatient = fault.Invalid("token", "is a quote for another patient")
	errNoQuote      = fault.Invalid("token", "the quote is withdrawn; ask for a new one")
	errExpired      = fault.Invalid("token", "the quote has expired; ask for a new one")
	errCodeUsedUp   = fault.Invalid("token", "the quote's discount code has been used up; ask for a new quote")
	errCodeLimit    = fault.Invalid("token", "the patient has used the quote's discount code as often as it allows; ask for a new quote")
)

// redeem checks that token is a quote pricing issued for case caseID of
// patient, unexpired, and redeems it: the quote is marked redeemed and its
// discount code counted, once, in one transaction. Redeeming a redeemed
// quote again answers the same, expired or not, and counts nothing.
func (s *Service) redeem(ctx context.Context, token, caseID, patient string) (store.Quote, error) {
	if _, err := uuid.Parse(caseID); err != nil {
		return store.Quote{}, fault.Invalid("case_id", "must be a UUID")
	}
	if _, err := uuid.Parse(patient); err != nil {
		return store.Quote{}, fault.Invalid("patient_id", "must be a UUID")
	}
	// The signature first, in constant time: nothing of an unsigned
	// token is read, nor the store asked about it.
	claims, err := domain.Verify(s.key, token)
	if err != nil {
		return store.Quote{}, errBadToken
	}
	switch {
	case claims.CaseID != caseID:
		return store.Quote{}, errOtherCase
	case claims.PatientID != patient:
		return store.Quote{}, errOtherPatient
	}
	var q store.Quote
	first := false
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		q, err = s.store.Quote(ctx, tx, claims.QuoteID)
		if errors.Is(err, store.ErrNotFound) {
			return errNoQuote
		}
		if err != nil {
			return err
		}
		// The store is the authority: a token must match its quote.
		if q.CaseID != claims.CaseID || q.PatientID != claims.PatientID || q.Total != claims.Total ||
			q.Currency != claims.Currency || !q.ExpiresAt.Equal(claims.ExpiresAt) {
			return errBadToken
		}
		if !q.RedeemedAt.IsZero() {
			return nil
		}
		now := s.now()
		if !now.Before(q.ExpiresAt) {
			return errExpired
		}
		if first, err = s.store.MarkRedeemed(ctx, tx, q.ID, now); err != nil || !first {
			// A concurrent redemption of this quote came first.
			if err == nil {
				q, err = s.store.Quote(ctx, tx, q.ID)
			}
			return err
		}
		q.RedeemedAt = now
		if q.DiscountID != "" {
			d, err := s.store.DiscountByCode(ctx, tx, q.DiscountCode)
			if errors.Is(err, store.ErrNotFound) {
				return errNoQuote
			}
			if err != nil {
				return err
			}
			switch err := s.store.UseDiscount(ctx, tx, d, q.ID, q.PatientID, now); {
			case errors.Is(err, store.ErrExhausted):
				return errCodeUsedUp
			case errors.Is(err, store.ErrPatientLimit):
				return errCodeLimit
			case err != nil:
				return err
			}
		}
		return s.auditTx(ctx, tx, "quote.redeem", "quote", q.ID, q.PatientID)
	})
	if err != nil {
		if f, ok := fault.As(err); ok && f.Kind == fault.KindInvalid {
			s.Log.InfoContext(ctx, "quote refused", "quoteId", claims.QuoteID, "reason", f.Detail)
		}
		return store.Quote{}, err
	}
	if first {
		s.Relay.Notify()
		s.Log.InfoContext(ctx, "quote redeemed", "quoteId", q.ID, "caseId", q.CaseID, "discounted", q.DiscountID != "")
	}
	return q, nil
}
