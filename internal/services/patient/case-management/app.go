package casemanagement

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	patientidentity "github.com/secondopinion/platform/internal/clients/patient-identity"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/services/patient/case-management/domain"
	"github.com/secondopinion/platform/internal/services/patient/case-management/store"
)

// maxStaleRetries bounds how often a command is decided again after a
// concurrent change; each retry sees the newer status.
const maxStaleRetries = 3

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// The application functions below take the verified caller (who). The
// coarse policy (authz.Register) has admitted who's role by then; here a
// patient reaches only their own cases, an admin all, every refusal and
// every read is recorded in the audit trail, and no read is served when its
// entry cannot be queued.

// open creates a DRAFT case for an existing patient: a patient opens cases
// for themself only.
func (s *Service) open(ctx context.Context, who authn.Principal, in domain.NewCase) (store.Case, error) {
	in, err := in.Validate()
	if err != nil {
		return store.Case{}, err
	}
	if err := s.admit(ctx, who, "case.create", "", in.CustomerID, "patient"); err != nil {
		return store.Case{}, err
	}
	patient, err := s.patient(ctx, in.CustomerID)
	if err != nil {
		return store.Case{}, err
	}
	now := s.now()
	c, err := s.store.Create(ctx, store.Case{
		ID:         uuid.NewString(),
		CustomerID: in.CustomerID,
		Specialty:  in.Specialty,
		Urgency:    in.Urgency,
		Title:      in.Title,
		Question:   in.Question,
		Language:   in.Language,
		AgeBand:    string(vocab.AgeBandOf(patient.DateOfBirth, now)),
		CreatedAt:  now,
	}, s.newNumber, createdEvents)
	if errors.Is(err, store.ErrPatientErased) {
		// Erased since patient-identity vouched for them.
		return store.Case{}, noPatient()
	}
	if err != nil {
		return store.Case{}, err
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "case created", "caseId", c.ID, "actor", who.Subject)
	return c, nil
}

// patient asks patient-identity for the customer: that they exist, and
// their date of birth, of which the case keeps only an age band.
func (s *Service) patient(ctx context.Context, id string) (patientidentity.Patient, error) {
	p, err := s.patients.Patient(ctx, id)
	if fault.Is(err, fault.KindNotFound) {
		return p, noPatient()
	}
	return p, err
}

// noPatient refuses a customerId that names no patient, or an erased one.
func noPatient() error { return fault.Invalid("customerId", "no patient has this id") }

func (s *Service) get(ctx context.Context, who authn.Principal, id string) (store.Case, []store.Entry, error) {
	c, err := s.readable(ctx, who, "case.read", id)
	if err != nil {
		return store.Case{}, nil, err
	}
	tl, err := s.store.Timeline(ctx, c.ID)
	if err != nil {
		return store.Case{}, nil, err
	}
	if err := s.audit(ctx, who, "case.read", c.ID, c.CustomerID, kitaudit.Allowed); err != nil {
		return store.Case{}, nil, err
	}
	return c, tl, nil
}

func (s *Service) byNumber(ctx context.Context, who authn.Principal, number string) (store.Case, error) {
	// A malformed number names no case: 404, without a query.
	if !domain.ValidCaseNumber(number) {
		return store.Case{}, fault.NotFound("case")
	}
	c, err := s.store.ByNumber(ctx, number)
	if err != nil {
		return store.Case{}, err
	}
	if err := s.admitReader(ctx, who, "case.status.read", c); err != nil {
		return store.Case{}, err
	}
	if err := s.audit(ctx, who, "case.status.read", c.ID, c.CustomerID, kitaudit.Allowed); err != nil {
		return store.Case{}, err
	}
	return c, nil
}

// list pages through a patient's cases. customerID defaults to the calling
// patient; an admin names the patient.
func (s *Service) list(ctx context.Context, who authn.Principal, customerID, cursor string, limit int) ([]store.Case, string, error) {
	if customerID == "" && who.Role == authn.RolePatient {
		customerID = who.Subject
	}
	if customerID == "" {
		return nil, "", fault.Invalid("customerId", "is required")
	}
	if _, err := uuid.Parse(customerID); err != nil {
		return nil, "", fault.Invalid("customerId", "must be a UUID")
	}
	after, err := page.Decode(cursor)
	if err != nil {
		return nil, "", err
	}
	if err := s.admit(ctx, who, "case.list", "", customerID, "patient"); err != nil {
		return nil, "", err
	}
	cs, next, err := s.store.List(ctx, customerID, after, limit)
	if err != nil {
		return nil, "", err
	}
	if err := s.audit(ctx, who, "case.list", "", customerID, kitaudit.Allowed); err != nil {
		return nil, "", err
	}
	return cs, next, nil
}

// submit submits a draft case, unless it lacks records its specialty's
// checklist names and the patient has not confirmed they have no more.
func (s *Service) submit(ctx context.Context, who authn.Principal, id string, confirmIncomplete bool) (store.Case, error) {
	c, err := s.owned(ctx, who, "case.submit", id)
	if err != nil {
		return store.Case{}, err
	}
	if c.Status == domain.Draft && !confirmIncomplete {
		missing, err := s.records.Missing(ctx, c.ID, vocab.Specialty(c.Specialty))
		if err != nil {
			return store.Case{}, err
		}
		if len(missing) > 0 {
			names := make([]string, len(missing))
			for i, k := range missing {
				names[i] = string(k)
			}
			return store.Case{}, fault.Conflict("Records missing", "the case lacks "+strings.Join(names, ", ")+
				": upload them, or submit with confirmIncomplete if you have nothing more")
		}
	}
	return s.command(ctx, who, id, domain.TriggerSubmit, "", s.cfg.Pipeline.Submit)
}

