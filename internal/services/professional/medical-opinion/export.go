package medicalopinion

import (
	"bytes"
	"context"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/clients/patientdata"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
)

// dataCallers is who may call the internal PatientDataService:
// patient-identity alone, which has checked and audited the patient's
// request.
var dataCallers = rpc.Callers{
	patientv1connect.PatientDataServiceExportProcedure: {"patient-identity"},
}

// dataServer serves the service's part of a patient's export (GDPR Art.
// 20).
type dataServer struct{ s *Service }

// exportedOpinion is an opinion in the export: as the patient reads it,
// with the case's number and where its report is in the bundle.
type exportedOpinion struct {
	CaseNumber string `json:"caseNumber"`
	Report     string `json:"report"`
	Opinion
}

// Export streams opinions.json, the opinion of each of the patient's
// cases as the patient reads it, and each one's PDF report at
// reports/<caseNumber>.pdf. The patient reads only an approved opinion,
// without the review's internals and, of the AI pre-analysis, with only
// the findings the professional kept: drafts and opinions in review are
// not theirs to see, and are not exported.
func (d *dataServer) Export(ctx context.Context, req *connect.Request[patientv1.ExportRequest], stream *connect.ServerStream[patientv1.ExportChunk]) error {
	reports, err := d.s.exportable(ctx, authn.FromContext(ctx), req.Msg.PatientId, req.Msg.CaseIds)
	if err != nil {
		return rpc.Error(ctx, err)
	}
	w := patientdata.Writer(stream)
	opinions := make([]exportedOpinion, len(reports))
	for i, r := range reports {
		opinions[i] = exportedOpinion{CaseNumber: r.CaseNumber, Report: reportPath(r), Opinion: toOpinion(r.view)}
	}
	if err := w.JSON("opinions.json", opinions); err != nil {
		return rpc.Error(ctx, err)
	}
	for _, r := range reports {
		pdf, err := renderReport(r)
		if err == nil {
			err = w.Copy(reportPath(r), bytes.NewReader(pdf))
		}
		if err != nil {
			return rpc.Error(ctx, err)
		}
	}
	d.s.Log.InfoContext(ctx, "opinions exported", "patientId", req.Msg.PatientId, "opinions", len(reports))
	return nil
}

func reportPath(r reportData) string { return "reports/" + r.CaseNumber + ".pdf" }

// exportable gathers, for patientID's export, what the patient sees of
// the opinions of caseIDs: per case, the approved opinion with its
// follow-ups and what its report shows. Every opinion exported is
// audited as read by who. A case that is not the patient's fails the
// export rather than being left out or shown: patient-identity names the
// patient's own cases only.
func (s *Service) exportable(ctx context.Context, who authn.Principal, patientID string, caseIDs []string) ([]reportData, error) {
	if _, err := uuid.Parse(patientID); err != nil {
		return nil, fault.Invalid("patient_id", "must be a UUID")
	}
	var out []reportData
	seen := map[string]bool{}
	for _, caseID := range caseIDs {
		if seen[caseID] {
			continue
		}
		seen[caseID] = true
		o, err := s.store.Approved(ctx, caseID)
		if fault.KindOf(err) == fault.KindNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		c, err := s.cases.Case(ctx, caseID, "opinion.export")
		if err != nil {
			return nil, err
		}
		if c.CustomerID != patientID {
			return nil, fault.Invalid("case_ids", "case %s is not the patient's", caseID)
		}
		author, err := s.professionals.Professional(ctx, o.ProfessionalID)
		if err != nil {
			return nil, err
		}
		v, err := s.read(ctx, who, "opinion.export", o, c)
		if err != nil {
			return nil, err
		}
		v.forPatient = true // what the patient reads, whoever asks for it
		out = append(out, reportData{view: v, CaseNumber: c.CaseNumber, Question: c.Question, Author: author})
	}
	return out, nil
}
