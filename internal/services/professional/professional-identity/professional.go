package professionalidentity

import (
	"context"
	"errors"
	"slices"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/clients/auth"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/services/professional/professional-identity/domain"
	"github.com/secondopinion/platform/internal/services/professional/professional-identity/store"
)

// The application functions below take the verified caller (who), which
// the ports hand over. The public API's coarse policy (httpapi.Register)
// has admitted who's role by then; read and change add ownership (the
// professional themself or an admin) and record an admin's access in the
// audit trail. Profiles are not health data: a professional's own access
// is not recorded. The internal ProfessionalService calls get directly;
// its guard admits only the named services.

// register validates the registration, creates the professional's login
// in auth (whose user id becomes the professional id, so the
// professional's token subject names their profile) and stores the
// profile with its pro number and professional.registered event. A
// profile that cannot be stored takes its login with it: neither half is
// left without the other.
func (s *Service) register(ctx context.Context, who authn.Principal, r domain.Registration) (store.Professional, error) {
	p, err := r.Validate()
	if err != nil {
		return store.Professional{}, err
	}
	id, err := s.logins.Create(ctx, auth.Login{Email: p.Email, Password: r.Password, Role: string(authn.RoleProfessional)})
	if errors.Is(err, auth.ErrEmailTaken) {
		return store.Professional{}, store.ErrEmailTaken
	}
	if err != nil {
		return store.Professional{}, err
	}
	now := s.now()
	sp := toStore(store.Professional{ID: id, Level: domain.StartLevel, Status: domain.StatusPending, CreatedAt: now, UpdatedAt: now}, p)
	created, err := s.store.Create(ctx, sp, s.newNumber, registeredEvents)
	if err != nil {
		s.logins.Drop(ctx, id)
		return store.Professional{}, err
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "professional registered", "professionalId", id, "actor", who.Subject)
	return created, nil
}

// read is a public-API read of a profile: the professional themself or an
// admin, whose read is not served unrecorded.
func (s *Service) read(ctx context.Context, who authn.Principal, id string) (store.Professional, error) {
	if err := admit(who, id); err != nil {
		return store.Professional{}, err
	}
	p, err := s.store.Get(ctx, id)
	if err != nil {
		return store.Professional{}, err
	}
	if authz.IsAdmin(who) {
		if err := s.Record(ctx, auditEntry(ctx, who, "professional.read", id)); err != nil {
			return store.Professional{}, err
		}
	}
	return p, nil
}

// change is a public-API update of a profile by the professional themself
// or an admin. It publishes professional.updated with the full current
// values when anything changed; an admin's change is recorded in the
// audit trail in the same transaction.
func (s *Service) change(ctx context.Context, who authn.Principal, id string, pa domain.Patch) (store.Professional, error) {
	if err := admit(who, id); err != nil {
		return store.Professional{}, err
	}
	now := s.now()
	var changed, wrote bool
	p, err := s.store.Update(ctx, id, func(cur store.Professional) (store.Professional, bool, []bus.Event, error) {
		next, diff, err := pa.Apply(fromStore(cur))
		if err != nil {
			return cur, false, nil, err
		}
		var evs []bus.Event
		out := cur
		if diff {
			out = toStore(cur, next)
			out.UpdatedAt = now
			ev, err := updatedEvent(out, now)
			if err != nil {
				return cur, false, nil, err
			}
			evs = append(evs, ev)
		}
		if authz.IsAdmin(who) {
			ev, err := kitaudit.Recorded.New(Name, id, auditEntry(ctx, who, "professional.update", id))
			if err != nil {
				return cur, false, nil, err
			}
			evs = append(evs, ev)
		}
		changed, wrote = diff, len(evs) > 0
		return out, diff, evs, nil
	})
	if err != nil {
		return store.Professional{}, err
	}
	if wrote {
		s.Relay.Notify()
	}
	if changed {
		s.Log.InfoContext(ctx, "professional updated", "professionalId", id, "actor", who.Subject)
	}
	return p, nil
}

// get reads a professional for the internal API.
func (s *Service) get(ctx context.Context, id string) (store.Professional, error) {
	if err := validID(id); err != nil {
		return store.Professional{}, err
	}
	return s.store.Get(ctx, id)
}

// admit lets who reach professional id's profile: the professional
// themself or an admin. Anyone else is answered as if it did not exist.
func admit(who authn.Principal, id string) error {
	if err := validID(id); err != nil {
		return err
	}
	if authz.IsAdmin(who) || (who.Role == authn.RoleProfessional && who.Subject != "" && who.Subject == id) {
		return nil
	}
	return fault.NotFound("professional")
}

// auditEntry is the trail's entry for an admin's access to a profile.
func auditEntry(ctx context.Context, who authn.Principal, action, id string) kitaudit.Entry {
	e := kitaudit.FromContext(ctx)
	e.Action, e.ResourceType, e.ResourceID = action, "professional", id
	e.Purpose, e.Outcome = authz.Purpose(who), kitaudit.Allowed
	return e
}

// validID refuses what cannot be a professional id before it reaches the
// store.
func validID(id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return fault.Invalid("id", "must be a UUID")
	}
	return nil
}

// toStore returns base with the profile's fields.
func toStore(base store.Professional, p domain.Profile) store.Professional {
	base.FirstName, base.LastName, base.Country, base.Bio = p.FirstName, p.LastName, p.Country, p.Bio
	base.Specialties, base.Languages = slices.Clone(p.Specialties), slices.Clone(p.Languages)
	if p.Email != "" {
		base.Email = p.Email
	}
	return base
}

func fromStore(p store.Professional) domain.Profile {
	return domain.Profile{
		FirstName: p.FirstName, LastName: p.LastName, Email: p.Email, Specialties: p.Specialties,
		Languages: p.Languages, Country: p.Country, Bio: p.Bio,
	}
}
