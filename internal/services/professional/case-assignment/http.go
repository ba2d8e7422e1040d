package caseassignment

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	casesdomain "github.com/secondopinion/platform/internal/services/patient/case-management/domain"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/domain"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/store"
)

// Vocabulary types publish their values as enums in the OpenAPI document
// from the domain's lists, so the two cannot drift.
type (
	specialty        string
	urgency          string
	level            string
	assignmentStatus string
)

func enum(values ...string) *huma.Schema {
	s := &huma.Schema{Type: huma.TypeString}
	for _, v := range values {
		s.Enum = append(s.Enum, v)
	}
	return s
}

func (specialty) Schema(huma.Registry) *huma.Schema { return enum(casesdomain.Specialties...) }
func (urgency) Schema(huma.Registry) *huma.Schema   { return enum(casesdomain.Urgencies...) }
func (level) Schema(huma.Registry) *huma.Schema {
	var names []string
	for _, l := range domain.Levels {
		names = append(names, string(l))
	}
	return enum(names...)
}
func (assignmentStatus) Schema(huma.Registry) *huma.Schema {
	return enum(store.Active, store.Delivered, store.Released, store.Expired, store.Ended)
}

// summaryBody is the de-identified summary a professional sees before a
// claim: no name, contact, date of birth, title or question.
type summaryBody struct {
	CaseID        string    `json:"caseId" format:"uuid"`
	CaseNumber    string    `json:"caseNumber" example:"EU-2026-7KQ2ZD"`
	Specialty     specialty `json:"specialty"`
	Urgency       urgency   `json:"urgency"`
	Language      string    `json:"language" example:"en" doc:"ISO 639-1"`
	AgeBand       string    `json:"ageBand" example:"30-39"`
	RequiredLevel level     `json:"requiredLevel"`
	WaitingSince  time.Time `json:"waitingSince" doc:"when the case entered the pool this time"`
	DeadlineHours int       `json:"deadlineHours" doc:"hours the claimant will have to deliver the opinion"`
}

func (s *Service) toSummary(e store.Entry) summaryBody {
	return summaryBody{e.CaseID, e.CaseNumber, specialty(e.Specialty), urgency(e.Urgency), e.Language, e.AgeBand,
		level(e.RequiredLevel), e.OpenedAt, int(s.cfg.Rules.DeadlineFor(e.Urgency) / time.Hour)}
}

type assignmentBody struct {
	ID             string           `json:"id" format:"uuid"`
	CaseID         string           `json:"caseId" format:"uuid"`
	CaseNumber     string           `json:"caseNumber"`
	ProfessionalID string           `json:"professionalId" format:"uuid"`
	Status         assignmentStatus `json:"status"`
	ClaimedAt      time.Time        `json:"claimedAt"`
	Deadline       time.Time        `json:"deadline"`
	EndedAt        *time.Time       `json:"endedAt,omitempty" doc:"when it was released, expired or closed"`
}

func toBody(a store.Assignment) assignmentBody {
	b := assignmentBody{a.ID, a.CaseID, a.CaseNumber, a.ProfessionalID, assignmentStatus(a.Status), a.ClaimedAt, a.Deadline, nil}
	if !a.EndedAt.IsZero() {
		b.EndedAt = &a.EndedAt
	}
	return b
}

type availableInput struct {
	ProfessionalID string `path:"professionalId" format:"uuid"`
	Cursor         string `query:"cursor" doc:"nextCursor of the previous page"`
	Limit          int    `query:"limit" default:"20" minimum:"1" maximum:"100"`
}

type availableOutput struct {
	Body struct {
		Items      []summaryBody `json:"items"`
		NextCursor string        `json:"nextCursor,omitempty" doc:"absent on the last page"`
	}
}

type caseInput struct {
	CaseID string `path:"caseId" format:"uuid"`
}

type assignmentInput struct {
	AssignmentID string `path:"assignmentId" format:"uuid"`
}

type assignmentOutput struct {
	Body assignmentBody
}

type listInput struct {
	ProfessionalID string `query:"professionalId" format:"uuid" doc:"an admin's filter; a professional always gets their own"`
	Cursor         string `query:"cursor" doc:"nextCursor of the previous page"`
	Limit          int    `query:"limit" default:"20" minimum:"1" maximum:"100"`
}

type listOutput struct {
	Body struct {
		Items      []assignmentBody `json:"items"`
		NextCursor string           `json:"nextCursor,omitempty" doc:"absent on the last page"`
	}
}

func (s *Service) routes() {
	tags := []string{"Assignments"}
	// Professionals reach their own pool view and assignments; admins all.
	own := authz.Roles(authn.RoleProfessional, authn.RoleAdmin).Owned()
	authz.Register(s.api, huma.Operation{OperationID: "list-available-cases", Method: http.MethodGet,
		Path: "/api/v1/assignments/available/{professionalId}", Tags: tags,
		Summary: "Open cases a professional may claim now, oldest first (de-identified summaries)"}, own,
		func(ctx context.Context, in *availableInput) (*availableOutput, error) {
			es, next, err := s.available(ctx, authn.FromContext(ctx), in.ProfessionalID, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			out := &availableOutput{}
			out.Body.Items, out.Body.NextCursor = make([]summaryBody, 0, len(es)), next
			for _, e := range es {
				out.Body.Items = append(out.Body.Items, s.toSummary(e))
			}
			return out, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "claim-case", Method: http.MethodPost,
		Path: "/api/v1/assignments/claim/{caseId}", Tags: tags, DefaultStatus: http.StatusCreated,
		Summary:     "Claim a case: the first claim wins",
		Description: "Exactly one concurrent claim wins; the others get 409 \"" + titleClaimed + "\". A professional who does not match the case gets 403."},
		authz.Roles(authn.RoleProfessional),
		func(ctx context.Context, in *caseInput) (*assignmentOutput, error) {
			a, err := s.claim(ctx, authn.FromContext(ctx), in.CaseID)
			if err != nil {
				return nil, err
			}
			return &assignmentOutput{toBody(a)}, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "release-assignment", Method: http.MethodPost,
		Path: "/api/v1/assignments/release/{assignmentId}", Tags: tags,
		Summary: "Give an active assignment back to the pool"}, own,
		func(ctx context.Context, in *assignmentInput) (*assignmentOutput, error) {
			a, err := s.release(ctx, authn.FromContext(ctx), in.AssignmentID)
			if err != nil {
				return nil, err
			}
			return &assignmentOutput{toBody(a)}, nil
		})
	authz.Register(s.api, huma.Operation{OperationID: "list-assignments", Method: http.MethodGet,
		Path: "/api/v1/assignments", Tags: tags,
		Summary: "Assignments, newest claim first: a professional's own, or all for an admin"}, own,
		func(ctx context.Context, in *listInput) (*listOutput, error) {
			as, next, err := s.list(ctx, authn.FromContext(ctx), in.ProfessionalID, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			out := &listOutput{}
			out.Body.Items, out.Body.NextCursor = make([]assignmentBody, 0, len(as)), next
			for _, a := range as {
				out.Body.Items = append(out.Body.Items, toBody(a))
			}
			return out, nil
		})
}
