package medicalopinion

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/domain"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/store"
)

// OpinionStatus, OpinionConfidence, ReviewDecision and
// OpinionFindingDecision are the service's own vocabularies. Each
// publishes the domain's list as a named enum (httpapi.Enum), so the
// document and the rules cannot drift.
type (
	OpinionStatus          string
	OpinionConfidence      string
	ReviewDecision         string
	OpinionFindingDecision string
)

func (OpinionStatus) Values() []string          { return convert[string](domain.Statuses) }
func (OpinionConfidence) Values() []string      { return domain.Confidences }
func (ReviewDecision) Values() []string         { return domain.Decisions }
func (OpinionFindingDecision) Values() []string { return domain.FindingDecisions }

// OpinionDiagnosis is one diagnosis of an opinion.
type OpinionDiagnosis struct {
	Code        string `json:"code" example:"I25.10" doc:"ICD-10: a letter, two digits, optionally a dot and 1-4 letters or digits"`
	Description string `json:"description" doc:"1 to 500 characters"`
}

// OpinionCitation is where the AI pre-analysis read a finding: a span of
// the extracted text of one page of one of the case's records.
type OpinionCitation struct {
	DocumentID string `json:"documentId" format:"uuid" doc:"the record"`
	Page       int    `json:"page" doc:"the page, from 1"`
	Start      int    `json:"start" doc:"the span's first byte in the page's text, from 0"`
	End        int    `json:"end" doc:"the byte after the span's last, after start"`
}

// OpinionAIFinding is the author's decision on one finding of the case's
// AI pre-analysis, with the finding as the pre-analysis gave it.
type OpinionAIFinding struct {
	FindingID string                 `json:"findingId" example:"finding-1" doc:"the pre-analysis's id of the finding: 1 to 100 letters, digits or . _ : -, once per opinion"`
	Label     string                 `json:"label" doc:"the finding in the AI's words, 1 to 500 characters"`
	Decision  OpinionFindingDecision `json:"decision" doc:"ACCEPTED as the AI put it, EDITED into the author's words, or REJECTED"`
	Text      string                 `json:"text,omitempty" doc:"the author's wording, up to 1000 characters: required when EDITED, refused otherwise"`
	Citation  OpinionCitation        `json:"citation"`
}

// OpinionReviewedFinding is a finding of the AI pre-analysis that the
// author reviewed and kept, as the patient reads it.
type OpinionReviewedFinding struct {
	Text     string          `json:"text" doc:"the AI's label of an ACCEPTED finding, the author's wording of an EDITED one"`
	Citation OpinionCitation `json:"citation"`
}

// FollowUp is a patient's follow-up question on an approved opinion, with
// the author's answer once given.
type FollowUp struct {
	ID         string     `json:"id" format:"uuid"`
	Question   string     `json:"question"`
	Answer     string     `json:"answer,omitempty" doc:"the author's addendum; absent until answered"`
	AskedAt    time.Time  `json:"askedAt"`
	AnsweredAt *time.Time `json:"answeredAt,omitempty"`
}

// Opinion is an opinion as its author, a reviewer, an admin and (once
// approved, without the review's internals and of the AI pre-analysis
// only what the author kept) the case's patient read it.
type Opinion struct {
	ID               string                   `json:"id" format:"uuid"`
	CaseID           string                   `json:"caseId" format:"uuid"`
	ProfessionalID   string                   `json:"professionalId" format:"uuid"`
	Status           OpinionStatus            `json:"status"`
	Summary          string                   `json:"summary"`
	Diagnoses        []OpinionDiagnosis       `json:"diagnoses"`
	Recommendations  []string                 `json:"recommendations"`
	Confidence       OpinionConfidence        `json:"confidence,omitempty"`
	Answer           string                   `json:"answer"`
	References       []string                 `json:"references"`
	AIFindings       []OpinionAIFinding       `json:"aiFindings,omitzero" doc:"the author's decision on each finding of the AI pre-analysis; not shown to the patient"`
	ReviewedFindings []OpinionReviewedFinding `json:"reviewedFindings" doc:"the findings of the AI pre-analysis the author reviewed and kept, in order: what the patient reads of the pre-analysis, never a REJECTED finding"`
	ReviewComments   string                   `json:"reviewComments,omitempty" doc:"the reviewer's comments; not shown to the patient"`
	ReviewerID       string                   `json:"reviewerId,omitempty" format:"uuid" doc:"not shown to the patient"`
	SubmittedAt      *time.Time               `json:"submittedAt,omitempty"`
	ApprovedAt       *time.Time               `json:"approvedAt,omitempty"`
	CreatedAt        time.Time                `json:"createdAt"`
	UpdatedAt        time.Time                `json:"updatedAt"`
	FollowUps        []FollowUp               `json:"followUps" doc:"the patient's follow-up questions with the author's answers"`
}

