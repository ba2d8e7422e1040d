package casemanagement

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
	"github.com/secondopinion/platform/internal/services/patient/case-management/domain"
	"github.com/secondopinion/platform/internal/services/patient/case-management/store"
)

// Case is a case as its patient, an admin and its professional see it.
type Case struct {
	ID         string           `json:"id" format:"uuid"`
	CaseNumber string           `json:"caseNumber" example:"EU-2026-7KQ2ZD"`
	CustomerID string           `json:"customerId" format:"uuid"`
	Specialty  vocab.Specialty  `json:"specialty"`
	Urgency    vocab.Urgency    `json:"urgency"`
	Title      string           `json:"title"`
	Question   string           `json:"question"`
	Status     vocab.CaseStatus `json:"status"`
	Language   string           `json:"language" example:"en"`
	// ProfessionalID is absent while the case is not assigned.
	ProfessionalID string    `json:"professionalId,omitempty" format:"uuid" doc:"the professional the case is assigned to"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

func toCase(c store.Case) Case {
	return Case{c.ID, c.CaseNumber, c.CustomerID, vocab.Specialty(c.Specialty), vocab.Urgency(c.Urgency),
		c.Title, c.Question, vocab.CaseStatus(c.Status), c.Language, c.ProfessionalID, c.CreatedAt, c.UpdatedAt}
}

// TimelineEntry is one step of a case's history.
type TimelineEntry struct {
	From    vocab.CaseStatus `json:"from,omitempty" doc:"absent on the creation"`
	To      vocab.CaseStatus `json:"to"`
	Trigger string           `json:"trigger" doc:"create, submit, cancel or the event type that moved the case"`
	EventID string           `json:"eventId,omitempty" format:"uuid"`
	Note    string           `json:"note,omitempty" doc:"the patient's reason for a cancel"`
	At      time.Time        `json:"at"`
}

// CaseWithTimeline is a case and its history.
type CaseWithTimeline struct {
	Case
	Timeline []TimelineEntry `json:"timeline"`
}

func toCaseWithTimeline(c store.Case, tl []store.Entry) CaseWithTimeline {
	d := CaseWithTimeline{Case: toCase(c), Timeline: make([]TimelineEntry, 0, len(tl))}
	for _, e := range tl {
		d.Timeline = append(d.Timeline, TimelineEntry{vocab.CaseStatus(e.From), vocab.CaseStatus(e.To), e.Reason, e.EventID, e.Note, e.At})
	}
	return d
}

// NewCase is what a patient sends to open a case.
type NewCase struct {
	CustomerID string          `json:"customerId" format:"uuid" doc:"the patient the case is for"`
	Specialty  vocab.Specialty `json:"specialty"`
	Title      string          `json:"title" doc:"3 to 200 characters"`
	Question   string          `json:"question" doc:"10 to 5000 characters"`
	Urgency    vocab.Urgency   `json:"urgency,omitempty" doc:"default STANDARD"`
	Language   string          `json:"language,omitempty" doc:"ISO 639-1 language of the consultation, default en" example:"en"`
}

// CaseProgress is the plan's status answer: where a case stands.
type CaseProgress struct {
	CaseNumber  string           `json:"caseNumber"`
	Status      vocab.CaseStatus `json:"status"`
	LastUpdated time.Time        `json:"lastUpdated"`
}

// Submission is how a patient submits, optional.
type Submission struct {
	ConfirmIncomplete bool `json:"confirmIncomplete,omitempty" doc:"the patient has no more of the records the specialty's checklist names (GET /api/v1/cases/{id}/checklist): submit without them"`
}

// Cancellation is a patient's reason for cancelling, optional.
type Cancellation struct {
	Reason string `json:"reason,omitempty" maxLength:"500"`
}

type (
	caseOutput    struct{ Body Case }
	caseInput     struct{ Body NewCase }
	createdOutput struct {
		Location string `header:"Location"`
		Body     Case
	}
	idInput struct {
		ID string `path:"id" format:"uuid"`
	}
	statusInput struct {
		CaseNumber string `path:"caseNumber" example:"EU-2026-7KQ2ZD"`
	}
	statusOutput   struct{ Body CaseProgress }
	timelineOutput struct{ Body CaseWithTimeline }
	listInput      struct {
		CustomerID string `query:"customerId" format:"uuid" doc:"the patient whose cases to list; a patient's own by default, required for an admin"`
		Cursor     string `query:"cursor" doc:"nextCursor of the previous page"`
		Limit      int    `query:"limit" default:"20" minimum:"1" maximum:"100"`
	}
	listOutput  struct{ Body page.Page[Case] }
	submitInput struct {
		ID   string `path:"id" format:"uuid"`
		Body *Submission
	}
	cancelInput struct {
		ID   string `path:"id" format:"uuid"`
		Body *Cancellation
	}
)

func (s *Service) routes(api huma.API) {
	httpapi.Enum[vocab.Specialty](api)
	httpapi.Enum[vocab.Urgency](api)
	httpapi.Enum[vocab.CaseStatus](api)
	tags := []string{"Cases"}
	// Every case operation is a patient's on their own cases, or an admin's.
	own := authz.Roles(authn.RolePatient, authn.RoleAdmin).Owned()
	// Reads also admit the professional a case is assigned to.
	read := authz.Roles(authn.RolePatient, authn.RoleProfessional, authn.RoleAdmin).Owned()
	httpapi.Register(api, huma.Operation{OperationID: "create-case", Method: http.MethodPost, Path: "/api/v1/cases",
		Summary: "Open a case", Tags: tags, DefaultStatus: http.StatusCreated}, own,
		func(ctx context.Context, in *caseInput) (*createdOutput, error) {
			b := in.Body
			c, err := s.open(ctx, authn.FromContext(ctx), domain.NewCase{CustomerID: b.CustomerID, Specialty: string(b.Specialty),
				Title: b.Title, Question: b.Question, Urgency: string(b.Urgency), Language: b.Language})
			if err != nil {
				return nil, err
			}
			return &createdOutput{Location: "/api/v1/cases/" + c.ID, Body: toCase(c)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-case-status", Method: http.MethodGet, Path: "/api/v1/cases/{caseNumber}/status",
		Summary: "Status of a case by its number", Tags: tags}, read,
		func(ctx context.Context, in *statusInput) (*statusOutput, error) {
			c, err := s.byNumber(ctx, authn.FromContext(ctx), in.CaseNumber)
			if err != nil {
				return nil, err
			}
			return &statusOutput{CaseProgress{c.CaseNumber, vocab.CaseStatus(c.Status), c.UpdatedAt}}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "get-case", Method: http.MethodGet, Path: "/api/v1/cases/{id}",
		Summary: "A case with its timeline", Tags: tags}, read,
		func(ctx context.Context, in *idInput) (*timelineOutput, error) {
			c, tl, err := s.get(ctx, authn.FromContext(ctx), in.ID)
			if err != nil {
				return nil, err
			}
			return &timelineOutput{toCaseWithTimeline(c, tl)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "list-cases", Method: http.MethodGet, Path: "/api/v1/cases",
		Summary: "A patient's cases, newest first", Tags: tags}, own,
		func(ctx context.Context, in *listInput) (*listOutput, error) {
			cs, next, err := s.list(ctx, authn.FromContext(ctx), in.CustomerID, in.Cursor, in.Limit)
			if err != nil {
				return nil, err
			}
			return &listOutput{page.Of(cs, next, toCase)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "submit-case", Method: http.MethodPost, Path: "/api/v1/cases/{id}/submit",
		Summary: "Submit a draft case", Tags: tags, Errors: []int{http.StatusConflict},
		Description: "A case lacking records its specialty's checklist names is refused (409 \"Records missing\", " +
			"naming them) unless confirmIncomplete is true."}, own,
		func(ctx context.Context, in *submitInput) (*caseOutput, error) {
			c, err := s.submit(ctx, authn.FromContext(ctx), in.ID, in.Body != nil && in.Body.ConfirmIncomplete)
			if err != nil {
				return nil, err
			}
			return &caseOutput{toCase(c)}, nil
		})
	httpapi.Register(api, huma.Operation{OperationID: "cancel-case", Method: http.MethodPost, Path: "/api/v1/cases/{id}/cancel",
		Summary: "Cancel an open case", Tags: tags, Errors: []int{http.StatusConflict}}, own,
		func(ctx context.Context, in *cancelInput) (*caseOutput, error) {
			var reason string
			if in.Body != nil {
				reason = in.Body.Reason
			}
			c, err := s.cancel(ctx, authn.FromContext(ctx), in.ID, reason)
			if err != nil {
				return nil, err
			}
			return &caseOutput{toCase(c)}, nil
		})
}
