package pricing

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	financialv1 "github.com/secondopinion/platform/api/gen/financial/v1"
	"github.com/secondopinion/platform/api/gen/financial/v1/financialv1connect"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
)

// fake answers Redeem with err, or a quote.
type fake struct {
	financialv1connect.UnimplementedQuoteServiceHandler
	err error
}

var expires = time.Date(2030, 1, 1, 9, 30, 0, 0, time.UTC)

func (f fake) Redeem(_ context.Context, req *connect.Request[financialv1.RedeemQuoteRequest]) (*connect.Response[financialv1.RedeemQuoteResponse], error) {
	if f.err != nil {
		return nil, f.err
	}
	m := req.Msg
	return connect.NewResponse(&financialv1.RedeemQuoteResponse{QuoteId: "q", CaseId: m.CaseId, PatientId: m.PatientId, Region: "EU",
		Specialty: "ONCOLOGY", Urgency: "URGENT", Currency: "EUR", NetAmount: 1000, DiscountAmount: 100, TaxRate: 2000,
		TaxAmount: 180, TotalAmount: 1080, DiscountCode: "TEN", ExpiresAt: timestamppb.New(expires)}), nil
}

func client(t *testing.T, f fake) *Client {
	mux := http.NewServeMux()
	mux.Handle(financialv1connect.NewQuoteServiceHandler(f))
	mem := rpc.NewInProcess(mux)
	t.Cleanup(func() { mem.Close() })
	return New(service.Peer{HTTP: mem.Client(), URL: rpc.BaseURL})
}

func TestRedeem(t *testing.T) {
	ctx := context.Background()
	got, err := client(t, fake{}).Redeem(ctx, "tok", "c", "p")
	want := Quote{ID: "q", CaseID: "c", PatientID: "p", Region: "EU", Specialty: "ONCOLOGY", Urgency: "URGENT", Currency: "EUR",
		DiscountCode: "TEN", Net: 1000, Discount: 100, Tax: 180, Total: 1080, TaxRate: 2000, ExpiresAt: expires}
	if err != nil || got != want {
		t.Errorf("redeem: %+v, %v", got, err)
	}
	for name, c := range map[string]struct {
		err    error
		kind   fault.Kind
		detail string
	}{
		"refused":     {connect.NewError(connect.CodeInvalidArgument, errors.New("token: the quote has expired; ask for a new one")), fault.KindInvalid, "the quote has expired; ask for a new one"},
		"no reason":   {connect.NewError(connect.CodeInvalidArgument, errors.New("token")), fault.KindInvalid, "is not a valid quote; ask for a new one"},
		"down":        {connect.NewError(connect.CodeUnavailable, errors.New("down")), fault.KindUnavailable, "pricing is unavailable"},
		"not allowed": {connect.NewError(connect.CodePermissionDenied, errors.New("no")), fault.KindInternal, ""},
	} {
		_, err := client(t, fake{err: c.err}).Redeem(ctx, "tok", "c", "p")
		f, _ := fault.As(err)
		if fault.KindOf(err) != c.kind || (f != nil && f.Detail != c.detail) {
			t.Errorf("%s: %v", name, err)
		}
		if c.kind == fault.KindInvalid && f.Field != QuoteField {
			t.Errorf("%s: field %q", name, f.Field)
		}
	}
}