// OpinionDraft is what the assigned professional saves: the whole draft,
// which may be partial until it is submitted.
type OpinionDraft struct {
	Summary         string             `json:"summary,omitempty" doc:"up to 5000 characters"`
	Diagnoses       []OpinionDiagnosis `json:"diagnoses,omitempty" doc:"up to 20"`
	Recommendations []string           `json:"recommendations,omitempty" doc:"up to 20, each up to 1000 characters"`
	Confidence      OpinionConfidence  `json:"confidence,omitempty"`
	Answer          string             `json:"answer,omitempty" doc:"the answer to the patient's question, up to 10000 characters"`
	References      []string           `json:"references,omitempty" doc:"up to 20, each up to 500 characters"`
	AIFindings      []OpinionAIFinding `json:"aiFindings,omitempty" doc:"the decision on each finding of the case's AI pre-analysis, up to 200; the patient reads the ACCEPTED and EDITED ones once the opinion is approved"`
}

// OpinionReview is a reviewer's decision on a submitted opinion.
type OpinionReview struct {
	Decision ReviewDecision `json:"decision"`
	Comments string         `json:"comments,omitempty" doc:"required to request changes; up to 2000 characters"`
}

// FollowUpQuestion is what the patient asks about the approved opinion.
type FollowUpQuestion struct {
	Question string `json:"question" doc:"up to 2000 characters"`
}

// FollowUpAnswer is the author's answer to a follow-up question.
type FollowUpAnswer struct {
	Answer string `json:"answer" doc:"up to 5000 characters"`
}

