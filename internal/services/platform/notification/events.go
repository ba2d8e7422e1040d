package notification

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/platform/notification/channel"
	"github.com/secondopinion/platform/internal/services/platform/notification/domain"
	"github.com/secondopinion/platform/internal/services/platform/notification/store"
)

// subscriptions: each event that tells someone something becomes a
// domain.Fact, completed from the routing read model, and its notices
// (tell); the case events keep the read model (router) first. Erasures
// take a patient's or a case's notices with them.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.CaseCreatedV1, func(s *Service, ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseCreated) error {
		return s.router().caseCreated(ctx, tx, e, p)
	}),
	outbox.Handle(events.CaseAwaitingAssignmentV1, func(s *Service, ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseAwaitingAssignment) error {
		return s.router().caseAwaiting(ctx, tx, e, p)
	}),
	outbox.Handle(events.AssignmentReleasedV1, func(s *Service, ctx context.Context, tx *sql.Tx, e bus.Event, p events.AssignmentEnded) error {
		return s.router().assignmentEnded(ctx, tx, e, p)
	}),
	tells(events.CaseSubmittedV1, func(s *Service, ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseSubmitted) (domain.Fact, error) {
		if err := s.router().caseSubmitted(ctx, tx, e, p); err != nil {
			return domain.Fact{}, err
		}
		return s.caseFact(ctx, tx, p.CaseID)
	}),
	tells(events.CaseAssignedV1, func(s *Service, ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseAssigned) (domain.Fact, error) {
		if err := s.router().caseAssigned(ctx, tx, e, p); err != nil {
			return domain.Fact{}, err
		}
		return s.caseFact(ctx, tx, p.CaseID)
	}),
	tells(events.AssignmentExpiredV1, func(s *Service, ctx context.Context, tx *sql.Tx, e bus.Event, p events.AssignmentEnded) (domain.Fact, error) {
		if err := s.router().assignmentEnded(ctx, tx, e, p); err != nil {
			return domain.Fact{}, err
		}
		f, err := s.caseFact(ctx, tx, p.CaseID)
		f.ProfessionalID = p.ProfessionalID
		return f, err
	}),
	tells(events.AnalysisCompletedV1, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p events.AnalysisProgress) (domain.Fact, error) {
		return s.caseFact(ctx, tx, p.CaseID)
	}),
	tells(events.OpinionSubmittedV1, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p events.OpinionSubmitted) (domain.Fact, error) {
		f, err := s.caseFact(ctx, tx, p.CaseID)
		f.ProfessionalID, f.ReviewRequired = p.ProfessionalID, p.ReviewRequired
		return f, err
	}),
	tells(events.OpinionChangesRequestedV1, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p events.OpinionChangesRequested) (domain.Fact, error) {
		f, err := s.caseFact(ctx, tx, p.CaseID)
		f.ProfessionalID = p.ProfessionalID
		return f, err
	}),
	tells(events.OpinionApprovedV1, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p events.OpinionApproved) (domain.Fact, error) {
		f, err := s.caseFact(ctx, tx, p.CaseID)
		f.ProfessionalID = p.ProfessionalID
		return f, err
	}),
	tells(events.OpinionQuestionAskedV1, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p events.OpinionQuestion) (domain.Fact, error) {
		return s.caseFact(ctx, tx, p.CaseID) // told to the case's assignee
	}),
	tells(events.OpinionQuestionAnsweredV1, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p events.OpinionQuestion) (domain.Fact, error) {
		return s.caseFact(ctx, tx, p.CaseID)
	}),
	tells(events.PaymentSucceededV1, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p events.Payment) (domain.Fact, error) {
		return s.paymentFact(ctx, tx, p.CaseID, p.CustomerID, p.Amount, p.Currency)
	}),
	tells(events.PaymentFailedV1, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p events.PaymentFailed) (domain.Fact, error) {
		return s.paymentFact(ctx, tx, p.CaseID, p.CustomerID, p.Amount, p.Currency)
	}),
	tells(events.PaymentRefundedV1, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p events.PaymentRefunded) (domain.Fact, error) {
		return s.paymentFact(ctx, tx, p.CaseID, p.CustomerID, p.Amount, p.Currency)
	}),
	tells(events.CaseOfferedV1, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p events.CaseOffered) (domain.Fact, error) {
		return domain.Fact{CaseID: p.CaseID, CaseNumber: p.CaseNumber, ProfessionalIDs: p.ProfessionalIDs}, nil
	}),
	tells(events.DeadlineApproachingV1, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p events.DeadlineApproaching) (domain.Fact, error) {
		f, err := s.caseFact(ctx, tx, p.CaseID)
		f.ProfessionalID, f.Percent = p.ProfessionalID, p.Percent
		return f, err
	}),
	tells(events.PayoutPaidV1, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p events.PayoutPaid) (domain.Fact, error) {
		return domain.Fact{ProfessionalID: p.ProfessionalID, Amount: p.Amount, Currency: p.Currency, Ref: p.BatchID}, nil
	}),
	tells(events.AssignmentEscalatedV1, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p events.AssignmentEscalated) (domain.Fact, error) {
		return domain.Fact{CaseID: p.CaseID, CaseNumber: p.CaseNumber}, nil
	}),
	tells(events.CaseOrphanedV1, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p events.CaseOrphaned) (domain.Fact, error) {
		return domain.Fact{CaseID: p.CaseID}, nil
	}),
	tells(events.CredentialSubmittedV1, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p events.CredentialSubmitted) (domain.Fact, error) {
		return domain.Fact{Ref: p.CredentialID}, nil
	}),
	tells(outbox.DeadLettered, func(s *Service, ctx context.Context, tx *sql.Tx, _ bus.Event, p outbox.DeadLetterNotice) (domain.Fact, error) {
		return domain.Fact{Ref: p.EventID}, nil
	}),
	outbox.Handle(events.PatientErasedV1, (*Service).onPatientErased),
	outbox.Handle(events.CaseErasedV1, (*Service).onCaseErased),
}

