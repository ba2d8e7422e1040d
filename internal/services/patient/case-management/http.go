package casemanagement

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"

	"github.com/secondopinion/platform/internal/services/patient/case-management/domain"
	"github.com/secondopinion/platform/internal/services/patient/case-management/store"
)

// Vocabulary types publish their values as enums in the OpenAPI document
// from the domain's lists, so the two cannot drift.
type (
	specialty string
	urgency   string
	status    string
)

func enum(values []string) *huma.Schema {
	s := &huma.Schema{Type: huma.TypeString}
	for _, v := range values {
		s.Enum = append(s.Enum, v)
	}
	return s
}

func (specialty) Schema(huma.Registry) *huma.Schema { return enum(domain.Specialties) }
func (urgency) Schema(huma.Registry) *huma.Schema   { return enum(domain.Urgencies) }
func (status) Schema(huma.Registry) *huma.Schema {
	var names []string
	for _, s := range domain.Statuses {
		names = append(names, string(s))
	}
	return enum(names)
}

type caseBody struct {
	ID         string    `json:"id" format:"uuid"`
	CaseNumber string    `json:"caseNumber" example:"EU-2026-7KQ2ZD"`
	CustomerID string    `json:"customerId" format:"uuid"`
	Specialty  specialty `json:"specialty"`
	Urgency    urgency   `json:"urgency"`
	Title      string    `json:"title"`
	Question   string    `json:"question"`
	Status     status    `json:"status"`
	Language   string    `json:"language" example:"en"`
	// ProfessionalID is absent while the case is not assigned.
	ProfessionalID string    `json:"professionalId,omitempty" format:"uuid" doc:"the professional the case is assigned to"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

func toBody(c store.Case) caseBody {
	return caseBody{c.ID, c.CaseNumber, c.CustomerID, specialty(c.Specialty), urgency(c.Urgency),
		c.Title, c.Question, status(c.Status), c.Language, c.ProfessionalID, c.CreatedAt, c.UpdatedAt}
}

type entryBody struct {
	From    status    `json:"from,omitempty" doc:"absent on the creation"`
	To      status    `json:"to"`
	Trigger string    `json:"trigger" doc:"create, submit, cancel or the event type that moved the case"`
	EventID string    `json:"eventId,omitempty" format:"uuid"`
	Note    string    `json:"note,omitempty" doc:"the patient's reason for a cancel"`
	At      time.Time `json:"at"`
}

type caseDetail struct {
	caseBody
	Timeline []entryBody `json:"timeline"`
}

type caseOutput struct {
	Body caseBody
}

type createInput struct {
	Body struct {
		CustomerID string    `json:"customerId" format:"uuid" doc:"the patient the case is for"`
		Specialty  specialty `json:"specialty"`
		Title      string    `json:"title" doc:"3 to 200 characters"`
		Question   string    `json:"question" doc:"10 to 5000 characters"`
		Urgency    urgency   `json:"urgency,omitempty" doc:"default STANDARD"`
		Language   string    `json:"language,omitempty" doc:"ISO 639-1 language of the consultation, default en" example:"en"`
	}
}

type createOutput struct {
	Location string `header:"Location"`
	Body     caseBody
}

type idInput struct {
	ID string `path:"id" format:"uuid"`
}

type statusInput struct {
	CaseNumber string `path:"caseNumber" example:"EU-2026-7KQ2ZD"`
}

type statusOutput struct {
	Body struct {
		CaseNumber  string    `json:"caseNumber"`
		Status      status    `json:"status"`
		LastUpdated time.Time `json:"lastUpdated"`
	}
}

type listInput struct {
	CustomerID string `query:"customerId" format:"uuid" doc:"the patient whose cases to list; a patient's own by default, required for an admin"`
	Cursor     string `query:"cursor" doc:"nextCursor of the previous page"`
	Limit      int    `query:"limit" default:"20" minimum:"1" maximum:"100"`
}

type listOutput struct {
	Body struct {
		Items      []caseBody `json:"items"`
		NextCursor string     `json:"nextCursor,omitempty" doc:"absent on the last page"`
	}
}

type cancelInput struct {
	ID   string `path:"id" format:"uuid"`
	Body *struct {
		Reason string `json:"reason,omitempty" maxLength:"500"`
	}
}

func (s *Service) routes() {
	tags := []string{"Cases"}
	// Every case operation is a patient's on their own cases, or an admin's.
	own := authz.Roles(authn.RolePatient, authn.RoleAdmin).Owned()
	// Reads also admit the professional a case is assigned to.
	read := authz.Roles(authn.RolePatient, authn.RoleProfessional, authn.RoleAdmin).Owned()
	authz.Register(s.api, huma.Operation{OperationID: "create-case", Method: http.MethodPost, Path: "/api/v1/cases",
		Summary: "Open a case", Tags: tags, DefaultStatus: http.StatusCreated}, own,
		func(ctx context.Context, in *createInput) (*createOutput, error) {
			c, err := s.open(ctx, authn.FromContext(ctx), domain.NewCase{CustomerID: in.Body.CustomerID, Specialty: string(in.Body.Specialty),
				Title: in.Body.Title, Question: in.Body.Question, Urgency: string(in.Body.Urgency), Language: in.Body.Language})
			if err != nil {
				return nil, err
			}
			return &createOutput{Location: "/api/v1/cases/" + c.ID, Body: toBody(c)}, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "get-case-status", Method: http.MethodGet, Path: "/api/v1/cases/{caseNumber}/status",
		Summary: "Status of a case by its number", Tags: tags}, read,
		func(ctx context.Context, in *statusInput) (*statusOutput, error) {
			c, err := s.byNumber(ctx, authn.FromContext(ctx), in.CaseNumber)
			if err != nil {
				return nil, err
			}
			out := &statusOutput{}
			out.Body.CaseNumber, out.Body.Status, out.Body.LastUpdated = c.CaseNumber, status(c.Status), c.UpdatedAt
			return out, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "get-case", Method: http.MethodGet, Path: "/api/v1/cases/{id}",
		Summary: "A case with its timeline", Tags: tags}, read,
		func(ctx context.Context, in *idInput) (*struct{ Body caseDetail }, error) {
			c, tl, err := s.get(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			d := caseDetail{caseBody: toBody(c), Timeline: make([]entryBody, 0, len(tl))}
			for _, e := range tl {
				d.Timeline = append(d.Timeline, entryBody{status(e.From), status(e.To), e.Reason, e.EventID, e.Note, e.At})
			}
			return &struct{ Body caseDetail }{d}, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "list-cases", Method: http.MethodGet, Path: "/api/v1/cases",
		Summary: "A patient's cases, newest first", Tags: tags}, own,
		func(ctx context.Context, in *listInput) (*listOutput, error) {
			cs, next, err := s.list(ctx, authn.FromContext(ctx), in.CustomerID, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			out := &listOutput{}
			out.Body.Items, out.Body.NextCursor = make([]caseBody, 0, len(cs)), next
			for _, c := range cs {
				out.Body.Items = append(out.Body.Items, toBody(c))
			}
			return out, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "submit-case", Method: http.MethodPost, Path: "/api/v1/cases/{id}/submit",
		Summary: "Submit a draft case", Tags: tags}, own,
		func(ctx context.Context, in *idInput) (*caseOutput, error) {
			c, err := s.submit(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &caseOutput{toBody(c)}, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "cancel-case", Method: http.MethodPost, Path: "/api/v1/cases/{id}/cancel",
		Summary: "Cancel an open case", Tags: tags}, own,
		func(ctx context.Context, in *cancelInput) (*caseOutput, error) {
			var reason string
			if in.Body != nil {
				reason = in.Body.Reason
			}
			c, err := s.cancel(ctx, authn.FromContext(ctx), in.ID, reason)
			if err != nil {
				return nil, err
			}
			return &caseOutput{toBody(c)}, nil
		})
}
