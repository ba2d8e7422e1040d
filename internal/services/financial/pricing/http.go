package pricing

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/services/financial/pricing/domain"
	"github.com/secondopinion/platform/internal/services/financial/pricing/store"
)

// DiscountKind is how a discount code lowers a price: PERCENT of the net
// price, or a FIXED amount.
type DiscountKind = domain.DiscountKind

// CataloguePrice is what a case of a specialty at an urgency costs in a
// region. Amounts are integer minor units of currency (cents, pence).
type CataloguePrice struct {
	Region      string          `json:"region" example:"EU"`
	Specialty   vocab.Specialty `json:"specialty"`
	Urgency     vocab.Urgency   `json:"urgency"`
	NetAmount   int64           `json:"netAmount" example:"45000" doc:"before tax, minor units"`
	Currency    string          `json:"currency" example:"EUR" doc:"ISO 4217"`
	TaxRate     int             `json:"taxRate" example:"2000" doc:"basis points: 2000 is 20 %"`
	TaxAmount   int64           `json:"taxAmount" example:"9000" doc:"the tax on the net amount, rounded half up"`
	TotalAmount int64           `json:"totalAmount" example:"54000" doc:"net plus tax, what a case costs without a discount code"`
	UpdatedAt   time.Time       `json:"updatedAt"`
}

// Catalogue is the prices, by region, specialty and urgency.
type Catalogue struct {
	Items []CataloguePrice `json:"items" nullable:"false"`
}

// PriceChange is an admin's new price of a catalogue row.
type PriceChange struct {
	NetAmount int64  `json:"netAmount" minimum:"0" maximum:"1000000000000" doc:"before tax, minor units"`
	Currency  string `json:"currency" pattern:"^[A-Z]{3}$" example:"EUR" doc:"ISO 4217; one currency per region"`
	TaxRate   int    `json:"taxRate" minimum:"0" maximum:"10000" doc:"basis points: 2000 is 20 %"`
}

// NewDiscount is a discount code an admin issues.
type NewDiscount struct {
	Code              string       `json:"code" minLength:"3" maxLength:"32" example:"SPRING-10" doc:"letters, digits, _ or -; case-insensitive, kept in upper case"`
	Kind              DiscountKind `json:"kind"`
	Percent           int          `json:"percent,omitempty" minimum:"1" maximum:"10000" doc:"PERCENT: basis points of the net price (1000 is 10 %)"`
	Amount            int64        `json:"amount,omitempty" minimum:"1" doc:"FIXED: minor units taken off the net price, at most all of it"`
	Currency          string       `json:"currency,omitempty" pattern:"^[A-Z]{3}$" doc:"FIXED: the ISO 4217 currency of amount; the code applies only to prices in it"`
	ValidFrom         *time.Time   `json:"validFrom,omitempty" doc:"inclusive; now by default"`
	ValidUntil        *time.Time   `json:"validUntil,omitempty" doc:"exclusive; no end by default"`
	MaxUses           int          `json:"maxUses,omitempty" minimum:"1" doc:"paid quotes in all; no limit by default"`
	MaxUsesPerPatient int          `json:"maxUsesPerPatient,omitempty" minimum:"1" doc:"paid quotes per patient; no limit by default"`
}

// Discount is an issued discount code and how often it was used.
type Discount struct {
	ID                string       `json:"id" format:"uuid"`
	Code              string       `json:"code" example:"SPRING-10"`
	Kind              DiscountKind `json:"kind"`
	Percent           int          `json:"percent,omitempty"`
	Amount            int64        `json:"amount,omitempty"`
	Currency          string       `json:"currency,omitempty"`
	ValidFrom         time.Time    `json:"validFrom"`
	ValidUntil        *time.Time   `json:"validUntil,omitempty"`
	MaxUses           int          `json:"maxUses,omitempty"`
	MaxUsesPerPatient int          `json:"maxUsesPerPatient,omitempty"`
	Uses              int          `json:"uses" doc:"paid quotes that used it"`
	CreatedAt         time.Time    `json:"createdAt"`
}

