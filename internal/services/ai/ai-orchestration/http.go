package aiorchestration

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/services/ai/ai-orchestration/domain"
)

// ProcessingStatus is where a run of the AI stands: ids, state and
// codes, never a word of the records.
type ProcessingStatus struct {
	ProcessingID string     `json:"processingId" format:"uuid"`
	Kind         string     `json:"kind" enum:"CASE,DOCUMENT"`
	CaseID       string     `json:"caseId" format:"uuid"`
	DocumentID   string     `json:"documentId,omitempty" format:"uuid" doc:"for a DOCUMENT processing"`
	Status       string     `json:"status" enum:"QUEUED,RUNNING,COMPLETED,FAILED,ORPHANED,SKIPPED" doc:"ORPHANED: out of attempts, in the admins' triage; SKIPPED: sent on without AI (see reason)"`
	Attempts     int        `json:"attempts" doc:"attempts of the current round; an admin's retry starts a new one"`
	Reason       string     `json:"reason,omitempty" example:"SYNTHESIS_UNAVAILABLE" doc:"the last failure, or why it was skipped: a code"`
	CreatedAt    time.Time  `json:"createdAt"`
	UpdatedAt    time.Time  `json:"updatedAt"`
	CompletedAt  *time.Time `json:"completedAt,omitempty"`
}

// Citation points at the words a finding rests on: the document, the
// page, and the byte offsets [start, end) of that page's text as
// document-analysis extracted it (GET /api/v1/documents/analysis/{documentId}).
type Citation struct {
	DocumentID string `json:"documentId" format:"uuid"`
	Page       int    `json:"page" minimum:"1"`
	Start      int    `json:"start" minimum:"0"`
	End        int    `json:"end" minimum:"1"`
}

// AIFinding is a finding of the pre-analysis, unreviewed: the
// professional accepts, edits or rejects it in their opinion.
type AIFinding struct {
	ID         string   `json:"id" example:"0193a2c4-1b7e-7d2a-9c1f-6f1e2d3c4b5a:1" doc:"names the finding in the professional's review"`
	Label      string   `json:"label" doc:"the finding, e.g. \"pneumonia (J18), uncertain\""`
	Type       string   `json:"type,omitempty" doc:"the entity type, for a document's finding"`
	Code       string   `json:"code,omitempty" doc:"ICD-10"`
	Text       string   `json:"text,omitempty" doc:"the cited words, for a document's finding"`
	Flag       string   `json:"flag,omitempty" doc:"HIGH or LOW for a measurement outside its range"`
	Uncertain  bool     `json:"uncertain"`
	Historical bool     `json:"historical"`
	Confidence float64  `json:"confidence" minimum:"0" maximum:"1"`
	Citation   Citation `json:"citation"`
}

// AIPassage is a sentence of a document's extractive summary.
type AIPassage struct {
	Text     string   `json:"text"`
	Score    float64  `json:"score"`
	Citation Citation `json:"citation"`
}

// DocumentPreAnalysis is one document's part of the pre-analysis.
type DocumentPreAnalysis struct {
	DocumentID string      `json:"documentId" format:"uuid"`
	FileType   string      `json:"fileType"`
	Status     string      `json:"status" enum:"OK,PARTIAL,OCR_UNAVAILABLE,FAILED"`
	Reason     string      `json:"reason,omitempty"`
	Findings   []AIFinding `json:"findings"`
	Summary    []AIPassage `json:"summary"`
}

// CaseSynthesis is the case-level summary an AI provider wrote from the
// documents' findings and sentences, each key finding citing one.
type CaseSynthesis struct {
	Summary     string      `json:"summary"`
	KeyFindings []AIFinding `json:"keyFindings"`
	Provider    string      `json:"provider" example:"local"`
	Model       string      `json:"model"`
}

// CaseAnalysis is a case's AI pre-analysis with its processing's state;
// documents and synthesis once it is COMPLETED.
type CaseAnalysis struct {
	ProcessingStatus
	Documents []DocumentPreAnalysis `json:"documents,omitempty"`
	Synthesis *CaseSynthesis        `json:"synthesis,omitempty" doc:"absent when no document had anything to synthesise"`
}

// TriageEntry is an orphaned case waiting for an admin.
type TriageEntry struct {
	ProcessingID string    `json:"processingId" format:"uuid"`
	CaseID       string    `json:"caseId" format:"uuid"`
	Specialty    string    `json:"specialty"`
	Reason       string    `json:"reason" example:"SYNTHESIS_UNAVAILABLE"`
	Attempts     int       `json:"attempts"`
	OrphanedAt   time.Time `json:"orphanedAt"`
}

// Triage is the admins' list of orphaned cases, the longest waiting first.
type Triage struct {
	Items []TriageEntry `json:"items"`
}

// DocumentProcessingRequest names a record to analyse again.
type DocumentProcessingRequest struct {
	DocumentID string `json:"documentId" format:"uuid"`
}

