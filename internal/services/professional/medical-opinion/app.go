package medicalopinion

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	casemanagement "github.com/secondopinion/platform/internal/clients/case-management"
	professionalidentity "github.com/secondopinion/platform/internal/clients/professional-identity"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/domain"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/store"
)

// maxStaleRetries bounds how often a change is decided again after a
// concurrent change; each retry reads the newer state.
const maxStaleRetries = 3

// The application functions below take the verified caller (who). The
// coarse policy (httpapi.Register) has admitted who's role by then; here
// the finer rules apply: the assigned professional writes, eligible
// reviewers review, the patient who owns the case reads the approved
// opinion. A refused caller gets the 404 of a missing resource. Every
// read of an opinion and every refused read is in the audit trail, and no
// read is served when its entry cannot be queued.

// view is an opinion as read, with its follow-up questions. forPatient
// hides the review's internals.
type view struct {
	store.Opinion
	Questions  []store.Question
	forPatient bool
}

// retry runs change again while it fails with store.ErrStale.
func retry(change func() error) error {
	for attempt := 1; ; attempt++ {
		err := change()
		if errors.Is(err, store.ErrStale) && attempt < maxStaleRetries {
			continue
		}
		return err
	}
}

// save writes the author's draft of a case's opinion, creating it on the
// first save. A save that changes the review of the AI pre-analysis (the
// decisions that let AI output reach the patient) is in the audit trail,
// queued in the save's transaction so that no such change goes
// unrecorded.
func (s *Service) save(ctx context.Context, who authn.Principal, caseID string, in domain.Content) (view, error) {
	in, err := in.Validate()
	if err != nil {
		return view{}, err
	}
	if err := s.learnAssignment(ctx, who, caseID); err != nil {
		return view{}, err
	}
	var saved store.Opinion
	var reviewed bool
	err = retry(func() error {
		patientID, err := s.reviewPatient(ctx, who, caseID, in.AIFindings)
		if err != nil {
			return err
		}
		return s.DB.InTx(ctx, func(tx *sql.Tx) error {
			a, o, found, err := s.own(ctx, tx, who, caseID)
			if err != nil {
				return err
			}
			if reviewed = !slices.Equal(o.AIFindings, in.AIFindings); reviewed && patientID == "" {
				return fmt.Errorf("AI review of case %s saved meanwhile: %w", caseID, store.ErrStale)
			}
			if found {
				if err := o.Status.Edit(); err != nil {
					return err
				}
				o.Content = in
				saved, err = s.store.Update(ctx, tx, o, s.now())
			} else {
				saved, err = s.store.Insert(ctx, tx, store.Opinion{ID: uuid.NewString(), CaseID: caseID, AssignmentID: a.ID,
					ProfessionalID: who.Subject, Status: domain.Draft, Content: in, CreatedAt: s.now()})
			}
			if err != nil || !reviewed {
				return err
			}
			e, err := kitaudit.Recorded.New(Name, saved.ID, auditEntry(ctx, who, "opinion.ai_review.recorded", saved.ID, patientID, kitaudit.Allowed))
			if err != nil {
				return err
			}
			return outbox.Add(ctx, tx, e)
		})
	})
	if err != nil {
		return view{}, fmt.Errorf("save opinion of case %s: %w", caseID, err)
	}
	if reviewed {
		s.Relay.Notify()
	}
	s.Log.InfoContext(ctx, "opinion saved", "opinionId", saved.ID, "caseId", caseID, "actor", who.Subject, "aiReviewChanged", reviewed)
	return view{Opinion: saved}, nil
}

// reviewPatient names the patient of a case whose draft may change its
// review of the AI pre-analysis, for the change's audit entry: when the
// new draft or the stored one has findings. Only case-management knows
// the patient, and the save's transaction must not wait on it, so it is
// asked first; "" when no change is possible, or when who may not write
// the case's opinion (refused, and costing case-management no call).
func (s *Service) reviewPatient(ctx context.Context, who authn.Principal, caseID string, findings []domain.Finding) (string, error) {
	_, o, _, err := s.own(ctx, s.store.DB(), who, caseID)
	if err != nil || len(findings) == 0 && len(o.AIFindings) == 0 {
		return "", err
	}
	c, err := s.cases.Case(ctx, caseID, "opinion.ai_review")
	if err != nil {
		return "", err
	}
	return c.CustomerID, nil
}

