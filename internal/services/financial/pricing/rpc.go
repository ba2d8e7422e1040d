package pricing

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	financialv1 "github.com/secondopinion/platform/api/gen/financial/v1"
	"github.com/secondopinion/platform/api/gen/financial/v1/financialv1connect"
	"github.com/secondopinion/platform/internal/kit/rpc"
)

// rpcCallers is who may call QuoteService: payments alone, which redeems
// the quote a patient pays with.
var rpcCallers = rpc.Callers{
	financialv1connect.QuoteServiceRedeemProcedure: {"payments"},
}

// rpcServer is the internal QuoteService.
type rpcServer struct {
	financialv1connect.UnimplementedQuoteServiceHandler
	s *Service
}

// Redeem answers a valid quote, redeemed; a token that is not one, has
// expired, or is for another case or patient is InvalidArgument
// ("token: why"), which payments answers as 422.
func (r *rpcServer) Redeem(ctx context.Context, req *connect.Request[financialv1.RedeemQuoteRequest]) (*connect.Response[financialv1.RedeemQuoteResponse], error) {
	q, err := r.s.redeem(ctx, req.Msg.GetToken(), req.Msg.GetCaseId(), req.Msg.GetPatientId())
	if err != nil {
		return nil, rpc.Error(ctx, err)
	}
	return connect.NewResponse(&financialv1.RedeemQuoteResponse{QuoteId: q.ID, CaseId: q.CaseID, PatientId: q.PatientID,
		Region: q.Region, Specialty: q.Specialty, Urgency: q.Urgency, Currency: q.Currency, NetAmount: q.Net,
		DiscountAmount: q.Discount, TaxRate: int32(q.TaxRate), TaxAmount: q.Tax, TotalAmount: q.Total,
		DiscountCode: q.DiscountCode, ExpiresAt: timestamppb.New(q.ExpiresAt)}), nil
}
