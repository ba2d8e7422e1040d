package patientconsent

import (
	"context"

	"connectrpc.com/connect"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/domain"
)

// rpcCallers is who may call the internal ConsentService: the services
// that will have to honour a consent — AI processing (ai-orchestration),
// sharing records with professionals (case-management, case-assignment,
// medical-records). None calls it yet.
var rpcCallers = rpc.Callers{
	patientv1connect.ConsentServiceCheckProcedure: {"ai-orchestration", "case-management", "case-assignment", "medical-records"},
}

// rpcServer is the internal ConsentService.
type rpcServer struct {
	patientv1connect.UnimplementedConsentServiceHandler
	s *Service
}

func (r *rpcServer) Check(ctx context.Context, req *connect.Request[patientv1.CheckConsentRequest]) (*connect.Response[patientv1.CheckConsentResponse], error) {
	purpose := vocab.ConsentPurpose(req.Msg.GetPurpose())
	st, err := r.s.check(ctx, req.Msg.GetPatientId(), purpose)
	if err != nil {
		return nil, rpc.Error(ctx, err)
	}
	cur := domain.Current(purpose)
	return connect.NewResponse(&patientv1.CheckConsentResponse{Granted: st.Status == domain.StatusGranted,
		Version: grantedVersion(st), CurrentVersion: cur.Version}), nil
}

// grantedVersion is the version a consent in force was granted for, ""
// when none is in force.
func grantedVersion(st domain.State) string {
	if st.Status != domain.StatusGranted {
		return ""
	}
	return st.Version
}