// tells subscribes to c: fact makes the event's Fact, whose notices are
// written in the event's transaction.
func tells[P any](c bus.Contract[P], fact func(*Service, context.Context, *sql.Tx, bus.Event, P) (domain.Fact, error)) outbox.Subscription[*Service] {
	return outbox.Handle(c, func(s *Service, ctx context.Context, tx *sql.Tx, e bus.Event, p P) error {
		f, err := fact(s, ctx, tx, e, p)
		if err != nil {
			return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
		}
		f.Type = e.Type
		return s.tell(ctx, tx, e, f)
	})
}

// caseFact is what the read model knows of a case.
func (s *Service) caseFact(ctx context.Context, tx *sql.Tx, caseID string) (domain.Fact, error) {
	c, err := s.store.Case(ctx, tx, caseID)
	return domain.Fact{CaseID: caseID, CaseNumber: c.CaseNumber, PatientID: c.PatientID, ProfessionalID: c.ProfessionalID}, err
}

// paymentFact is a payment's: its customer (the read model's when the
// event no longer names them), case and amount.
func (s *Service) paymentFact(ctx context.Context, tx *sql.Tx, caseID, customer string, amount int64, currency string) (domain.Fact, error) {
	f := domain.Fact{Amount: amount, Currency: currency}
	if caseID == "" {
		// The patient was erased meanwhile: there is nobody to tell.
		return f, nil
	}
	c, err := s.caseFact(ctx, tx, caseID)
	if err != nil {
		return f, err
	}
	c.Amount, c.Currency, c.ProfessionalID = amount, currency, ""
	if customer != "" {
		c.PatientID = customer
	}
	return c, nil
}

// tell writes f's notices: each an in-app notice and, unless it is an
// admins' notice and no admin email is configured, a queued delivery.
// The worker is woken; it sends once the transaction committed.
func (s *Service) tell(ctx context.Context, tx *sql.Tx, e bus.Event, f domain.Fact) error {
	notices := domain.Notices(f)
	if len(notices) == 0 {
		return nil
	}
	var lang string
	if f.CaseID != "" {
		c, err := s.store.Case(ctx, tx, f.CaseID)
		if err != nil {
			return err
		}
		lang = c.Language
	}
	for _, n := range notices {
		l := ""
		if n.To == domain.Patient {
			l = lang // the language of the consultation
		}
		deliver := n.To != domain.Admin || len(s.cfg.AdminEmails) > 0
		if _, err := s.store.Add(ctx, tx, n, l, e.ID, deliver, s.now()); err != nil {
			return err
		}
	}
	s.wake()
	return nil
}