// own returns who's assignment of a case and the opinion written under
// it (found false before the first save), provided who may write it now.
func (s *Service) own(ctx context.Context, q store.Querier, who authn.Principal, caseID string) (domain.Assignment, store.Opinion, bool, error) {
	a, err := s.store.Active(ctx, q, caseID)
	if err != nil {
		return a, store.Opinion{}, false, err
	}
	var o store.Opinion
	found := false
	if a.Active {
		o, err = s.store.ForAssignment(ctx, q, a.ID)
		switch {
		case err == nil:
			found = true
		case fault.KindOf(err) != fault.KindNotFound:
			return a, o, false, err
		}
	}
	if err := domain.MayWrite(a, who.Subject, s.now(), found && !o.SubmittedAt.IsZero()); err != nil {
		return a, o, false, err
	}
	return a, o, found, nil
}

// learnAssignment closes the gap between a claim and its case.assigned
// event: when the projection has no active assignment of the case, it
// asks case-assignment for one and records it as the event's handler
// would, so the assignee's first write need not wait for the event. It
// never asks while the projection knows an active assignment, and only
// for professionals, the only writers. Without an active assignment at
// case-assignment either, the write goes on to its usual 404.
func (s *Service) learnAssignment(ctx context.Context, who authn.Principal, caseID string) error {
	if who.Role != authn.RoleProfessional {
		return nil
	}
	if _, err := uuid.Parse(caseID); err != nil {
		return nil
	}
	if known, err := s.store.Active(ctx, s.store.DB(), caseID); err != nil || known.Active {
		return err
	}
	got, found, err := s.assignments.Active(ctx, caseID)
	if err != nil || !found {
		return err
	}
	a := domain.Assignment{ID: got.ID, CaseID: got.CaseID, ProfessionalID: got.ProfessionalID, Deadline: got.Deadline}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		// An event handled meanwhile wins: it is at least as new as the
		// answer.
		if known, err := s.store.Active(ctx, tx, caseID); err != nil || known.Active {
			return err
		}
		return s.store.Assign(ctx, tx, a, s.now())
	})
	if err != nil {
		return fmt.Errorf("record assignment %s of case %s: %w", a.ID, caseID, err)
	}
	s.Log.InfoContext(ctx, "assignment read through", "caseId", caseID, "assignmentId", a.ID)
	return nil
}

// submit submits the author's draft: for review when the author's level
// requires it, else approved at once.
func (s *Service) submit(ctx context.Context, who authn.Principal, caseID string) (view, error) {
	if err := s.learnAssignment(ctx, who, caseID); err != nil {
		return view{}, err
	}
	// Checked before asking the other peers, so a stranger learns nothing
	// and costs no call to them.
	if _, _, found, err := s.own(ctx, s.store.DB(), who, caseID); err != nil {
		return view{}, err
	} else if !found {
		return view{}, fault.Conflict("No draft", "save a draft of the opinion before submitting it")
	}
	author, err := s.professionals.Professional(ctx, who.Subject)
	if err != nil {
		return view{}, err
	}
	// The case's specialty goes on the opinion, so the review queue
	// finds it by its reviewers' specialties.
	c, err := s.cases.Case(ctx, caseID, "opinion.submit")
	if err != nil {
		return view{}, err
	}
	var out store.Opinion
	err = retry(func() error {
		return s.DB.InTx(ctx, func(tx *sql.Tx) error {
			_, o, found, err := s.own(ctx, tx, who, caseID)
			if err != nil {
				return err
			}
			if !found {
				return fault.Conflict("No draft", "save a draft of the opinion before submitting it")
			}
			to, reviewRequired, err := o.Status.Submit(o.Content, vocab.Level(author.Level))
			if err != nil {
				return err
			}
			o.Status, o.SubmittedAt, o.Specialty = to, s.now(), c.Specialty
			if to == domain.Approved {
				o.ApprovedAt = s.now()
			}
			if out, err = s.store.Update(ctx, tx, o, s.now()); err != nil {
				return err
			}
			evs, err := submittedEvents(out, vocab.Level(author.Level), reviewRequired)
			if err != nil {
				return err
			}
			return outbox.Add(ctx, tx, evs...)
		})
	})
	if err != nil {
		return view{}, fmt.Errorf("submit opinion of case %s: %w", caseID, err)
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "opinion submitted", "opinionId", out.ID, "caseId", caseID, "status", out.Status, "actor", who.Subject)
	return view{Opinion: out}, nil
}

