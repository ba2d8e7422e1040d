package patientidentity

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/clients/auth"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/services/patient/patient-identity/store"
)

// The application functions below take the verified caller (who), which
// the ports hand over. The public API's coarse policy (httpapi.Register)
// has admitted who's role by then; read and change add ownership and the
// audit trail. The internal PatientService calls lookup directly: only
// other services reach it.

// register validates the profile, creates the patient's login in auth
// (whose user id becomes the patient id, so the patient's token subject
// names their profile) and stores the profile with its patient.registered
// event. A profile that cannot be stored takes its login with it: neither
// half is left without the other.
func (s *Service) register(ctx context.Context, who authn.Principal, r Registration) (store.Patient, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	p, err := r.Validate(now)
	if err != nil {
		return store.Patient{}, err
	}
	id, err := s.logins.Create(ctx, auth.Login{Email: p.Email, Password: r.Password, Role: "patient", Phone: p.Phone})
	if errors.Is(err, auth.ErrEmailTaken) {
		return store.Patient{}, store.ErrEmailTaken
	}
	if err != nil {
		return store.Patient{}, err
	}
	sp := toStore(p)
	sp.ID, sp.CreatedAt, sp.UpdatedAt = id, now, now
	if err := s.storeNew(ctx, sp); err != nil {
		s.logins.Drop(ctx, id)
		return store.Patient{}, err
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "patient registered", "patientId", sp.ID, "actor", who.Subject)
	return sp, nil
}

// storeNew stores a new profile with its patient.registered event.
func (s *Service) storeNew(ctx context.Context, p store.Patient) error {
	ev, err := registeredEvent(p)
	if err != nil {
		return err
	}
	return s.store.Create(ctx, p, ev)
}

// read is a public-API read of a profile: the patient themself or an
// admin, and never served without its audit entry.
func (s *Service) read(ctx context.Context, who authn.Principal, id string) (store.Patient, error) {
	if err := validID(id); err != nil {
		return store.Patient{}, err
	}
	if err := s.admit(ctx, who, "patient.read", id); err != nil {
		return store.Patient{}, err
	}
	return s.lookup(ctx, who, id)
}

// change is a public-API update of a profile: the patient themself or an
// admin. The patient.updated event records the change in the trail.
func (s *Service) change(ctx context.Context, who authn.Principal, id string, pa Patch) (store.Patient, error) {
	if err := validID(id); err != nil {
		return store.Patient{}, err
	}
	if err := s.admit(ctx, who, "patient.update", id); err != nil {
		return store.Patient{}, err
	}
	return s.update(ctx, who, id, pa)
}

// admit lets who reach patient id's profile, or records the refusal and
// answers it as a missing patient.
func (s *Service) admit(ctx context.Context, who authn.Principal, action, id string) error {
	refused := authz.OwnerOrAdmin(who, id, "patient")
	if refused == nil {
		return nil
	}
	if err := s.audit(ctx, who, action, id, kitaudit.Denied); err != nil {
		return err
	}
	return refused
}

// audit queues the trail's entry for an access to patient id's profile and
// wakes the relay; its error is the 503 that keeps the access from being
// served unrecorded.
func (s *Service) audit(ctx context.Context, who authn.Principal, action, id, outcome string) error {
	e := kitaudit.FromContext(ctx)
	e.Action, e.ResourceType, e.ResourceID, e.PatientID = action, "patient", id, id
	e.Purpose, e.Outcome = authz.Purpose(who), outcome
	return s.Record(ctx, e)
}

// lookup reads and audits a profile whose reader is admitted: by the
// public API's ownership check, or by the guard of the internal API.
func (s *Service) lookup(ctx context.Context, who authn.Principal, id string) (store.Patient, error) {
	if err := validID(id); err != nil {
		return store.Patient{}, err
	}
	p, err := s.store.Get(ctx, id)
	if err != nil {
		return store.Patient{}, err
	}
	if err := s.audit(ctx, who, "patient.read", id, kitaudit.Allowed); err != nil {
		return store.Patient{}, err
	}
	return p, nil
}

// update applies a patch and publishes patient.updated naming the changed
// fields, when anything changed.
func (s *Service) update(ctx context.Context, who authn.Principal, id string, pa Patch) (store.Patient, error) {
	if err := validID(id); err != nil {
		return store.Patient{}, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	var changed []string
	p, err := s.store.Update(ctx, id, func(cur store.Patient) (store.Patient, []bus.Event, error) {
		next, fields, err := pa.Apply(fromStore(cur))
		if err != nil || len(fields) == 0 {
			return cur, nil, err
		}
		ev, err := updatedEvent(id, fields, now)
		if err != nil {
			return cur, nil, err
		}
		out := toStore(next)
		out.ID, out.CreatedAt, out.UpdatedAt = cur.ID, cur.CreatedAt, now
		changed = fields
		return out, []bus.Event{ev}, nil
	})
	if err != nil {
		return store.Patient{}, err
	}
	if len(changed) > 0 {
		s.Relay.Notify()
		s.Log.InfoContext(ctx, "patient updated", "patientId", id, "fields", changed, "actor", who.Subject)
	}
	return p, nil
}

// validID refuses what cannot be a patient id before it reaches the store
// (PostgreSQL would fail on it rather than find nothing).
func validID(id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return fault.Invalid("id", "must be a UUID")
	}
	return nil
}

func toStore(p Profile) store.Patient {
	return store.Patient{
		ID: p.ID, FirstName: p.FirstName, MiddleName: p.MiddleName, LastName: p.LastName,
		DateOfBirth: p.DateOfBirth, Email: p.Email, Phone: p.Phone, PreferredChannel: string(p.PreferredChannel),
		EmailNotifications: p.EmailNotifications, SMSNotifications: p.SMSNotifications, Metadata: p.Metadata,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}

func fromStore(p store.Patient) Profile {
	return Profile{
		ID: p.ID, FirstName: p.FirstName, MiddleName: p.MiddleName, LastName: p.LastName,
		DateOfBirth: p.DateOfBirth, Email: p.Email, Phone: p.Phone, PreferredChannel: vocab.Channel(p.PreferredChannel),
		EmailNotifications: p.EmailNotifications, SMSNotifications: p.SMSNotifications, Metadata: p.Metadata,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}