type (
	processDocumentInput struct{ Body DocumentProcessingRequest }
	statusInput          struct {
		ProcessingID string `path:"processingId" format:"uuid"`
	}
	statusOutput   struct{ Body ProcessingStatus }
	acceptedOutput struct {
		Status int
		Body   ProcessingStatus
	}
	caseInput struct {
		CaseID string `path:"caseId" format:"uuid"`
	}
	analysisOutput struct{ Body CaseAnalysis }
	triageInput    struct {
		Limit int `query:"limit" minimum:"1" maximum:"500" default:"100"`
	}
	triageOutput struct{ Body Triage }
)

func (s *Service) routes(api huma.API) {
	admin := authz.Roles(authn.RoleAdmin)
	tags := []string{"AI orchestration"}
	httpapi.Register(api, huma.Operation{OperationID: "process-document", Method: http.MethodPost, Path: "/api/v1/ai/process-document",
		Summary: "Analyse a record again, as a job (admins)", Tags: tags, DefaultStatus: http.StatusAccepted,
		Errors: []int{http.StatusNotFound},
		Description: "Submitted cases are analysed by themselves; this queues one record's analysis again, e.g. after " +
			"an upgrade of the engine. Follow it at /api/v1/ai/status/{processingId}."},
		admin, func(ctx context.Context, in *processDocumentInput) (*acceptedOutput, error) {
			p, err := s.processDocument(ctx, in.Body.DocumentID)
			if err != nil {
				return nil, err
			}
			return &acceptedOutput{Status: http.StatusAccepted, Body: statusOf(p)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-ai-status", Method: http.MethodGet, Path: "/api/v1/ai/status/{processingId}",
		Summary: "Where a run of the AI stands (the case's patient, its assigned professional, admins)", Tags: tags},
		authz.Roles(authn.RolePatient, authn.RoleProfessional, authn.RoleAdmin).Owned(),
		func(ctx context.Context, in *statusInput) (*statusOutput, error) {
			p, err := s.status(ctx, authn.FromContext(ctx), in.ProcessingID)
			if err != nil {
				return nil, err
			}
			return &statusOutput{statusOf(p)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-case-analysis", Method: http.MethodGet, Path: "/api/v1/cases/{caseId}/analysis",
		Summary: "A case's AI pre-analysis, every finding cited (its assigned professional, admins)", Tags: tags,
		Description: "The patient does not read it: AI output reaches a patient only through the findings a professional " +
			"reviewed in their opinion. Every read is in the audit trail."},
		authz.Roles(authn.RoleProfessional, authn.RoleAdmin).Owned(),
		func(ctx context.Context, in *caseInput) (*analysisOutput, error) {
			a, err := s.analysis(ctx, authn.FromContext(ctx), in.CaseID)
			if err != nil {
				return nil, err
			}
			return &analysisOutput{a}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "list-ai-triage", Method: http.MethodGet, Path: "/api/v1/ai/triage",
		Summary: "Cases the AI gave up on, with the reason and the attempts (admins)", Tags: tags},
		admin, func(ctx context.Context, in *triageInput) (*triageOutput, error) {
			items, err := s.triage(ctx, in.Limit)
			if err != nil {
				return nil, err
			}
			return &triageOutput{Triage{Items: items}}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "retry-ai-triage", Method: http.MethodPost, Path: "/api/v1/ai/triage/{caseId}/retry",
		Summary: "Run an orphaned case's pre-analysis again, with a new round of attempts (admins)", Tags: tags,
		DefaultStatus: http.StatusAccepted, Errors: []int{http.StatusNotFound, http.StatusConflict}},
		admin, func(ctx context.Context, in *caseInput) (*acceptedOutput, error) {
			p, err := s.retry(ctx, authn.FromContext(ctx), in.CaseID)
			if err != nil {
				return nil, err
			}
			return &acceptedOutput{Status: http.StatusAccepted, Body: statusOf(p)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "send-on-ai-triage", Method: http.MethodPost, Path: "/api/v1/ai/triage/{caseId}/send-on",
		Summary: "Send an orphaned case to the pool without a pre-analysis (admins)", Tags: tags,
		Errors: []int{http.StatusNotFound, http.StatusConflict}},
		admin, func(ctx context.Context, in *caseInput) (*statusOutput, error) {
			p, err := s.sendOn(ctx, authn.FromContext(ctx), in.CaseID)
			if err != nil {
				return nil, err
			}
			return &statusOutput{statusOf(p)}, nil
		})
}

func statusOf(p domain.Processing) ProcessingStatus {
	out := ProcessingStatus{ProcessingID: p.ID, Kind: string(p.Kind), CaseID: p.CaseID, DocumentID: p.DocumentID,
		Status: string(p.Status), Attempts: p.Attempts, Reason: p.Reason, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if !p.CompletedAt.IsZero() {
		t := p.CompletedAt
		out.CompletedAt = &t
	}
	return out
}