// review applies an eligible reviewer's decision to a submitted opinion.
func (s *Service) review(ctx context.Context, who authn.Principal, id, decision, comments string) (view, error) {
	o, err := s.store.Get(ctx, s.store.DB(), id)
	if err != nil {
		return view{}, err
	}
	c, err := s.cases.Case(ctx, o.CaseID, "opinion.review")
	if err != nil {
		return view{}, err
	}
	if err := s.reviewer(ctx, who, o, c); err != nil {
		if errors.Is(err, domain.ErrOwnOpinion) {
			return view{}, fault.Forbidden(err.Error())
		}
		return view{}, err
	}
	var out store.Opinion
	err = retry(func() error {
		return s.DB.InTx(ctx, func(tx *sql.Tx) error {
			o, err := s.store.Get(ctx, tx, id)
			if err != nil {
				return err
			}
			to, comments, err := o.Status.Review(decision, comments)
			if err != nil {
				return err
			}
			o.Status, o.ReviewerID, o.ReviewComments = to, who.Subject, comments
			if to == domain.Approved {
				o.ApprovedAt = s.now()
			}
			if out, err = s.store.Update(ctx, tx, o, s.now()); err != nil {
				return err
			}
			e, err := reviewedEvent(out)
			if err != nil {
				return err
			}
			return outbox.Add(ctx, tx, e)
		})
	})
	if err != nil {
		return view{}, fmt.Errorf("review opinion %s: %w", id, err)
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "opinion reviewed", "opinionId", id, "status", out.Status, "actor", who.Subject)
	return view{Opinion: out}, nil
}

// reviewer admits who as a reviewer of o on case c: nil, the author's
// domain.ErrOwnOpinion, or the 404 of a missing opinion for any other
// professional the review rule refuses.
func (s *Service) reviewer(ctx context.Context, who authn.Principal, o store.Opinion, c casemanagement.Case) error {
	if who.Role != authn.RoleProfessional {
		return fault.NotFound("opinion")
	}
	if who.Subject == o.ProfessionalID {
		return domain.ErrOwnOpinion
	}
	r, err := s.standing(ctx, who.Subject)
	if err != nil {
		return err
	}
	if err := domain.CanReview(r, o.ProfessionalID, vocab.Specialty(c.Specialty)); err != nil {
		return fault.NotFound("opinion")
	}
	return nil
}

// standing asks professional-identity for a professional's standing as a
// reviewer.
func (s *Service) standing(ctx context.Context, id string) (domain.Reviewer, error) {
	p, err := s.professionals.Professional(ctx, id)
	if err != nil {
		return domain.Reviewer{}, err
	}
	return domain.Reviewer{ID: p.ID, Status: p.Status, Level: vocab.Level(p.Level), Specialties: convert[vocab.Specialty](p.Specialties)}, nil
}

// convert maps a list between string types: a profile's specialties to
// the vocabulary and back to the store's.
func convert[T, F ~string](in []F) []T {
	out := make([]T, len(in))
	for i, v := range in {
		out[i] = T(v)
	}
	return out
}

