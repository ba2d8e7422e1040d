package caseassignment

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
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/store"
)

// AssignmentStatus is where an assignment stands: ACTIVE until the opinion
// is submitted (DELIVERED), it is given back (RELEASED), its deadline
// passes (EXPIRED) or its case is cancelled, completed or erased (CLOSED).
// An erased case's assignments keep their ids, status and times, without
// the case number.
type AssignmentStatus string

func (AssignmentStatus) Values() []string {
	return []string{store.Active, store.Delivered, store.Released, store.Expired, store.Ended}
}

// PoolCase is the de-identified summary of an open case a professional
// sees before a claim: no name, contact, date of birth, title or question,
// nor the patient's id the pool keeps.
type PoolCase struct {
	CaseID        string          `json:"caseId" format:"uuid"`
	CaseNumber    string          `json:"caseNumber" example:"EU-2026-7KQ2ZD"`
	Specialty     vocab.Specialty `json:"specialty"`
	Urgency       vocab.Urgency   `json:"urgency"`
	Language      vocab.Language  `json:"language" example:"en" doc:"ISO 639-1"`
	AgeBand       vocab.AgeBand   `json:"ageBand" example:"30-39"`
	RequiredLevel vocab.Level     `json:"requiredLevel"`
	WaitingSince  time.Time       `json:"waitingSince" doc:"when the case entered the pool this time"`
	DeadlineHours int             `json:"deadlineHours" doc:"hours the claimant will have to deliver the opinion"`
}

func (s *Service) toPoolCase(e store.Entry) PoolCase {
	return PoolCase{e.CaseID, e.CaseNumber, e.Specialty, e.Urgency, e.Language, e.AgeBand,
		e.RequiredLevel, e.OpenedAt, int(s.rules.DeadlineFor(e.Urgency) / time.Hour)}
}

// Assignment is a professional's claim of a case, with its deadline.
type Assignment struct {
	ID             string           `json:"id" format:"uuid"`
	CaseID         string           `json:"caseId" format:"uuid"`
	CaseNumber     string           `json:"caseNumber"`
	ProfessionalID string           `json:"professionalId" format:"uuid"`
	Status         AssignmentStatus `json:"status"`
	ClaimedAt      time.Time        `json:"claimedAt"`
	Deadline       time.Time        `json:"deadline"`
	EndedAt        *time.Time       `json:"endedAt,omitempty" doc:"when it was released, expired or closed"`
}

func toAssignment(a store.Assignment) Assignment {
	b := Assignment{a.ID, a.CaseID, a.CaseNumber, a.ProfessionalID, AssignmentStatus(a.Status), a.ClaimedAt, a.Deadline, nil}
	if !a.EndedAt.IsZero() {
		b.EndedAt = &a.EndedAt
	}
	return b
}

type (
	availableInput struct {
		ProfessionalID string `path:"professionalId" format:"uuid"`
		Cursor         string `query:"cursor" doc:"nextCursor of the previous page"`
		Limit          int    `query:"limit" default:"20" minimum:"1" maximum:"100"`
	}
	availableOutput struct{ Body page.Page[PoolCase] }
	caseInput       struct {
		CaseID string `path:"caseId" format:"uuid"`
	}
	assignmentInput struct {
		AssignmentID string `path:"assignmentId" format:"uuid"`
	}
	assignmentOutput struct{ Body Assignment }
	listInput        struct {
		ProfessionalID string `query:"professionalId" format:"uuid" doc:"an admin's filter; a professional always gets their own"`
		Cursor         string `query:"cursor" doc:"nextCursor of the previous page"`
		Limit          int    `query:"limit" default:"20" minimum:"1" maximum:"100"`
	}
	listOutput struct{ Body page.Page[Assignment] }
)

func (s *Service) routes(api huma.API) {
	httpapi.Enum[vocab.Specialty](api)
	httpapi.Enum[vocab.Urgency](api)
	httpapi.Enum[vocab.Level](api)
	httpapi.Enum[vocab.AgeBand](api)
	httpapi.Enum[AssignmentStatus](api)
	tags := []string{"Assignments"}
	// Professionals reach their own pool view and assignments; admins all.
	own := authz.Roles(authn.RoleProfessional, authn.RoleAdmin).Owned()
	httpapi.Register(api, huma.Operation{OperationID: "list-available-cases", Method: http.MethodGet,
		Path: "/api/v1/assignments/available/{professionalId}", Tags: tags,
		Summary: "Open cases a professional may claim now, oldest first (de-identified summaries)"}, own,
		func(ctx context.Context, in *availableInput) (*availableOutput, error) {
			es, next, err := s.available(ctx, authn.FromContext(ctx), in.ProfessionalID, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			return &availableOutput{page.Of(es, next, s.toPoolCase)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "claim-case", Method: http.MethodPost,
		Path: "/api/v1/assignments/claim/{caseId}", Tags: tags, DefaultStatus: http.StatusCreated,
		Summary:     "Claim a case: the first claim wins",
		Description: "Exactly one concurrent claim wins; the others get 409 \"" + titleClaimed + "\". A professional who does not match the case gets 403.",
		Errors:      []int{http.StatusConflict}},
		authz.Roles(authn.RoleProfessional),
		func(ctx context.Context, in *caseInput) (*assignmentOutput, error) {
			a, err := s.claim(ctx, authn.FromContext(ctx), in.CaseID)
			if err != nil {
				return nil, err
			}
			return &assignmentOutput{toAssignment(a)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "release-assignment", Method: http.MethodPost,
		Path: "/api/v1/assignments/release/{assignmentId}", Tags: tags,
		Summary: "Give an active assignment back to the pool", Errors: []int{http.StatusConflict}}, own,
		func(ctx context.Context, in *assignmentInput) (*assignmentOutput, error) {
			a, err := s.release(ctx, authn.FromContext(ctx), in.AssignmentID)
			if err != nil {
				return nil, err
			}
			return &assignmentOutput{toAssignment(a)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "list-assignments", Method: http.MethodGet,
		Path: "/api/v1/assignments", Tags: tags,
		Summary: "Assignments, newest claim first: a professional's own, or all for an admin"}, own,
		func(ctx context.Context, in *listInput) (*listOutput, error) {
			as, next, err := s.list(ctx, authn.FromContext(ctx), in.ProfessionalID, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			return &listOutput{page.Of(as, next, toAssignment)}, nil
		})
}
