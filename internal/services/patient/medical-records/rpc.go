package medicalrecords

import (
	"context"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
)

// rpcCallers is who may call the internal RecordsService: case-management,
// which refuses to submit an incomplete case.
var rpcCallers = rpc.Callers{
	patientv1connect.RecordsServiceChecklistProcedure: {"case-management"},
}

// rpcServer is the internal RecordsService.
type rpcServer struct {
	patientv1connect.UnimplementedRecordsServiceHandler
	s *Service
}

func (r *rpcServer) Checklist(ctx context.Context, req *connect.Request[patientv1.ChecklistRequest]) (*connect.Response[patientv1.ChecklistResponse], error) {
	caseID, specialty := req.Msg.GetCaseId(), vocab.Specialty(req.Msg.GetSpecialty())
	if _, err := uuid.Parse(caseID); err != nil {
		return nil, rpc.Error(ctx, fault.Invalid("case_id", "must be a UUID"))
	}
	if !specialty.Valid() {
		return nil, rpc.Error(ctx, fault.Invalid("specialty", "must be a specialty of the vocabulary"))
	}
	required, _, missing, err := r.s.completeness(ctx, caseID, specialty)
	if err != nil {
		return nil, rpc.Error(ctx, err)
	}
	return connect.NewResponse(&patientv1.ChecklistResponse{Required: names(required), Missing: names(missing)}), nil
}

func names(kinds []vocab.DocumentKind) []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = string(k)
	}
	return out
}
