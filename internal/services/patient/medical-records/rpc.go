package medicalrecords

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
)

// rpcCallers is who may call the internal APIs: the RecordsService
// case-management, which refuses to submit an incomplete case; the
// PatientDataService patient-identity, which has checked and audited the
// patient's request for their export.
var rpcCallers = rpc.Callers{
	patientv1connect.RecordsServiceChecklistProcedure:  {"case-management"},
	patientv1connect.PatientDataServiceExportProcedure: {"patient-identity"},
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

// dataServer is the internal PatientDataService.
type dataServer struct {
	patientv1connect.UnimplementedPatientDataServiceHandler
	s *Service
}

// Export streams the patient's records, of all their cases: the service
// knows each record's patient, so the request's case ids are not needed.
func (d *dataServer) Export(ctx context.Context, req *connect.Request[patientv1.ExportRequest], stream *connect.ServerStream[patientv1.ExportChunk]) error {
	patient := req.Msg.GetPatientId()
	if _, err := uuid.Parse(patient); err != nil {
		return rpc.Error(ctx, fault.Invalid("patient_id", "must be a UUID"))
	}
	w := patientdata.Writer(stream)
	if err := d.s.exportRecords(ctx, patient, w); err != nil {
		return rpc.Error(ctx, err)
	}
	return nil
}