// QuoteRequest asks for the price of a case.
type QuoteRequest struct {
	CaseID       string `json:"caseId" format:"uuid"`
	DiscountCode string `json:"discountCode,omitempty" maxLength:"64" doc:"a discount code, case-insensitive"`
}

// Quote is the price of a case, signed: pay with token before expiresAt.
// Amounts are integer minor units of currency; totalAmount = netAmount −
// discountAmount + taxAmount, the tax charged on the discounted amount.
type Quote struct {
	ID             string          `json:"id" format:"uuid"`
	CaseID         string          `json:"caseId" format:"uuid"`
	Region         string          `json:"region" example:"EU"`
	Specialty      vocab.Specialty `json:"specialty"`
	Urgency        vocab.Urgency   `json:"urgency"`
	Currency       string          `json:"currency" example:"EUR"`
	NetAmount      int64           `json:"netAmount" example:"45000"`
	DiscountAmount int64           `json:"discountAmount" example:"4500"`
	TaxRate        int             `json:"taxRate" example:"2000" doc:"basis points"`
	TaxAmount      int64           `json:"taxAmount" example:"8100"`
	TotalAmount    int64           `json:"totalAmount" example:"48600"`
	DiscountCode   string          `json:"discountCode,omitempty" example:"SPRING-10"`
	ExpiresAt      time.Time       `json:"expiresAt"`
	Token          string          `json:"token" doc:"the signed quote, to pay with"`
}

type (
	catalogueInput struct {
		Region string `query:"region" pattern:"^[A-Z]{2,3}$" doc:"only this region's prices"`
	}
	catalogueOutput struct{ Body Catalogue }
	priceInput      struct {
		Region    string          `path:"region" pattern:"^[A-Z]{2,3}$"`
		Specialty vocab.Specialty `path:"specialty"`
		Urgency   vocab.Urgency   `path:"urgency"`
		Body      PriceChange
	}
	priceOutput    struct{ Body CataloguePrice }
	discountInput  struct{ Body NewDiscount }
	discountOutput struct{ Body Discount }
	discountsInput struct {
		Cursor string `query:"cursor" doc:"nextCursor of the previous page"`
		Limit  int    `query:"limit" default:"50" minimum:"1" maximum:"200"`
	}
	discountsOutput struct{ Body page.Page[Discount] }
	quoteInput      struct{ Body QuoteRequest }
	quoteOutput     struct{ Body Quote }
)