// awaiting pages through the submitted opinions who may review, oldest
// submission first: for a professional those CanReview admits them to
// (none when they may review nothing, or are unknown to
// professional-identity), for an admin every one. The queue shows ids and
// specialties only, so only an admin's look is audited, as an admin
// action; opening an opinion is audited as its read.
func (s *Service) awaiting(ctx context.Context, who authn.Principal, cursor string, limit int) ([]store.Awaiting, string, error) {
	after, err := page.Decode(cursor)
	if err != nil {
		return nil, "", err
	}
	if authz.IsAdmin(who) {
		if err := s.audit(ctx, who, "opinion.queue.read", "", "", kitaudit.Allowed); err != nil {
			return nil, "", err
		}
		return s.store.AwaitingReview(ctx, store.QueueFilter{AllSpecialties: true}, after, limit)
	}
	if who.Role != authn.RoleProfessional {
		return nil, "", nil
	}
	r, err := s.standing(ctx, who.Subject)
	if fault.KindOf(err) == fault.KindNotFound {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	f := store.QueueFilter{Specialties: convert[string](r.ReviewableSpecialties()), NotBy: who.Subject}
	return s.store.AwaitingReview(ctx, f, after, limit)
}

// forCase reads the opinion of a case: its owner gets the approved one,
// the author their own in any status, an admin the approved one or else
// the newest.
func (s *Service) forCase(ctx context.Context, who authn.Principal, caseID string) (view, error) {
	c, err := s.cases.Case(ctx, caseID, "opinion.read")
	if err != nil {
		return view{}, err
	}
	var o store.Opinion
	switch who.Role {
	case authn.RolePatient:
		if who.Subject != c.CustomerID {
			return view{}, s.refuse(ctx, who, "opinion.read", "", c.CustomerID)
		}
		o, err = s.store.Approved(ctx, caseID)
	case authn.RoleProfessional:
		o, err = s.store.Latest(ctx, caseID, who.Subject)
		if fault.KindOf(err) == fault.KindNotFound {
			return view{}, s.refuse(ctx, who, "opinion.read", "", c.CustomerID)
		}
	case authn.RoleAdmin:
		o, err = s.store.Approved(ctx, caseID)
		if fault.KindOf(err) == fault.KindNotFound {
			o, err = s.store.Latest(ctx, caseID, "")
		}
	default:
		return view{}, fault.NotFound("opinion")
	}
	if err != nil {
		return view{}, err
	}
	return s.read(ctx, who, "opinion.read", o, c)
}

// byID reads an opinion by its id: its author, an eligible reviewer (of
// a submitted or approved opinion, never a draft) or an admin.
func (s *Service) byID(ctx context.Context, who authn.Principal, id string) (view, error) {
	o, err := s.store.Get(ctx, s.store.DB(), id)
	if err != nil {
		return view{}, err
	}
	c, err := s.cases.Case(ctx, o.CaseID, "opinion.read")
	if err != nil {
		return view{}, err
	}
	if !authz.IsAdmin(who) && who.Subject != o.ProfessionalID {
		var refused error = fault.NotFound("opinion")
		if o.Status != domain.Draft {
			refused = s.reviewer(ctx, who, o, c)
		}
		if fault.KindOf(refused) == fault.KindNotFound {
			return view{}, s.refuse(ctx, who, "opinion.read", o.ID, c.CustomerID)
		}
		if refused != nil {
			return view{}, refused
		}
	}
	return s.read(ctx, who, "opinion.read", o, c)
}

// read loads the follow-ups of an opinion who may read and records the
// read.
func (s *Service) read(ctx context.Context, who authn.Principal, action string, o store.Opinion, c casemanagement.Case) (view, error) {
	qs, err := s.store.Questions(ctx, s.store.DB(), o.ID)
	if err != nil {
		return view{}, err
	}
	if err := s.audit(ctx, who, action, o.ID, c.CustomerID, kitaudit.Allowed); err != nil {
		return view{}, err
	}
	return view{Opinion: o, Questions: qs, forPatient: who.Role == authn.RolePatient}, nil
}

// reportData is what the PDF report shows.
type reportData struct {
	view
	CaseNumber string
	Question   string
	Author     professionalidentity.Professional
}

// report gathers an opinion's report: for the patient who owns the case
// (approved opinions only), the author and admins.
func (s *Service) report(ctx context.Context, who authn.Principal, id string) (reportData, error) {
	o, err := s.store.Get(ctx, s.store.DB(), id)
	if err != nil {
		return reportData{}, err
	}
	c, err := s.cases.Case(ctx, o.CaseID, "opinion.report")
	if err != nil {
		return reportData{}, err
	}
	owner := who.Role == authn.RolePatient && who.Subject == c.CustomerID && o.Status == domain.Approved
	author := who.Role == authn.RoleProfessional && who.Subject == o.ProfessionalID
	if !owner && !author && !authz.IsAdmin(who) {
		return reportData{}, s.refuse(ctx, who, "opinion.report", o.ID, c.CustomerID)
	}
	p, err := s.professionals.Professional(ctx, o.ProfessionalID)
	if err != nil {
		return reportData{}, err
	}
	v, err := s.read(ctx, who, "opinion.report", o, c)
	if err != nil {
		return reportData{}, err
	}
	return reportData{view: v, CaseNumber: c.CaseNumber, Question: c.Question, Author: p}, nil
}

// ask records the case owner's follow-up question on the approved opinion.
func (s *Service) ask(ctx context.Context, who authn.Principal, caseID, question string) (store.Question, error) {
	c, err := s.cases.Case(ctx, caseID, "opinion.question")
	if err != nil {
		return store.Question{}, err
	}
	if who.Subject != c.CustomerID {
		return store.Question{}, fault.NotFound("opinion")
	}
	o, err := s.store.Approved(ctx, caseID)
	if err != nil {
		return store.Question{}, err
	}
	var q store.Question
	err = retry(func() error {
		return s.DB.InTx(ctx, func(tx *sql.Tx) error {
			o, err := s.store.Get(ctx, tx, o.ID)
			if err != nil {
				return err
			}
			qs, err := s.store.Questions(ctx, tx, o.ID)
			if err != nil {
				return err
			}
			text, err := domain.MayAsk(o.Status, o.ApprovedAt, len(qs), s.now(), question)
			if err != nil {
				return err
			}
			q, err = s.store.Ask(ctx, tx, store.Question{ID: uuid.NewString(), OpinionID: o.ID, Seq: len(qs) + 1, Question: text, AskedAt: s.now()})
			if err != nil {
				return err
			}
			e, err := questionEvent(events.OpinionQuestionAskedV1, o, q.ID, q.AskedAt)
			if err != nil {
				return err
			}
			return outbox.Add(ctx, tx, e)
		})
	})
	if err != nil {
		return store.Question{}, fmt.Errorf("ask about opinion %s: %w", o.ID, err)
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "follow-up asked", "opinionId", o.ID, "questionId", q.ID, "actor", who.Subject)
	return q, nil
}

// answer records the author's answer to a follow-up question.
func (s *Service) answer(ctx context.Context, who authn.Principal, id, questionID, answer string) (store.Question, error) {
	o, err := s.store.Get(ctx, s.store.DB(), id)
	if err != nil {
		return store.Question{}, err
	}
	if who.Subject != o.ProfessionalID {
		return store.Question{}, fault.NotFound("opinion")
	}
	var q store.Question
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		q, err = s.store.Question(ctx, tx, o.ID, questionID)
		if err != nil {
			return err
		}
		text, err := domain.AnswerText(answer, q.Answer != "")
		if err != nil {
			return err
		}
		if q, err = s.store.Answer(ctx, tx, q, text, s.now()); err != nil {
			return err
		}
		e, err := questionEvent(events.OpinionQuestionAnsweredV1, o, q.ID, q.AnsweredAt)
		if err != nil {
			return err
		}
		return outbox.Add(ctx, tx, e)
	})
	if err != nil {
		return store.Question{}, fmt.Errorf("answer question %s: %w", questionID, err)
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "follow-up answered", "opinionId", o.ID, "questionId", q.ID, "actor", who.Subject)
	return q, nil
}

// refuse records a refused read and answers it as a missing opinion.
func (s *Service) refuse(ctx context.Context, who authn.Principal, action, id, patientID string) error {
	if err := s.audit(ctx, who, action, id, patientID, kitaudit.Denied); err != nil {
		return err
	}
	return fault.NotFound("opinion")
}

// audit queues the trail's entry for an access to a patient's opinion and
// wakes the relay; its error is the 503 that keeps the access from being
// served unrecorded.
func (s *Service) audit(ctx context.Context, who authn.Principal, action, id, patientID, outcome string) error {
	return s.Record(ctx, auditEntry(ctx, who, action, id, patientID, outcome))
}

// auditEntry is the trail's entry for who's action on opinion id of
// patientID.
func auditEntry(ctx context.Context, who authn.Principal, action, id, patientID, outcome string) kitaudit.Entry {
	e := kitaudit.FromContext(ctx)
	e.Action, e.ResourceType, e.ResourceID, e.PatientID = action, "opinion", id, patientID
	e.Purpose, e.Outcome = authz.Purpose(who), outcome
	return e
}
