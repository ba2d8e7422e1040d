package medicalrecords

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/clients/patientdata"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/services/patient/medical-records/store"
)

// rpcCallers is who may call the internal APIs: the RecordsService's
// Checklist case-management, which refuses to submit an incomplete case;
// its Documents and Content the AI domain, which analyses a submitted
// case's records (having checked the patient's AI_PROCESSING consent);
// the PatientDataService patient-identity, which has checked and audited
// the patient's request for their export.
var rpcCallers = rpc.Callers{
	patientv1connect.RecordsServiceChecklistProcedure:  {"case-management"},
	patientv1connect.RecordsServiceDocumentsProcedure:  {"ai-orchestration", "document-analysis"},
	patientv1connect.RecordsServiceRecordProcedure:     {"document-analysis", "ai-orchestration"},
	patientv1connect.RecordsServiceContentProcedure:    {"document-analysis"},
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

// Documents lists case's records without their content or file names.
func (r *rpcServer) Documents(ctx context.Context, req *connect.Request[patientv1.DocumentsRequest]) (*connect.Response[patientv1.DocumentsResponse], error) {
	caseID := req.Msg.GetCaseId()
	if _, err := uuid.Parse(caseID); err != nil {
		return nil, rpc.Error(ctx, fault.Invalid("case_id", "must be a UUID"))
	}
	docs, err := r.s.store.OfCase(ctx, caseID)
	if err != nil {
		return nil, rpc.Error(ctx, err)
	}
	out := &patientv1.DocumentsResponse{}
	for _, d := range docs {
		out.Documents = append(out.Documents, summary(d))
	}
	return connect.NewResponse(out), nil
}

// Record describes one record without its content or file name.
func (r *rpcServer) Record(ctx context.Context, req *connect.Request[patientv1.RecordRequest]) (*connect.Response[patientv1.RecordSummary], error) {
	id := req.Msg.GetDocumentId()
	if _, err := uuid.Parse(id); err != nil {
		return nil, rpc.Error(ctx, fault.Invalid("document_id", "must be a UUID"))
	}
	d, err := r.s.store.Get(ctx, id)
	if err != nil {
		return nil, rpc.Error(ctx, err)
	}
	return connect.NewResponse(summary(d)), nil
}

func summary(d store.Document) *patientv1.RecordSummary {
	return &patientv1.RecordSummary{Id: d.ID, CaseId: d.CaseID, PatientId: d.PatientID, Kind: string(d.Kind),
		FileType: string(d.FileType), MediaType: d.MediaType, Size: d.Size, Sha256: d.SHA256,
		UploadedAt: d.CreatedAt.UTC().Format(time.RFC3339Nano)}
}

// contentChunk bounds a chunk of Content, far below gRPC's 4 MiB.
const contentChunk = 256 << 10

// Content streams a record's original, decrypted as it goes. The read is
// in the audit trail before the first byte leaves.
func (r *rpcServer) Content(ctx context.Context, req *connect.Request[patientv1.ContentRequest], stream *connect.ServerStream[patientv1.ContentChunk]) error {
	id := req.Msg.GetDocumentId()
	if _, err := uuid.Parse(id); err != nil {
		return rpc.Error(ctx, fault.Invalid("document_id", "must be a UUID"))
	}
	d, err := r.s.store.Get(ctx, id)
	if err != nil {
		return rpc.Error(ctx, err)
	}
	if err := r.s.audit(ctx, authn.FromContext(ctx), "document.read", "document", d.ID, d.PatientID); err != nil {
		return rpc.Error(ctx, err)
	}
	key, err := r.s.readKey(ctx, d.PatientID)
	if err != nil {
		return rpc.Error(ctx, err)
	}
	plain, err := r.s.original(ctx, key, d)
	if err != nil {
		return rpc.Error(ctx, err)
	}
	defer plain.Close()
	buf := make([]byte, contentChunk)
	for {
		n, err := io.ReadFull(plain, buf)
		if n > 0 {
			if err := stream.Send(&patientv1.ContentChunk{Data: buf[:n]}); err != nil {
				return err
			}
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil
		case err != nil:
			return rpc.Error(ctx, fmt.Errorf("read record %s: %w", d.ID, err))
		}
	}
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
