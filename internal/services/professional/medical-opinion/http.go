package medicalopinion

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/domain"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/store"
)

// Vocabulary types publish their values as enums in the OpenAPI document
// from the domain's lists, so the two cannot drift.
type (
	confidence string
	status     string
	decision   string
)

func enum(values []string) *huma.Schema {
	s := &huma.Schema{Type: huma.TypeString}
	for _, v := range values {
		s.Enum = append(s.Enum, v)
	}
	return s
}

func (confidence) Schema(huma.Registry) *huma.Schema { return enum(domain.Confidences) }
func (decision) Schema(huma.Registry) *huma.Schema   { return enum(domain.Decisions) }
func (status) Schema(huma.Registry) *huma.Schema {
	var names []string
	for _, s := range domain.Statuses {
		names = append(names, string(s))
	}
	return enum(names)
}

type diagnosisBody struct {
	Code        string `json:"code" example:"I25.10" doc:"ICD-10: a letter, two digits, optionally a dot and 1-4 letters or digits"`
	Description string `json:"description" doc:"1 to 500 characters"`
}

type questionBody struct {
	ID         string     `json:"id" format:"uuid"`
	Question   string     `json:"question"`
	Answer     string     `json:"answer,omitempty" doc:"the author's addendum; absent until answered"`
	AskedAt    time.Time  `json:"askedAt"`
	AnsweredAt *time.Time `json:"answeredAt,omitempty"`
}

