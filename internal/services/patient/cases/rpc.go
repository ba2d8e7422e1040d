package cases

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/problem"
	"github.com/secondopinion/platform/internal/kit/rpc"
)

// rpcCallers is who may call the internal CaseService: the opinion
// service reads a case's owner, number and question.
var rpcCallers = rpc.Callers{
	patientv1connect.CaseServiceGetCaseProcedure: {"medical-opinion"},
}

// rpcServer is the internal CaseService.
type rpcServer struct{ s *Service }

func (r *rpcServer) GetCase(ctx context.Context, req *connect.Request[patientv1.GetCaseRequest]) (*connect.Response[patientv1.CaseResponse], error) {
	c, err := r.s.store.Get(ctx, req.Msg.Id)
	if err == nil {
		err = r.s.auditAs(ctx, authn.FromContext(ctx), "case.read", c.ID, c.CustomerID, kitaudit.Allowed, req.Msg.Purpose)
	}
	if err != nil {
		return nil, rpcError(ctx, r.s, err)
	}
	return connect.NewResponse(&patientv1.CaseResponse{
		Id: c.ID, CaseNumber: c.CaseNumber, CustomerId: c.CustomerID, Specialty: c.Specialty, Urgency: c.Urgency,
		Title: c.Title, Question: c.Question, Status: string(c.Status), ProfessionalId: c.ProfessionalID,
		Language: c.Language, CreatedAt: c.CreatedAt.Format(time.RFC3339Nano), UpdatedAt: c.UpdatedAt.Format(time.RFC3339Nano),
	}), nil
}

// rpcError maps classified errors to gRPC codes; anything else is an
// internal error whose cause stays in this process.
func rpcError(ctx context.Context, s *Service, err error) error {
	p, ok := problem.As(err)
	var code connect.Code
	if ok {
		code = map[problem.Kind]connect.Code{
			problem.KindNotFound:    connect.CodeNotFound,
			problem.KindUnavailable: connect.CodeUnavailable,
		}[p.Kind]
	}
	if code == 0 {
		s.log.ErrorContext(ctx, "case rpc failed", "err", err)
		return connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	return connect.NewError(code, errors.New(p.Detail))
}
