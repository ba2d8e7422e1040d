package caseassignment

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/domain"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/store"
)

// The application functions below take the verified caller (who). The
// coarse policy (httpapi.Register) has admitted who's role by then; here a
// professional reaches only their own pool view and assignments, an admin
// all. The pool holds de-identified summaries only, so a professional's
// reads are not audited; an admin's reads and actions are.

// titleClaimed is the stable title of a lost claim (the plan's wording).
const titleClaimed = "Case already claimed"

func errClaimed() error {
	return fault.Conflict(titleClaimed, "another professional claimed this case first")
}

// claim takes case caseID for the calling professional, if they match it.
// The database decides between concurrent claims (store.Claim); what is
// read before only decides whether the caller may try.
func (s *Service) claim(ctx context.Context, who authn.Principal, caseID string) (store.Assignment, error) {
	e, excluded, err := s.store.EntryFor(ctx, caseID, who.Subject)
	if err != nil {
		return store.Assignment{}, err
	}
	// A held case is answered as one not in the pool: that its patient
	// withdrew or never gave their consent is not the claimant's to know.
	if e.Status == store.Closed || e.Held() {
		return store.Assignment{}, fault.NotFound("case")
	}
	p, err := s.store.Professional(ctx, who.Subject)
	if err != nil {
		return store.Assignment{}, err
	}
	now := s.now()
	if why := s.rules.Match(p, e.Match(), now); why != domain.Match {
		return store.Assignment{}, fault.Forbidden(string(why))
	}
	if excluded {
		return store.Assignment{}, errExcluded()
	}
	// A case already taken loses here without a write transaction; the
	// conditional update below still decides every race.
	if e.Status != store.Open {
		return store.Assignment{}, errClaimed()
	}
	deadline := s.rules.Deadline(e.Urgency, now)
	// Reminders is never empty, so there is always a first one.
	remindAt, _ := domain.NextReminder(now, deadline, 0)
	a, err := s.store.Claim(ctx, store.Claim{AssignmentID: uuid.NewString(), CaseID: caseID, ProfessionalID: who.Subject,
		Stay: e.Stay, At: now, Deadline: deadline, RemindAt: remindAt}, assignedEvents)
	switch {
	case errors.Is(err, store.ErrTaken):
		return store.Assignment{}, errClaimed()
	case errors.Is(err, store.ErrExcluded):
		return store.Assignment{}, errExcluded()
	case err != nil:
		return store.Assignment{}, busy(err)
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "case claimed", "caseId", caseID, "assignmentId", a.ID, "actor", who.Subject)
	return a, nil
}

func errExcluded() error {
	return fault.Forbidden("your assignment of this case expired: it goes to another professional")
}

// release gives an ACTIVE assignment back to the pool: its assignee's or
// an admin's act; anyone else gets the 404 of a missing assignment.
func (s *Service) release(ctx context.Context, who authn.Principal, id string) (store.Assignment, error) {
	a, err := s.store.Assignment(ctx, id)
	if err != nil {
		return store.Assignment{}, err
	}
	if !authz.IsAdmin(who) && who.Subject != a.ProfessionalID {
		return store.Assignment{}, fault.NotFound("assignment")
	}
	if err := s.auditAdmin(ctx, who, "assignment.release", "assignment", id); err != nil {
		return store.Assignment{}, err
	}
	a, err = s.store.Release(ctx, id, s.now(), endedEvents(events.AssignmentReleasedV1))
	if errors.Is(err, store.ErrNotActive) {
		return store.Assignment{}, fault.Conflict("Assignment not active", "only an active assignment can be released")
	}
	if err != nil {
		return store.Assignment{}, busy(err)
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "assignment released", "caseId", a.CaseID, "assignmentId", a.ID, "actor", who.Subject)
	return a, nil
}

// availableBatch is how many open entries are read per query while
// filtering a page of matches.
const availableBatch = 200

// available lists the open cases professionalID may claim now, oldest
// first, never a held one: the professional themself or an admin.
func (s *Service) available(ctx context.Context, who authn.Principal, professionalID, cursor string, limit int) ([]store.Entry, string, error) {
	if !authz.IsAdmin(who) && who.Subject != professionalID {
		return nil, "", fault.NotFound("professional")
	}
	after, err := page.Decode(cursor)
	if err != nil {
		return nil, "", err
	}
	if err := s.auditAdmin(ctx, who, "assignment.available.read", "professional", professionalID); err != nil {
		return nil, "", err
	}
	p, err := s.store.Professional(ctx, professionalID)
	if err != nil || p.Status != domain.Verified {
		return nil, "", err
	}
	now := s.now()
	var out []store.Entry
	for {
		batch, err := s.store.OpenEntries(ctx, professionalID, after, availableBatch)
		if err != nil {
			return nil, "", err
		}
		for _, e := range batch {
			if s.rules.Match(p, e.Match(), now) != domain.Match {
				continue
			}
			if len(out) == limit {
				last := out[limit-1]
				return out, page.Cursor{Time: last.OpenedAt, ID: last.CaseID}.Encode(), nil
			}
			out = append(out, e)
		}
		if len(batch) < availableBatch {
			return out, "", nil
		}
		last := batch[len(batch)-1]
		after = page.Cursor{Time: last.OpenedAt, ID: last.CaseID}
	}
}

// list pages through assignments, newest first: a professional's own, or
// for an admin everyone's (or one professional's).
func (s *Service) list(ctx context.Context, who authn.Principal, professionalID, cursor string, limit int) ([]store.Assignment, string, error) {
	if !authz.IsAdmin(who) {
		if professionalID != "" && professionalID != who.Subject {
			return nil, "", fault.NotFound("professional")
		}
		professionalID = who.Subject
	}
	after, err := page.Decode(cursor)
	if err != nil {
		return nil, "", err
	}
	if err := s.auditAdmin(ctx, who, "assignment.list", "professional", professionalID); err != nil {
		return nil, "", err
	}
	return s.store.List(ctx, professionalID, after, limit)
}

// auditAdmin records an admin's read or action in the audit trail; other
// callers reach only their own de-identified pool data, which is not
// audited. Its error is the 503 that keeps the access from happening
// unrecorded.
func (s *Service) auditAdmin(ctx context.Context, who authn.Principal, action, resourceType, resourceID string) error {
	if !authz.IsAdmin(who) {
		return nil
	}
	e := kitaudit.FromContext(ctx)
	e.Action, e.ResourceType, e.ResourceID = action, resourceType, resourceID
	e.Purpose, e.Outcome = authz.Purpose(who), kitaudit.Allowed
	return s.Record(ctx, e)
}

// busy answers a store that could not take a write in time (SQLite's lock
// wait ran out, PostgreSQL's connections were exhausted) as 503 with
// Retry-After rather than 500: the caller may simply try again.
func busy(err error) error {
	if _, ok := fault.As(err); ok || !store.IsBusy(err) {
		return err
	}
	return &fault.Error{Kind: fault.KindUnavailable, Title: "Service unavailable", Detail: "the pool is busy; try again",
		Err: err, RetryAfter: time.Second}
}
