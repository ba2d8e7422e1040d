package caseassignment

import (
	"context"
	"time"

	"connectrpc.com/connect"

	professionalv1 "github.com/secondopinion/platform/api/gen/professional/v1"
	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
)

// rpcCallers is who may call the internal AssignmentService: medical-opinion,
// which must know who holds a case before case.assigned reaches it, and
// medical-records and document-analysis, which let only that professional
// read the records and their analyses.
var rpcCallers = rpc.Callers{
	professionalv1connect.AssignmentServiceGetActiveAssignmentProcedure: {"medical-opinion", "medical-records", "document-analysis", "ai-orchestration"},
}

// rpcServer is the internal AssignmentService over the service's store.
type rpcServer struct{ s *Service }

// GetActiveAssignment answers from the store, not from events, so a claim
// is visible to the caller as soon as its transaction committed. The
// answer holds ids and times only, no health data, so it is not audited.
func (r *rpcServer) GetActiveAssignment(ctx context.Context, req *connect.Request[professionalv1.GetActiveAssignmentRequest]) (*connect.Response[professionalv1.Assignment], error) {
	a, err := r.s.store.Active(ctx, req.Msg.CaseId)
	if err != nil {
		if _, ok := fault.As(err); !ok {
			r.s.Log.ErrorContext(ctx, "active assignment rpc failed", "caseId", req.Msg.CaseId, "err", err)
		}
		return nil, rpc.Error(ctx, busy(err))
	}
	return connect.NewResponse(&professionalv1.Assignment{
		Id: a.ID, CaseId: a.CaseID, ProfessionalId: a.ProfessionalID,
		Deadline: a.Deadline.UTC().Format(time.RFC3339Nano), ClaimedAt: a.ClaimedAt.UTC().Format(time.RFC3339Nano),
	}), nil
}