// OpinionAwaitingReview is an opinion in the review queue: no text, no
// patient.
type OpinionAwaitingReview struct {
	ID             string          `json:"id" format:"uuid"`
	CaseID         string          `json:"caseId" format:"uuid"`
	Specialty      vocab.Specialty `json:"specialty" doc:"the case's"`
	ProfessionalID string          `json:"professionalId" format:"uuid" doc:"the author"`
	SubmittedAt    time.Time       `json:"submittedAt"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toFollowUp(q store.Question) FollowUp {
	return FollowUp{q.ID, q.Question, q.Answer, q.AskedAt, timePtr(q.AnsweredAt)}
}

func toOpinion(v view) Opinion {
	o := v.Opinion
	b := Opinion{ID: o.ID, CaseID: o.CaseID, ProfessionalID: o.ProfessionalID, Status: OpinionStatus(o.Status),
		Summary: o.Summary, Diagnoses: make([]OpinionDiagnosis, 0, len(o.Diagnoses)), Recommendations: o.Recommendations,
		Confidence: OpinionConfidence(o.Confidence), Answer: o.Answer, References: o.References,
		SubmittedAt: timePtr(o.SubmittedAt), ApprovedAt: timePtr(o.ApprovedAt), CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
		ReviewedFindings: []OpinionReviewedFinding{}, FollowUps: make([]FollowUp, 0, len(v.Questions))}
	for _, d := range o.Diagnoses {
		b.Diagnoses = append(b.Diagnoses, OpinionDiagnosis(d))
	}
	if b.Recommendations == nil {
		b.Recommendations = []string{}
	}
	if b.References == nil {
		b.References = []string{}
	}
	for _, f := range domain.Reviewed(o.AIFindings) {
		b.ReviewedFindings = append(b.ReviewedFindings, OpinionReviewedFinding{f.Text, OpinionCitation(f.Citation)})
	}
	if !v.forPatient {
		b.ReviewComments, b.ReviewerID = o.ReviewComments, o.ReviewerID
		b.AIFindings = make([]OpinionAIFinding, 0, len(o.AIFindings))
		for _, f := range o.AIFindings {
			b.AIFindings = append(b.AIFindings, OpinionAIFinding{f.ID, f.Label, OpinionFindingDecision(f.Decision), f.Text, OpinionCitation(f.Citation)})
		}
	}
	for _, q := range v.Questions {
		b.FollowUps = append(b.FollowUps, toFollowUp(q))
	}
	return b
}

func (d OpinionDraft) content() domain.Content {
	c := domain.Content{Summary: d.Summary, Recommendations: d.Recommendations, Confidence: string(d.Confidence),
		Answer: d.Answer, References: d.References}
	for _, dg := range d.Diagnoses {
		c.Diagnoses = append(c.Diagnoses, domain.Diagnosis(dg))
	}
	for _, f := range d.AIFindings {
		c.AIFindings = append(c.AIFindings, domain.Finding{ID: f.FindingID, Label: f.Label, Decision: string(f.Decision), Text: f.Text,
			Citation: domain.Citation(f.Citation)})
	}
	return c
}

func toAwaiting(a store.Awaiting) OpinionAwaitingReview {
	return OpinionAwaitingReview{a.ID, a.CaseID, vocab.Specialty(a.Specialty), a.ProfessionalID, a.SubmittedAt}
}

type (
	opinionOutput struct{ Body Opinion }
	caseInput     struct {
		ID string `path:"id" format:"uuid" doc:"the case"`
	}
	opinionInput struct {
		ID string `path:"id" format:"uuid" doc:"the opinion"`
	}
	saveInput struct {
		ID   string `path:"id" format:"uuid" doc:"the case"`
		Body OpinionDraft
	}
	reviewInput struct {
		ID   string `path:"id" format:"uuid" doc:"the opinion"`
		Body OpinionReview
	}
	askInput struct {
		ID   string `path:"id" format:"uuid" doc:"the case"`
		Body FollowUpQuestion
	}
	askOutput struct {
		Location string `header:"Location"`
		Body     FollowUp
	}
	answerInput struct {
		ID         string `path:"id" format:"uuid" doc:"the opinion"`
		QuestionID string `path:"questionId" format:"uuid"`
		Body       FollowUpAnswer
	}
	followUpOutput struct{ Body FollowUp }
	reportOutput   struct {
		ContentType        string `header:"Content-Type"`
		ContentDisposition string `header:"Content-Disposition"`
		Body               []byte
	}
	queueInput struct {
		Cursor string `query:"cursor" doc:"nextCursor of the previous page"`
		Limit  int    `query:"limit" default:"20" minimum:"1" maximum:"100"`
	}
	queueOutput struct {
		Body page.Page[OpinionAwaitingReview]
	}
)

func (s *Service) routes(api huma.API) {
	httpapi.Enum[vocab.Specialty](api)
	httpapi.Enum[OpinionStatus](api)
	httpapi.Enum[OpinionConfidence](api)
	httpapi.Enum[ReviewDecision](api)
	httpapi.Enum[OpinionFindingDecision](api)
	tags := []string{"Opinions"}
	pro := authz.Roles(authn.RoleProfessional)
	reader := authz.Roles(authn.RolePatient, authn.RoleProfessional, authn.RoleAdmin).Owned()
	httpapi.Register(api, huma.Operation{OperationID: "save-opinion", Method: http.MethodPut, Path: "/api/v1/cases/{id}/opinion",
		Summary: "Save the draft opinion of an assigned case", Tags: tags, Errors: []int{http.StatusConflict}}, pro,
		func(ctx context.Context, in *saveInput) (*opinionOutput, error) {
			v, err := s.save(ctx, authn.FromContext(ctx), in.ID, in.Body.content())
			if err != nil {
				return nil, err
			}
			return &opinionOutput{toOpinion(v)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "submit-opinion", Method: http.MethodPost, Path: "/api/v1/cases/{id}/opinion/submit",
		Summary: "Submit the opinion: approved at once, or for review when the author is JUNIOR", Tags: tags}, pro,
		func(ctx context.Context, in *caseInput) (*opinionOutput, error) {
			v, err := s.submit(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &opinionOutput{toOpinion(v)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "review-opinion", Method: http.MethodPost, Path: "/api/v1/opinions/{id}/review",
		Summary: "Approve a submitted opinion or request changes (verified SENIOR or higher of the case's specialty)", Tags: tags}, pro,
		func(ctx context.Context, in *reviewInput) (*opinionOutput, error) {
			v, err := s.review(ctx, authn.FromContext(ctx), in.ID, string(in.Body.Decision), in.Body.Comments)
			if err != nil {
				return nil, err
			}
			return &opinionOutput{toOpinion(v)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "list-opinions-awaiting-review", Method: http.MethodGet,
		Path: "/api/v1/opinions/awaiting-review", Tags: tags,
		Summary: "Submitted opinions the caller may review, oldest first (ids only; open one with get-opinion); every one for an admin"},
		authz.Roles(authn.RoleProfessional, authn.RoleAdmin),
		func(ctx context.Context, in *queueInput) (*queueOutput, error) {
			items, next, err := s.awaiting(ctx, authn.FromContext(ctx), in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			return &queueOutput{page.Of(items, next, toAwaiting)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-case-opinion", Method: http.MethodGet, Path: "/api/v1/cases/{id}/opinion",
		Summary: "The opinion of a case: approved for its patient, own for the author", Tags: tags}, reader,
		func(ctx context.Context, in *caseInput) (*opinionOutput, error) {
			v, err := s.forCase(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &opinionOutput{toOpinion(v)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-opinion", Method: http.MethodGet, Path: "/api/v1/opinions/{id}",
		Summary: "An opinion, for its author, an eligible reviewer or an admin", Tags: tags},
		authz.Roles(authn.RoleProfessional, authn.RoleAdmin),
		func(ctx context.Context, in *opinionInput) (*opinionOutput, error) {
			v, err := s.byID(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &opinionOutput{toOpinion(v)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-opinion-report", Method: http.MethodGet, Path: "/api/v1/opinions/{id}/report",
		Summary: "The opinion's report as PDF", Tags: tags,
		Responses: map[string]*huma.Response{"200": {Description: "the report", Content: map[string]*huma.MediaType{
			"application/pdf": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}}}}, reader,
		func(ctx context.Context, in *opinionInput) (*reportOutput, error) {
			r, err := s.report(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			pdf, err := renderReport(r)
			if err != nil {
				return nil, err
			}
			return &reportOutput{ContentType: "application/pdf",
				ContentDisposition: `attachment; filename="opinion-` + r.CaseNumber + `.pdf"`, Body: pdf}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "ask-follow-up", Method: http.MethodPost, Path: "/api/v1/cases/{id}/opinion/questions",
		Summary: "Ask a follow-up question on the approved opinion (up to 3, within 30 days)", Tags: tags,
		DefaultStatus: http.StatusCreated}, authz.Roles(authn.RolePatient).Owned(),
		func(ctx context.Context, in *askInput) (*askOutput, error) {
			q, err := s.ask(ctx, authn.FromContext(ctx), in.ID, in.Body.Question)
			if err != nil {
				return nil, err
			}
			return &askOutput{Location: "/api/v1/cases/" + in.ID + "/opinion", Body: toFollowUp(q)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "answer-follow-up", Method: http.MethodPost,
		Path: "/api/v1/opinions/{id}/questions/{questionId}/answer", Summary: "Answer a follow-up question (the opinion's author)",
		Tags: tags}, pro,
		func(ctx context.Context, in *answerInput) (*followUpOutput, error) {
			q, err := s.answer(ctx, authn.FromContext(ctx), in.ID, in.QuestionID, in.Body.Answer)
			if err != nil {
				return nil, err
			}
			return &followUpOutput{toFollowUp(q)}, nil
		})
}
