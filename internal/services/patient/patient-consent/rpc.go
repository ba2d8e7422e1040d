package patientconsent

import (
	"context"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/clients/patientdata"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/domain"
)

// rpcCallers is who may call the internal APIs: the ConsentService the
// services that check a consent before they act — AI processing
// (ai-providers, before any provider is called; ai-orchestration); the
// PatientDataService patient-identity alone, which has checked and
// audited the patient's request for their export.
var rpcCallers = rpc.Callers{
	patientv1connect.ConsentServiceCheckProcedure:      {"ai-providers", "ai-orchestration"},
	patientv1connect.PatientDataServiceExportProcedure: {"patient-identity"},
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

// dataServer is the internal PatientDataService: this service's part of
// a patient's export (GDPR Art. 20).
type dataServer struct {
	patientv1connect.UnimplementedPatientDataServiceHandler
	s *Service
}

// Export streams consents.json. The service knows each consent's
// patient, so the request's case ids are not needed.
func (d *dataServer) Export(ctx context.Context, req *connect.Request[patientv1.ExportRequest], stream *connect.ServerStream[patientv1.ExportChunk]) error {
	patient := req.Msg.GetPatientId()
	if _, err := uuid.Parse(patient); err != nil {
		return rpc.Error(ctx, fault.Invalid("patient_id", "must be a UUID"))
	}
	w := patientdata.Writer(stream)
	if err := d.s.exportConsents(ctx, patient, w); err != nil {
		return rpc.Error(ctx, err)
	}
	return nil
}