func (s *Service) routes(api huma.API) {
	httpapi.Enum[vocab.Specialty](api)
	httpapi.Enum[vocab.Urgency](api)
	httpapi.Enum[DiscountKind](api)
	tags := []string{"Pricing"}
	anyone := authz.Roles(authn.RolePatient, authn.RoleProfessional, authn.RoleAdmin)
	admin := authz.Roles(authn.RoleAdmin)
	httpapi.Register(api, huma.Operation{OperationID: "get-pricing-catalog", Method: http.MethodGet, Path: "/api/v1/pricing/catalog",
		Summary: "What a case costs, by region, specialty and urgency", Tags: tags}, anyone,
		func(ctx context.Context, in *catalogueInput) (*catalogueOutput, error) {
			prices, err := s.catalogue(ctx, in.Region)
			if err != nil {
				return nil, err
			}
			out := Catalogue{Items: make([]CataloguePrice, len(prices))}
			for i, p := range prices {
				out.Items[i] = toPrice(p)
			}
			return &catalogueOutput{out}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "set-pricing-catalog-price", Method: http.MethodPut,
		Path: "/api/v1/pricing/catalog/{region}/{specialty}/{urgency}", Tags: tags,
		Summary: "Set the price of a specialty at an urgency in a region (admins); quotes issued before keep theirs"}, admin,
		func(ctx context.Context, in *priceInput) (*priceOutput, error) {
			p, err := s.setPrice(ctx, store.Price{Region: in.Region, Specialty: string(in.Specialty), Urgency: string(in.Urgency),
				Net: in.Body.NetAmount, Currency: in.Body.Currency, TaxRate: in.Body.TaxRate})
			if err != nil {
				return nil, err
			}
			return &priceOutput{toPrice(p)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "create-pricing-discount", Method: http.MethodPost, Path: "/api/v1/pricing/discounts",
		Summary: "Issue a discount code (admins)", Tags: tags, DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict}}, admin,
		func(ctx context.Context, in *discountInput) (*discountOutput, error) {
			b := in.Body
			d := domain.Discount{Code: b.Code, Kind: b.Kind, Percent: b.Percent, Amount: b.Amount, Currency: b.Currency,
				MaxUses: b.MaxUses, MaxUsesPerPatient: b.MaxUsesPerPatient}
			if b.ValidFrom != nil {
				d.ValidFrom = *b.ValidFrom
			}
			if b.ValidUntil != nil {
				d.ValidUntil = *b.ValidUntil
			}
			out, err := s.createDiscount(ctx, d)
			if err != nil {
				return nil, err
			}
			return &discountOutput{toDiscount(out)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "list-pricing-discounts", Method: http.MethodGet, Path: "/api/v1/pricing/discounts",
		Summary: "The discount codes and their uses, oldest first (admins)", Tags: tags}, admin,
		func(ctx context.Context, in *discountsInput) (*discountsOutput, error) {
			items, next, err := s.discounts(ctx, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			return &discountsOutput{page.Of(items, next, toDiscount)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "create-pricing-quote", Method: http.MethodPost, Path: "/api/v1/pricing/quotes",
		Summary: "Price one's own case, with a discount code if any: a signed quote to pay with before it expires", Tags: tags,
		DefaultStatus: http.StatusCreated, Errors: []int{http.StatusConflict}}, authz.Roles(authn.RolePatient).Owned(),
		func(ctx context.Context, in *quoteInput) (*quoteOutput, error) {
			q, token, err := s.quote(ctx, authn.FromContext(ctx), in.Body.CaseID, in.Body.DiscountCode)
			if err != nil {
				return nil, err
			}
			return &quoteOutput{Quote{ID: q.ID, CaseID: q.CaseID, Region: q.Region, Specialty: vocab.Specialty(q.Specialty),
				Urgency: vocab.Urgency(q.Urgency), Currency: q.Currency, NetAmount: q.Net, DiscountAmount: q.Discount,
				TaxRate: q.TaxRate, TaxAmount: q.Tax, TotalAmount: q.Total, DiscountCode: q.DiscountCode,
				ExpiresAt: q.ExpiresAt, Token: token}}, nil
		})
}

func toPrice(p store.Price) CataloguePrice {
	tax := domain.RateOf(p.Net, p.TaxRate)
	return CataloguePrice{Region: p.Region, Specialty: vocab.Specialty(p.Specialty), Urgency: vocab.Urgency(p.Urgency),
		NetAmount: p.Net, Currency: p.Currency, TaxRate: p.TaxRate, TaxAmount: tax, TotalAmount: p.Net + tax, UpdatedAt: p.UpdatedAt}
}

func toDiscount(d store.Discount) Discount {
	out := Discount{ID: d.ID, Code: d.Code, Kind: d.Kind, Percent: d.Percent, Amount: d.Amount, Currency: d.Currency,
		ValidFrom: d.ValidFrom, MaxUses: d.MaxUses, MaxUsesPerPatient: d.MaxUsesPerPatient, Uses: d.Uses, CreatedAt: d.CreatedAt}
	if !d.ValidUntil.IsZero() {
		until := d.ValidUntil
		out.ValidUntil = &until
	}
	return out
}
