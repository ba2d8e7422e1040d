package casemanagement

import (
	"context"
	"time"

	"connectrpc.com/connect"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/rpc"
)

// rpcCallers is who may call the internal CaseService: the opinion
// service reads a case's owner, number and question; medical-records a
// case's owner, status and specialty.
var rpcCallers = rpc.Callers{
	patientv1connect.CaseServiceGetCaseProcedure: {"medical-opinion", "medical-records"},
}

// rpcServer is the internal CaseService.
type rpcServer struct{ s *Service }

func (r *rpcServer) GetCase(ctx context.Context, req *connect.Request[patientv1.GetCaseRequest]) (*connect.Response[patientv1.CaseResponse], error) {
	c, err := r.s.store.Get(ctx, req.Msg.Id)
	if err == nil {
		err = r.s.auditAs(ctx, authn.FromContext(ctx), "case.read", c.ID, c.CustomerID, kitaudit.Allowed, req.Msg.Purpose)
	}
	if err != nil {
		return nil, rpc.Error(ctx, err)
	}
	return connect.NewResponse(&patientv1.CaseResponse{
		Id: c.ID, CaseNumber: c.CaseNumber, CustomerId: c.CustomerID, Specialty: c.Specialty, Urgency: c.Urgency,
		Title: c.Title, Question: c.Question, Status: string(c.Status), ProfessionalId: c.ProfessionalID,
		Language: c.Language, CreatedAt: c.CreatedAt.Format(time.RFC3339Nano), UpdatedAt: c.UpdatedAt.Format(time.RFC3339Nano),
	}), nil
}
