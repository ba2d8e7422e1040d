package search

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
	"github.com/secondopinion/platform/internal/services/platform/search/domain"
	"github.com/secondopinion/platform/internal/services/platform/search/store"
)

// CaseAccess is what the caller sees of a case found: FULL (its title and
// a snippet of its text) or DEIDENTIFIED (its codes only: a case in the
// pool, to a professional).
type CaseAccess string

const (
	AccessFull         CaseAccess = "FULL"
	AccessDeIdentified CaseAccess = "DEIDENTIFIED"
)

func (CaseAccess) Values() []string { return []string{string(AccessFull), string(AccessDeIdentified)} }

// CaseHit is a case found by a search.
type CaseHit struct {
	ID         string           `json:"id" format:"uuid"`
	CaseNumber string           `json:"caseNumber" example:"EU-2026-7KQ2ZD"`
	Status     vocab.CaseStatus `json:"status"`
	Specialty  vocab.Specialty  `json:"specialty,omitempty" doc:"absent until the case is submitted"`
	Urgency    vocab.Urgency    `json:"urgency,omitempty" doc:"absent until the case is submitted"`
	Language   vocab.Language   `json:"language,omitempty" doc:"known once the case entered the pool"`
	AgeBand    vocab.AgeBand    `json:"ageBand,omitempty" doc:"the patient's age band, known once the case entered the pool"`
	CreatedAt  time.Time        `json:"createdAt"`
	UpdatedAt  time.Time        `json:"updatedAt"`
	Access     CaseAccess       `json:"access"`
	Title      string           `json:"title,omitempty" doc:"FULL access only; plain text"`
	Snippet    string           `json:"snippet,omitempty" doc:"FULL access with a query only: HTML, the case's text escaped with the matches in <mark> elements"`
	Score      float64          `json:"score" doc:"relevance, higher first; 0 without a query"`
}

type searchInput struct {
	Q         string           `query:"q" maxLength:"200" doc:"words to find, all of them; none lists the cases the caller may see"`
	Status    vocab.CaseStatus `query:"status" doc:"only cases in this status"`
	Specialty vocab.Specialty  `query:"specialty" doc:"only cases of this specialty"`
	Urgency   vocab.Urgency    `query:"urgency" doc:"only cases of this urgency"`
	From      time.Time        `query:"from" doc:"only cases created at or after this time"`
	To        time.Time        `query:"to" doc:"only cases created before this time"`
	Cursor    string           `query:"cursor" doc:"nextCursor of the previous page"`
	Limit     int              `query:"limit" default:"20" minimum:"1" maximum:"100"`
}

type searchOutput struct{ Body page.Page[CaseHit] }

func (s *Service) routes(api huma.API) {
	httpapi.Enum[vocab.CaseStatus](api)
	httpapi.Enum[vocab.Specialty](api)
	httpapi.Enum[vocab.Urgency](api)
	httpapi.Enum[CaseAccess](api)
	httpapi.Register(api, huma.Operation{OperationID: "search-cases", Method: http.MethodGet, Path: "/api/v1/search/cases",
		Summary: "Search the cases one may see: a patient their own, a professional those assigned to them and the de-identified pool, an admin all; ranked, with highlighted snippets",
		Tags:    []string{"Search"}}, authz.Roles(authn.RolePatient, authn.RoleProfessional, authn.RoleAdmin),
		func(ctx context.Context, in *searchInput) (*searchOutput, error) {
			hits, next, err := s.search(ctx, authn.FromContext(ctx), request{Q: in.Q, Status: in.Status, Specialty: in.Specialty,
				Urgency: in.Urgency, From: in.From, To: in.To, Cursor: in.Cursor, Limit: in.Limit})
			if err != nil {
				return nil, err
			}
			return &searchOutput{page.Of(hits, next, toHit)}, nil
		})
}

func toHit(h store.Hit) CaseHit {
	out := CaseHit{ID: h.ID, CaseNumber: h.Number, Status: h.Status, Specialty: vocab.Specialty(h.Specialty),
		Urgency: vocab.Urgency(h.Urgency), Language: vocab.Language(h.Language), AgeBand: vocab.AgeBand(h.AgeBand),
		CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt, Access: AccessDeIdentified, Score: h.Score}
	if h.Access == domain.Full {
		out.Access, out.Title = AccessFull, h.Title
		if h.Snippet != "" {
			out.Snippet = domain.Highlight(h.Snippet)
		}
	}
	return out
}
