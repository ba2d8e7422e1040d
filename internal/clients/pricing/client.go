// Package pricing is the client of pricing's internal QuoteService:
// payments redeems the signed quote a patient pays with, and learns what
// to charge.
package pricing

import (
	"context"
	"errors"
	"strings"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	financialv1 "github.com/secondopinion/platform/api/gen/financial/v1"
	"github.com/secondopinion/platform/api/gen/financial/v1/financialv1connect"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// Target is the service this client reaches.
const Target = "pricing"

const timeout = 5 * time.Second

// QuoteField is the field an invalid quote's fault names: the payment
// request's field that carries the token. A caller whose field is named
// otherwise sets the fault's Field to its own.
const QuoteField = "quoteToken"

// Quote is a redeemed quote: what to charge for a case. Amounts are
// integer minor units of Currency; Total = Net − Discount + Tax, and
// TaxRate is in basis points (2000 is 20 %). DiscountCode is "" for none.
type Quote struct {
	ID, CaseID, PatientID, Region, Specialty, Urgency, Currency, DiscountCode string
	Net, Discount, Tax, Total                                                 int64
	TaxRate                                                                   int
	ExpiresAt                                                                 time.Time
}

// Client reaches QuoteService.
type Client struct {
	api    financialv1connect.QuoteServiceClient
	health *grpchealth.Client
}

// New reaches pricing at peer.
func New(peer service.Peer) *Client {
	return &Client{api: financialv1connect.NewQuoteServiceClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		health: grpchealth.NewClient(peer.HTTP, peer.URL, rpc.ClientOptions()...)}
}

// Redeem redeems the quote token for case caseID of patient patientID:
// the quote is marked paid for and its discount code counted, once;
// redeeming it again answers the same. A token that is not a quote, has
// expired, is for another case or patient, or whose discount code has
// been used up in the meantime is a fault of kind Invalid (422) naming
// QuoteField, with pricing's reason as its detail: the patient asks for a
// new quote. A pricing that is down or slow is Unavailable (503).
func (c *Client) Redeem(ctx context.Context, token, caseID, patientID string) (Quote, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.api.Redeem(ctx, connect.NewRequest(&financialv1.RedeemQuoteRequest{Token: token, CaseId: caseID, PatientId: patientID}))
	if connect.CodeOf(err) == connect.CodeInvalidArgument {
		return Quote{}, refusal(err)
	}
	if err != nil {
		return Quote{}, rpc.PeerError(Target, "quote", caseID, err)
	}
	m := res.Msg
	return Quote{ID: m.GetQuoteId(), CaseID: m.GetCaseId(), PatientID: m.GetPatientId(), Region: m.GetRegion(),
		Specialty: m.GetSpecialty(), Urgency: m.GetUrgency(), Currency: m.GetCurrency(), DiscountCode: m.GetDiscountCode(),
		Net: m.GetNetAmount(), Discount: m.GetDiscountAmount(), Tax: m.GetTaxAmount(), Total: m.GetTotalAmount(),
		TaxRate: int(m.GetTaxRate()), ExpiresAt: m.GetExpiresAt().AsTime()}, nil
}

// refusal is pricing's refusal of a quote ("field: reason") as the fault
// the caller answers with. pricing's reasons never repeat the token.
func refusal(err error) error {
	var ce *connect.Error
	detail := "is not a valid quote; ask for a new one"
	if errors.As(err, &ce) {
		if _, reason, ok := strings.Cut(ce.Message(), ": "); ok && reason != "" {
			detail = reason
		}
	}
	return &fault.Error{Kind: fault.KindInvalid, Title: "Invalid quote", Field: QuoteField, Detail: detail, Err: err}
}

// Ready checks that QuoteService is serving.
func (c *Client) Ready(ctx context.Context) error {
	return rpc.Serving(c.health, Target, financialv1connect.QuoteServiceName)(ctx)
}
