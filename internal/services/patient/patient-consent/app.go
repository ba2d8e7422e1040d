package patientconsent

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/domain"
	"github.com/secondopinion/platform/internal/services/patient/patient-consent/store"
)

// The application functions below take the verified caller (who). The
// coarse policy (httpapi.Register) has admitted who's role by then; here
// a patient reaches and changes only their own consents, and an admin
// reads anyone's (audited) but changes none: consent is the patient's own
// word. The internal ConsentService calls check directly: its guard
// admits only the services listed in rpc.go.

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// consents answers the state of every purpose of patient id: a patient's
// own ("" is the caller), or any patient's for an admin, who must name
// one. Another patient's consents are missing to a patient (404).
func (s *Service) consents(ctx context.Context, who authn.Principal, id string) (string, map[vocab.ConsentPurpose]domain.State, error) {
	if id == "" && who.Role == authn.RolePatient {
		id = who.Subject
	}
	if id == "" {
		return "", nil, fault.Invalid("patientId", "name the patient whose consents to read")
	}
	if _, err := uuid.Parse(id); err != nil {
		return "", nil, fault.Invalid("patientId", "must be a UUID")
	}
	if err := authz.OwnerOrAdmin(who, id, "patient"); err != nil {
		return "", nil, err
	}
	history, err := s.store.History(ctx, nil, id)
	if err != nil {
		return "", nil, err
	}
	if authz.IsAdmin(who) {
		e := kitaudit.FromContext(ctx)
		e.Action, e.ResourceType, e.ResourceID, e.PatientID = "consent.read", "patient", id, id
		e.Purpose, e.Outcome = authz.Purpose(who), kitaudit.Allowed
		if err := s.Record(ctx, e); err != nil {
			return "", nil, err
		}
	}
	return id, fold(history), nil
}

// grant records the calling patient's consent for purpose to the text
// version, which must be the one in force; granting again what is
// granted records nothing.
func (s *Service) grant(ctx context.Context, who authn.Principal, purpose vocab.ConsentPurpose, version string) (domain.State, error) {
	return s.change(ctx, who, purpose, func(st domain.State, at time.Time) (domain.Change, bool, error) {
		return domain.Grant(st, version, at)
	})
}

// withdraw records the calling patient's withdrawal of their consent for
// purpose; withdrawing what is not granted records nothing.
func (s *Service) withdraw(ctx context.Context, who authn.Principal, purpose vocab.ConsentPurpose) (domain.State, error) {
	return s.change(ctx, who, purpose, func(st domain.State, at time.Time) (domain.Change, bool, error) {
		c, ok := domain.Withdraw(st, at)
		return c, ok, nil
	})
}

// attempts bounds the retries of a change that lost its revision to a
// concurrent change of the same consent.
const attempts = 3

// change applies decide to the caller's consent for purpose and appends
// the change it makes, with its event, in one transaction. An erased
// patient's consent is missing (404), and nothing is recorded.
func (s *Service) change(ctx context.Context, who authn.Principal, purpose vocab.ConsentPurpose,
	decide func(domain.State, time.Time) (domain.Change, bool, error)) (domain.State, error) {
	// Consent is given by the patient themself: not by an admin, not on
	// anyone's behalf.
	if who.Role != authn.RolePatient || who.Subject == "" {
		return domain.State{}, fault.Forbidden("only a patient grants or withdraws their own consent")
	}
	if _, err := uuid.Parse(who.Subject); err != nil {
		return domain.State{}, fault.Forbidden("only a patient grants or withdraws their own consent")
	}
	if err := domain.ValidPurpose("purpose", purpose); err != nil {
		return domain.State{}, err
	}
	addr := kitaudit.FromContext(ctx).ClientAddr
	for try := 1; ; try++ {
		var out domain.State
		var made *store.Change
		err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
			if err := s.store.Admit(ctx, tx, who.Subject); err != nil {
				return err
			}
			history, err := s.store.History(ctx, tx, who.Subject)
			if err != nil {
				return err
			}
			out = fold(history)[purpose]
			dc, ok, err := decide(out, s.clock())
			if err != nil || !ok {
				return err
			}
			c := store.Change{PatientID: who.Subject, Change: dc, ClientAddr: addr}
			if err := s.store.Append(ctx, tx, c); err != nil {
				return err
			}
			e, err := changedEvent(c)
			if err != nil {
				return err
			}
			if err := outbox.Add(ctx, tx, e); err != nil {
				return err
			}
			out, made = fold(append(history, c))[purpose], &c
			return nil
		})
		if errors.Is(err, store.ErrStale) && try < attempts {
			continue
		}
		if errors.Is(err, store.ErrStale) {
			return domain.State{}, fault.Conflict("Consent changed concurrently", "another change of this consent came first: try again")
		}
		if errors.Is(err, store.ErrErased) {
			// Erased since the caller's token was issued: nothing of
			// theirs is kept any more.
			return domain.State{}, fault.NotFound("patient")
		}
		if err != nil {
			return domain.State{}, fmt.Errorf("change %s consent: %w", purpose, err)
		}
		if made != nil {
			s.Relay.Notify()
			s.Log.InfoContext(ctx, "consent changed", "patientId", made.PatientID, "purpose", made.Purpose,
				"change", made.Kind, "version", made.Version, "revision", made.Revision)
		}
		return out, nil
	}
}

// check is whether patient id's consent for purpose is in force, for the
// internal ConsentService.
func (s *Service) check(ctx context.Context, id string, purpose vocab.ConsentPurpose) (domain.State, error) {
	if _, err := uuid.Parse(id); err != nil {
		return domain.State{}, fault.Invalid("patient_id", "must be a UUID")
	}
	if err := domain.ValidPurpose("purpose", purpose); err != nil {
		return domain.State{}, err
	}
	history, err := s.store.History(ctx, nil, id)
	if err != nil {
		return domain.State{}, err
	}
	return fold(history)[purpose], nil
}

// fold is the state of every purpose after the stored history.
func fold(history []store.Change) map[vocab.ConsentPurpose]domain.State {
	changes := make([]domain.Change, len(history))
	for i, c := range history {
		changes[i] = c.Change
	}
	return domain.Fold(changes)
}
