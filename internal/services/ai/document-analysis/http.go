package documentanalysis

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/api/vocab"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/services/ai/document-analysis/extract"
	"github.com/secondopinion/platform/internal/services/ai/document-analysis/nlp"
)

// DocumentAnalysis is the analysis of one record. Every entity, finding
// and summary sentence cites a page and a byte span [start, end) of that
// page's extracted text; DICOM files cite their tags.
type DocumentAnalysis struct {
	DocumentID string         `json:"documentId" format:"uuid"`
	CaseID     string         `json:"caseId" format:"uuid"`
	FileType   vocab.FileType `json:"fileType"`
	Status     string         `json:"status" enum:"OK,PARTIAL,OCR_UNAVAILABLE,FAILED" doc:"PARTIAL: some pages could not be read; OCR_UNAVAILABLE: images or scanned pages, and tesseract is not installed; FAILED: the record could not be read (see reason)"`
	Reason     string         `json:"reason,omitempty" doc:"why a FAILED record could not be read"`
	Pages      []PageInfo     `json:"pages,omitempty"`
	Tags       []extract.Tag  `json:"tags,omitempty" doc:"a DICOM file's descriptive attributes, never the patient's"`
	Analysis   *nlp.Analysis  `json:"analysis,omitempty"`
	Engine     string         `json:"engine" example:"nlp-rules/1"`
	AnalyzedAt time.Time      `json:"analyzedAt"`
}

// PageInfo is how a page's text was read.
type PageInfo struct {
	Number     int    `json:"number"`
	Method     string `json:"method" enum:"TEXT_LAYER,PLAIN_TEXT,DOCX,OCR"`
	Status     string `json:"status" enum:"OK,OCR_UNAVAILABLE,OCR_FAILED"`
	Characters int    `json:"characters" doc:"bytes of text read from the page"`
}

// AnalysisRequest names the record to analyse.
type AnalysisRequest struct {
	DocumentID string `json:"documentId" format:"uuid"`
}

type (
	analyzeInput  struct{ Body AnalysisRequest }
	analysisInput struct {
		DocumentID string `path:"documentId" format:"uuid"`
	}
	analysisOutput struct{ Body DocumentAnalysis }
)

func (s *Service) routes(api huma.API) {
	tags := []string{"Document analysis"}
	httpapi.Register(api, huma.Operation{OperationID: "analyze-document", Method: http.MethodPost, Path: "/api/v1/documents/analyze",
		Summary: "Analyse a record now, replacing its analysis (admins)", Tags: tags, Errors: []int{http.StatusNotFound},
		Description: "Submitted cases' records are analysed by the AI pipeline; this runs one again, e.g. after an " +
			"upgrade of the engine. A record that cannot be read is analysed as FAILED with the reason."},
		authz.Roles(authn.RoleAdmin), func(ctx context.Context, in *analyzeInput) (*analysisOutput, error) {
			a, patient, err := s.analyze(ctx, in.Body.DocumentID)
			if err != nil {
				return nil, err
			}
			// The answer shows the record's contents: a read like any other.
			if err := s.audit(ctx, authn.FromContext(ctx), a.DocumentID, patient, kitaudit.Allowed); err != nil {
				return nil, err
			}
			return &analysisOutput{a}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-document-analysis", Method: http.MethodGet,
		Path: "/api/v1/documents/analysis/{documentId}", Tags: tags,
		Summary:     "A record's analysis: cited entities, findings, summary (its case's assigned professional, or an admin)",
		Description: "The patient does not read it: AI output reaches a patient only through a professional's opinion."},
		authz.Roles(authn.RoleProfessional, authn.RoleAdmin).Owned(), func(ctx context.Context, in *analysisInput) (*analysisOutput, error) {
			a, err := s.read(ctx, authn.FromContext(ctx), in.DocumentID)
			if err != nil {
				return nil, err
			}
			return &analysisOutput{a}, nil
		})
}