func (s *Service) cancel(ctx context.Context, who authn.Principal, id, reason string) (store.Case, error) {
	if _, err := s.owned(ctx, who, "case.cancel", id); err != nil {
		return store.Case{}, err
	}
	return s.command(ctx, who, id, domain.TriggerCancel, reason, s.cfg.Pipeline.Cancel)
}

// owned loads case id for who: its owner or an admin. Anyone else gets
// the 404 of a missing case, recorded as a refused action. A case's owner
// never changes, so the check holds for the command that follows.
func (s *Service) owned(ctx context.Context, who authn.Principal, action, id string) (store.Case, error) {
	c, err := s.store.Get(ctx, id)
	if err != nil {
		return store.Case{}, err
	}
	if err := s.admit(ctx, who, action, c.ID, c.CustomerID, "case"); err != nil {
		return store.Case{}, err
	}
	return c, nil
}

// readable loads case id for who to read: its owner, an admin, or the
// professional it is assigned to.
func (s *Service) readable(ctx context.Context, who authn.Principal, action, id string) (store.Case, error) {
	c, err := s.store.Get(ctx, id)
	if err != nil {
		return store.Case{}, err
	}
	if err := s.admitReader(ctx, who, action, c); err != nil {
		return store.Case{}, err
	}
	return c, nil
}

// admitReader is admit for reads, which the assigned professional may do
// too, from the claim until the opinion is delivered and after.
func (s *Service) admitReader(ctx context.Context, who authn.Principal, action string, c store.Case) error {
	if domain.AssigneeMayRead(c.Status) && who.Role == authn.RoleProfessional && who.Subject == c.ProfessionalID {
		return nil
	}
	return s.admit(ctx, who, action, c.ID, c.CustomerID, "case")
}

// admit lets who act on patient customerID's data (caseID when one case
// is reached), or records the refusal and answers it as a missing what.
func (s *Service) admit(ctx context.Context, who authn.Principal, action, caseID, customerID, what string) error {
	refused := authz.OwnerOrAdmin(who, customerID, what)
	if refused == nil {
		return nil
	}
	if err := s.audit(ctx, who, action, caseID, customerID, kitaudit.Denied); err != nil {
		return err
	}
	return refused
}

// audit queues the trail's entry for an access to a patient's cases and
// wakes the relay; its error is the 503 that keeps the access from being
// served unrecorded.
func (s *Service) audit(ctx context.Context, who authn.Principal, action, caseID, customerID, outcome string) error {
	purpose := authz.Purpose(who)
	if who.Role == authn.RoleProfessional && outcome == kitaudit.Allowed {
		purpose = "assigned second opinion"
	}
	return s.auditAs(ctx, who, action, caseID, customerID, outcome, purpose)
}

// auditAs is audit with the purpose the caller gives.
func (s *Service) auditAs(ctx context.Context, who authn.Principal, action, caseID, customerID, outcome, purpose string) error {
	e := kitaudit.FromContext(ctx)
	e.Action, e.ResourceType, e.ResourceID, e.PatientID = action, "case", caseID, customerID
	e.Purpose, e.Outcome = purpose, outcome
	return s.Record(ctx, e)
}

// command applies a patient's command, deciding again when another change
// overtook it between the read and the conditional update.
func (s *Service) command(ctx context.Context, who authn.Principal, id, trigger, note string, decide func(domain.Status) ([]domain.Step, error)) (store.Case, error) {
	for attempt := 1; ; attempt++ {
		var moved store.Case
		err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
			c, err := s.store.Load(ctx, tx, id)
			if err != nil {
				return err
			}
			steps, err := decide(c.Status)
			if err != nil {
				return err
			}
			moved, err = s.apply(ctx, tx, c, store.Change{Steps: steps, Reason: trigger, Note: note, At: s.now()})
			return err
		})
		if errors.Is(err, store.ErrStale) && attempt < maxStaleRetries {
			continue
		}
		if err != nil {
			return store.Case{}, fmt.Errorf("%s case %s: %w", trigger, id, err)
		}
		s.Relay.Notify()
		s.Log.InfoContext(ctx, "case "+trigger, "caseId", id, "status", moved.Status, "actor", who.Subject)
		return moved, nil
	}
}

// apply records a change and its events in tx.
func (s *Service) apply(ctx context.Context, tx *sql.Tx, c store.Case, ch store.Change) (store.Case, error) {
	moved, err := s.store.Move(ctx, tx, c, ch)
	if err != nil {
		return store.Case{}, err
	}
	evs, err := changeEvents(moved, ch)
	if err != nil {
		return store.Case{}, err
	}
	if err := outbox.Add(ctx, tx, evs...); err != nil {
		return store.Case{}, fmt.Errorf("case %s events: %w", c.ID, err)
	}
	return moved, nil
}
