package casemanagement

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/clients/patientdata"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
)

// rpcCallers is who may call the internal CaseService: the opinion
// service reads a case's owner, number and question; medical-records a
// case's owner, status and specialty; patient-identity the ids of a
// patient's cases, for the export.
var rpcCallers = rpc.Callers{
	patientv1connect.CaseServiceGetCaseProcedure: {"medical-opinion", "medical-records", "pricing", "payments", "search"},
	patientv1connect.CaseServiceCaseIdsProcedure: {"patient-identity"},
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

// CaseIds names a patient's cases: ids only, which the export passes to
// the services that hold a case but do not know its patient.
func (r *rpcServer) CaseIds(ctx context.Context, req *connect.Request[patientv1.CaseIdsRequest]) (*connect.Response[patientv1.CaseIdsResponse], error) {
	if _, err := uuid.Parse(req.Msg.CustomerId); err != nil {
		return nil, rpc.Error(ctx, fault.Invalid("customer_id", "must be a UUID"))
	}
	ids, err := r.s.store.CaseIDs(ctx, req.Msg.CustomerId)
	if err != nil {
		return nil, rpc.Error(ctx, err)
	}
	return connect.NewResponse(&patientv1.CaseIdsResponse{Ids: ids}), nil
}

// dataCallers is who may call PatientDataService: patient-identity alone,
// which checks and audits the export as a whole.
var dataCallers = rpc.Callers{
	patientv1connect.PatientDataServiceExportProcedure: {"patient-identity"},
}

// dataServer is the internal PatientDataService: this service's part of
// a patient's export (GDPR Art. 20).
type dataServer struct{ s *Service }

// Export writes cases.json: every case of the patient, oldest first, as
// the patient reads it with its timeline (GET /api/v1/cases/{id}). It
// reads the store rather than the audited read path, which would record
// each case again. The request's case ids are for the services that do
// not know patients: the patient's own cases are the ones read here.
func (d *dataServer) Export(ctx context.Context, req *connect.Request[patientv1.ExportRequest], stream *connect.ServerStream[patientv1.ExportChunk]) error {
	if _, err := uuid.Parse(req.Msg.PatientId); err != nil {
		return rpc.Error(ctx, fault.Invalid("patient_id", "must be a UUID"))
	}
	cs, err := d.s.store.Cases(ctx, req.Msg.PatientId)
	if err != nil {
		return rpc.Error(ctx, err)
	}
	out := make([]CaseWithTimeline, 0, len(cs))
	for _, c := range cs {
		tl, err := d.s.store.Timeline(ctx, c.ID)
		if err != nil {
			return rpc.Error(ctx, err)
		}
		out = append(out, toCaseWithTimeline(c, tl))
	}
	w := patientdata.Writer(stream)
	if err := w.JSON("cases.json", out); err != nil {
		return rpc.Error(ctx, err)
	}
	return nil
}
