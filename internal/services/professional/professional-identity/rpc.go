package professionalidentity

import (
	"context"
	"log/slog"
	"time"

	"connectrpc.com/connect"

	professionalv1 "github.com/secondopinion/platform/api/gen/professional/v1"
	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
	"github.com/secondopinion/platform/internal/kit/problem"
	"github.com/secondopinion/platform/internal/kit/rpc"
)

// rpcCallers is who may call the internal ProfessionalService: the
// professional domain's services, which need to know who a professional
// is and where they stand.
var rpcCallers = rpc.Callers{
	professionalv1connect.ProfessionalServiceGetProfessionalProcedure: {"credentialing", "case-assignment", "medical-opinion"},
}

// rpcServer is the internal ProfessionalService over the same rules as
// REST.
type rpcServer struct{ s *Service }

func (r *rpcServer) GetProfessional(ctx context.Context, req *connect.Request[professionalv1.GetProfessionalRequest]) (*connect.Response[professionalv1.Professional], error) {
	p, err := r.s.get(ctx, req.Msg.Id)
	if err != nil {
		if _, ok := problem.As(err); !ok {
			slog.ErrorContext(ctx, "professional rpc failed", "err", err)
		}
		return nil, rpc.Error(ctx, err)
	}
	return connect.NewResponse(&professionalv1.Professional{
		Id: p.ID, ProNumber: p.ProNumber, FirstName: p.FirstName, LastName: p.LastName, Email: p.Email,
		Specialties: p.Specialties, Languages: p.Languages, Country: p.Country, Level: p.Level, Status: p.Status,
		CreatedAt: p.CreatedAt.Format(time.RFC3339Nano),
	}), nil
}