type opinionBody struct {
	ID              string          `json:"id" format:"uuid"`
	CaseID          string          `json:"caseId" format:"uuid"`
	ProfessionalID  string          `json:"professionalId" format:"uuid"`
	Status          status          `json:"status"`
	Summary         string          `json:"summary"`
	Diagnoses       []diagnosisBody `json:"diagnoses"`
	Recommendations []string        `json:"recommendations"`
	Confidence      confidence      `json:"confidence,omitempty"`
	Answer          string          `json:"answer"`
	References      []string        `json:"references"`
	ReviewComments  string          `json:"reviewComments,omitempty" doc:"the reviewer's comments; not shown to the patient"`
	ReviewerID      string          `json:"reviewerId,omitempty" format:"uuid" doc:"not shown to the patient"`
	SubmittedAt     *time.Time      `json:"submittedAt,omitempty"`
	ApprovedAt      *time.Time      `json:"approvedAt,omitempty"`
	CreatedAt       time.Time       `json:"createdAt"`
	UpdatedAt       time.Time       `json:"updatedAt"`
	FollowUps       []questionBody  `json:"followUps" doc:"the patient's follow-up questions with the author's answers"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toQuestion(q store.Question) questionBody {
	return questionBody{q.ID, q.Question, q.Answer, q.AskedAt, timePtr(q.AnsweredAt)}
}

func toBody(v view) opinionBody {
	o := v.Opinion
	b := opinionBody{ID: o.ID, CaseID: o.CaseID, ProfessionalID: o.ProfessionalID, Status: status(o.Status),
		Summary: o.Summary, Diagnoses: make([]diagnosisBody, 0, len(o.Diagnoses)), Recommendations: o.Recommendations,
		Confidence: confidence(o.Confidence), Answer: o.Answer, References: o.References,
		SubmittedAt: timePtr(o.SubmittedAt), ApprovedAt: timePtr(o.ApprovedAt), CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
		FollowUps: make([]questionBody, 0, len(v.Questions))}
	for _, d := range o.Diagnoses {
		b.Diagnoses = append(b.Diagnoses, diagnosisBody(d))
	}
	if b.Recommendations == nil {
		b.Recommendations = []string{}
	}
	if b.References == nil {
		b.References = []string{}
	}
	if !v.forPatient {
		b.ReviewComments, b.ReviewerID = o.ReviewComments, o.ReviewerID
	}
	for _, q := range v.Questions {
		b.FollowUps = append(b.FollowUps, toQuestion(q))
	}
	return b
}

type opinionOutput struct {
	Body opinionBody
}

type caseInput struct {
	ID string `path:"id" format:"uuid" doc:"the case"`
}

type opinionInput struct {
	ID string `path:"id" format:"uuid" doc:"the opinion"`
}

type saveInput struct {
	ID   string `path:"id" format:"uuid" doc:"the case"`
	Body struct {
		Summary         string          `json:"summary,omitempty" doc:"up to 5000 characters"`
		Diagnoses       []diagnosisBody `json:"diagnoses,omitempty" doc:"up to 20"`
		Recommendations []string        `json:"recommendations,omitempty" doc:"up to 20, each up to 1000 characters"`
		Confidence      confidence      `json:"confidence,omitempty"`
		Answer          string          `json:"answer,omitempty" doc:"the answer to the patient's question, up to 10000 characters"`
		References      []string        `json:"references,omitempty" doc:"up to 20, each up to 500 characters"`
	}
}

type reviewInput struct {
	ID   string `path:"id" format:"uuid" doc:"the opinion"`
	Body struct {
		Decision decision `json:"decision"`
		Comments string   `json:"comments,omitempty" doc:"required to request changes; up to 2000 characters"`
	}
}

type askInput struct {
	ID   string `path:"id" format:"uuid" doc:"the case"`
	Body struct {
		Question string `json:"question" doc:"up to 2000 characters"`
	}
}

type askOutput struct {
	Location string `header:"Location"`
	Body     questionBody
}

type answerInput struct {
	ID         string `path:"id" format:"uuid" doc:"the opinion"`
	QuestionID string `path:"questionId" format:"uuid"`
	Body       struct {
		Answer string `json:"answer" doc:"up to 5000 characters"`
	}
}

type reportOutput struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

type queueInput struct {
	Cursor string `query:"cursor" doc:"nextCursor of the previous page"`
	Limit  int    `query:"limit" default:"20" minimum:"1" maximum:"100"`
}

// awaitingBody is an opinion in the review queue: no text, no patient.
type awaitingBody struct {
	ID             string    `json:"id" format:"uuid"`
	CaseID         string    `json:"caseId" format:"uuid"`
	Specialty      string    `json:"specialty" doc:"the case's"`
	ProfessionalID string    `json:"professionalId" format:"uuid" doc:"the author"`
	SubmittedAt    time.Time `json:"submittedAt"`
}

type queueOutput struct {
	Body struct {
		Items      []awaitingBody `json:"items"`
		NextCursor string         `json:"nextCursor,omitempty" doc:"absent on the last page"`
	}
}

func (s *Service) routes() {
	tags := []string{"Opinions"}
	pro := authz.Roles(authn.RoleProfessional)
	reader := authz.Roles(authn.RolePatient, authn.RoleProfessional, authn.RoleAdmin).Owned()
	authz.Register(s.api, huma.Operation{OperationID: "save-opinion", Method: http.MethodPut, Path: "/api/v1/cases/{id}/opinion",
		Summary: "Save the draft opinion of an assigned case", Tags: tags}, pro,
		func(ctx context.Context, in *saveInput) (*opinionOutput, error) {
			c := domain.Content{Summary: in.Body.Summary, Recommendations: in.Body.Recommendations,
				Confidence: string(in.Body.Confidence), Answer: in.Body.Answer, References: in.Body.References}
			for _, d := range in.Body.Diagnoses {
				c.Diagnoses = append(c.Diagnoses, domain.Diagnosis(d))
			}
			v, err := s.save(ctx, authn.FromContext(ctx), in.ID, c)
			if err != nil {
				return nil, err
			}
			return &opinionOutput{toBody(v)}, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "submit-opinion", Method: http.MethodPost, Path: "/api/v1/cases/{id}/opinion/submit",
		Summary: "Submit the opinion: approved at once, or for review when the author is JUNIOR", Tags: tags}, pro,
		func(ctx context.Context, in *caseInput) (*opinionOutput, error) {
			v, err := s.submit(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &opinionOutput{toBody(v)}, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "review-opinion", Method: http.MethodPost, Path: "/api/v1/opinions/{id}/review",
		Summary: "Approve a submitted opinion or request changes (verified SENIOR or higher of the case's specialty)", Tags: tags}, pro,
		func(ctx context.Context, in *reviewInput) (*opinionOutput, error) {
			v, err := s.review(ctx, authn.FromContext(ctx), in.ID, string(in.Body.Decision), in.Body.Comments)
			if err != nil {
				return nil, err
			}
			return &opinionOutput{toBody(v)}, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "list-opinions-awaiting-review", Method: http.MethodGet,
		Path: "/api/v1/opinions/awaiting-review", Tags: tags,
		Summary: "Submitted opinions the caller may review, oldest first (ids only; open one with get-opinion); every one for an admin"},
		authz.Roles(authn.RoleProfessional, authn.RoleAdmin),
		func(ctx context.Context, in *queueInput) (*queueOutput, error) {
			items, next, err := s.awaiting(ctx, authn.FromContext(ctx), in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			out := &queueOutput{}
			out.Body.Items, out.Body.NextCursor = make([]awaitingBody, 0, len(items)), next
			for _, a := range items {
				out.Body.Items = append(out.Body.Items, awaitingBody(a))
			}
			return out, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "get-case-opinion", Method: http.MethodGet, Path: "/api/v1/cases/{id}/opinion",
		Summary: "The opinion of a case: approved for its patient, own for the author", Tags: tags}, reader,
		func(ctx context.Context, in *caseInput) (*opinionOutput, error) {
			v, err := s.forCase(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &opinionOutput{toBody(v)}, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "get-opinion", Method: http.MethodGet, Path: "/api/v1/opinions/{id}",
		Summary: "An opinion, for its author, an eligible reviewer or an admin", Tags: tags},
		authz.Roles(authn.RoleProfessional, authn.RoleAdmin),
		func(ctx context.Context, in *opinionInput) (*opinionOutput, error) {
			v, err := s.byID(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &opinionOutput{toBody(v)}, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "get-opinion-report", Method: http.MethodGet, Path: "/api/v1/opinions/{id}/report",
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
	authz.Register(s.api, huma.Operation{OperationID: "ask-follow-up", Method: http.MethodPost, Path: "/api/v1/cases/{id}/opinion/questions",
		Summary: "Ask a follow-up question on the approved opinion (up to 3, within 30 days)", Tags: tags,
		DefaultStatus: http.StatusCreated}, authz.Roles(authn.RolePatient).Owned(),
		func(ctx context.Context, in *askInput) (*askOutput, error) {
			q, err := s.ask(ctx, authn.FromContext(ctx), in.ID, in.Body.Question)
			if err != nil {
				return nil, err
			}
			return &askOutput{Location: "/api/v1/cases/" + in.ID + "/opinion", Body: toQuestion(q)}, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "answer-follow-up", Method: http.MethodPost,
		Path: "/api/v1/opinions/{id}/questions/{questionId}/answer", Summary: "Answer a follow-up question (the opinion's author)",
		Tags: tags}, pro,
		func(ctx context.Context, in *answerInput) (*struct{ Body questionBody }, error) {
			q, err := s.answer(ctx, authn.FromContext(ctx), in.ID, in.QuestionID, in.Body.Answer)
			if err != nil {
				return nil, err
			}
			return &struct{ Body questionBody }{toQuestion(q)}, nil
		})
}
