package search

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/platform/search/domain"
	"github.com/secondopinion/platform/internal/services/platform/search/store"
)

// maxQuery bounds a query's text, in bytes.
const maxQuery = 200

// request is a search as the route received it.
type request struct {
	Q         string
	Status    vocab.CaseStatus
	Specialty vocab.Specialty
	Urgency   vocab.Urgency
	From, To  time.Time
	Cursor    string
	Limit     int
}

// viewerOf is who as a viewer of cases: patients, professionals and
// admins search; any other caller (a service) is refused.
func viewerOf(who authn.Principal) (domain.Viewer, error) {
	switch {
	case authz.IsAdmin(who):
		return domain.Viewer{Role: domain.Admin, ID: who.Subject}, nil
	case who.Role == authn.RolePatient && who.Subject != "":
		return domain.Viewer{Role: domain.Patient, ID: who.Subject}, nil
	case who.Role == authn.RoleProfessional && who.Subject != "":
		return domain.Viewer{Role: domain.Professional, ID: who.Subject}, nil
	}
	return domain.Viewer{}, fault.Forbidden("only patients, professionals and admins search cases")
}

// search answers who's search: the page of hits who may see, each with
// what they may see of it, and the next page's cursor. Every hit answered
// in full is recorded in the audit trail before it is answered.
func (s *Service) search(ctx context.Context, who authn.Principal, r request) ([]store.Hit, string, error) {
	v, err := viewerOf(who)
	if err != nil {
		return nil, "", err
	}
	switch {
	case len(r.Q) > maxQuery:
		return nil, "", fault.Invalid("q", "must be at most %d bytes", maxQuery)
	case r.Status != "" && !r.Status.Valid():
		return nil, "", fault.Invalid("status", "is not a case status")
	case r.Specialty != "" && !r.Specialty.Valid():
		return nil, "", fault.Invalid("specialty", "is not a specialty")
	case r.Urgency != "" && !r.Urgency.Valid():
		return nil, "", fault.Invalid("urgency", "is not an urgency")
	case !r.From.IsZero() && !r.To.IsZero() && !r.From.Before(r.To):
		return nil, "", fault.Invalid("to", "must be after from")
	}
	after, err := store.DecodeCursor(r.Cursor)
	if err != nil {
		return nil, "", err
	}
	hits, next, err := s.store.Search(ctx, store.Query{Viewer: v, Terms: domain.Terms(r.Q), Status: r.Status,
		Specialty: r.Specialty, Urgency: r.Urgency, From: r.From, To: r.To, After: after, Limit: r.Limit})
	if err != nil {
		return nil, "", err
	}
	hits = s.admit(ctx, v, hits)
	if err := s.audit(ctx, who, hits); err != nil {
		return nil, "", err
	}
	return hits, next, nil
}

// admit holds each hit to domain.Access, whatever the store answered: a
// hit the viewer may not see is dropped, and one they may see only
// de-identified loses its title and snippet. Access is only ever lowered.
func (s *Service) admit(ctx context.Context, v domain.Viewer, hits []store.Hit) []store.Hit {
	out := hits[:0]
	for _, h := range hits {
		access := min(h.Access, v.Access(h.Case))
		switch access {
		case domain.None:
			s.Log.ErrorContext(ctx, "the index answered a case its viewer may not see", "caseId", h.ID)
			continue
		case domain.DeIdentified:
			h.Title, h.Snippet = "", ""
		}
		h.Access = access
		out = append(out, h)
	}
	return out
}

// audit records, in one transaction, an entry for each hit answered in
// full: the case and its patient, so that the patient's access log shows
// the search. Its error is the 503 that keeps the answer from being
// served unrecorded.
func (s *Service) audit(ctx context.Context, who authn.Principal, hits []store.Hit) error {
	purpose := authz.Purpose(who)
	if who.Role == authn.RoleProfessional {
		purpose = "assigned second opinion"
	}
	var evs []bus.Event
	for _, h := range hits {
		if h.Access != domain.Full {
			continue
		}
		e := kitaudit.FromContext(ctx)
		e.Action, e.ResourceType, e.ResourceID, e.PatientID = "case.search", "case", h.ID, h.PatientID
		e.Purpose, e.Outcome, e.At = purpose, kitaudit.Allowed, s.now()
		ev, err := kitaudit.Recorded.New(Name, h.ID, e)
		if err != nil {
			return err
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return nil
	}
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error { return outbox.Add(ctx, tx, evs...) })
	if err != nil {
		return fault.Unavailable("the audit trail", fmt.Errorf("record searches: %w", err))
	}
	s.Relay.Notify()
	return nil
}