// onPatientErased deletes the patient's notices and deliveries, what the
// read model and the journal hold of them and their cases, and the
// messages the embedded folders kept for them. A redelivery finds
// nothing left.
func (s *Service) onPatientErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.PatientErased) error {
	cases, err := s.store.Erase(ctx, tx, p.PatientID)
	if err != nil {
		return err
	}
	for _, id := range append(cases, p.PatientID) {
		if err := outbox.ForgetJournal(ctx, tx, id); err != nil {
			return fmt.Errorf("patient.erased %s: %w", e.ID, err)
		}
	}
	if err := channel.Forget(p.PatientID, s.folders...); err != nil {
		return fmt.Errorf("patient.erased %s: %w", e.ID, err)
	}
	s.Log.InfoContext(ctx, "notices of an erased patient deleted", "event", e.ID, "cases", len(cases))
	return nil
}

// onCaseErased deletes every notice about the case — professionals' and
// admins' too — and its routing.
func (s *Service) onCaseErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseErased) error {
	if err := s.store.EraseCase(ctx, tx, p.CaseID); err != nil {
		return err
	}
	if err := outbox.ForgetJournal(ctx, tx, p.CaseID); err != nil {
		return fmt.Errorf("case.erased %s: %w", e.ID, err)
	}
	return nil
}

// router keeps the routing read model: whose case it is, its number and
// language, and who holds it. Rebuild replays it alone from the journal.
type router struct{ store *store.Store }

func (s *Service) router() *router { return &router{store: s.store} }

// routing is the read model's part of the subscriptions, for Rebuild.
var routing = outbox.Subscriptions[*router]{
	outbox.Handle(events.CaseCreatedV1, (*router).caseCreated),
	outbox.Handle(events.CaseSubmittedV1, (*router).caseSubmitted),
	outbox.Handle(events.CaseAwaitingAssignmentV1, (*router).caseAwaiting),
	outbox.Handle(events.CaseAssignedV1, (*router).caseAssigned),
	outbox.Handle(events.AssignmentExpiredV1, (*router).assignmentEnded),
	outbox.Handle(events.AssignmentReleasedV1, (*router).assignmentEnded),
}

func (r *router) caseCreated(ctx context.Context, tx *sql.Tx, _ bus.Event, p events.CaseCreated) error {
	return r.store.SetCase(ctx, tx, store.Case{CaseID: p.CaseID, PatientID: p.CustomerID, CaseNumber: p.CaseNumber})
}

func (r *router) caseSubmitted(ctx context.Context, tx *sql.Tx, _ bus.Event, p events.CaseSubmitted) error {
	return r.store.SetCase(ctx, tx, store.Case{CaseID: p.CaseID, PatientID: p.CustomerID, CaseNumber: p.CaseNumber})
}

func (r *router) caseAwaiting(ctx context.Context, tx *sql.Tx, _ bus.Event, p events.CaseAwaitingAssignment) error {
	return r.store.SetCase(ctx, tx, store.Case{CaseID: p.CaseID, PatientID: p.CustomerID, CaseNumber: p.CaseNumber,
		Language: string(p.Language)})
}

func (r *router) caseAssigned(ctx context.Context, tx *sql.Tx, _ bus.Event, p events.CaseAssigned) error {
	return r.store.SetCase(ctx, tx, store.Case{CaseID: p.CaseID, ProfessionalID: p.ProfessionalID})
}

func (r *router) assignmentEnded(ctx context.Context, tx *sql.Tx, _ bus.Event, p events.AssignmentEnded) error {
	return r.store.ClearAssignee(ctx, tx, p.CaseID, p.ProfessionalID)
}
