package professionalidentity

import (
	"context"
	"time"

	"connectrpc.com/connect"

	professionalv1 "github.com/secondopinion/platform/api/gen/professional/v1"
	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
	"github.com/secondopinion/platform/internal/kit/rpc"
)

// rpcCallers is who may call the internal ProfessionalService:
// medical-opinion, which needs to know who a professional is and where
// they stand, and notification, which addresses them.
var rpcCallers = rpc.Callers{
	professionalv1connect.ProfessionalServiceGetProfessionalProcedure: {"medical-opinion", "notification"},
}

// rpcServer is the internal ProfessionalService over the same rules as
// REST.
type rpcServer struct{ s *Service }

func (r *rpcServer) GetProfessional(ctx context.Context, req *connect.Request[professionalv1.GetProfessionalRequest]) (*connect.Response[professionalv1.Professional], error) {
	p, err := r.s.get(ctx, req.Msg.Id)
	if err != nil {
		return nil, rpc.Error(ctx, err)
	}
	return connect.NewResponse(&professionalv1.Professional{
		Id: p.ID, ProNumber: p.ProNumber, FirstName: p.FirstName, LastName: p.LastName, Email: p.Email,
		Specialties: codes(p.Specialties), Languages: codes(p.Languages), Country: p.Country, Level: string(p.Level),
		Status: p.Status, CreatedAt: p.CreatedAt.Format(time.RFC3339Nano),
	}), nil
}

// codes are vocabulary values as the protobuf message's strings.
func codes[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
