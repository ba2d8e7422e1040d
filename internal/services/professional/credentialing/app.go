package credentialing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/services/professional/credentialing/domain"
	"github.com/secondopinion/platform/internal/services/professional/credentialing/store"
)

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// The application functions below take the verified caller (who). The
// coarse policy (httpapi.Register) has admitted who's role by then; here a
// professional reaches only their own credentials and standing, an admin
// every one. Admin actions are recorded in the audit trail: changes in the
// transaction that makes them, reads and refusals before answering.

// submit stores a professional's new licence as PENDING.
func (s *Service) submit(ctx context.Context, who authn.Principal, in domain.NewCredential) (store.Credential, error) {
	if err := self(who, in.ProfessionalID, false); err != nil {
		return store.Credential{}, err
	}
	in, err := in.Validate(s.now())
	if err != nil {
		return store.Credential{}, err
	}
	// professional.registered may lag the registration by a moment: until
	// it arrives the professional is unknown here (404).
	if _, err := s.store.Professional(ctx, in.ProfessionalID); err != nil {
		return store.Credential{}, err
	}
	var c store.Credential
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = s.store.AddCredential(ctx, tx, store.Credential{ID: uuid.NewString(), ProfessionalID: in.ProfessionalID,
			LicenseNumber: in.LicenseNumber, IssuingAuthority: in.IssuingAuthority, Country: in.Country,
			Specialty: in.Specialty, ExpiresAt: in.ExpiresAt, SubmittedAt: s.now()})
		if err != nil {
			return err
		}
		e, err := submittedEvent(c)
		if err != nil {
			return err
		}
		return outbox.Add(ctx, tx, e)
	})
	if err != nil {
		return store.Credential{}, fmt.Errorf("submit credential: %w", err)
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "credential submitted", "credentialId", c.ID, "professionalId", c.ProfessionalID)
	return c, nil
}

// list pages through a professional's credentials, newest first.
func (s *Service) list(ctx context.Context, who authn.Principal, id, cursor string, limit int) ([]store.Credential, string, error) {
	if err := self(who, id, true); err != nil {
		return nil, "", err
	}
	after, err := page.Decode(cursor)
	if err != nil {
		return nil, "", err
	}
	if _, err := s.store.Professional(ctx, id); err != nil {
		return nil, "", s.refused(ctx, who, "credential.list", "professional", id, err)
	}
	cs, next, err := s.store.List(ctx, id, after, limit)
	if err != nil {
		return nil, "", err
	}
	if err := s.auditRead(ctx, who, "credential.list", "professional", id); err != nil {
		return nil, "", err
	}
	return cs, next, nil
}

// review applies an admin's verify or reject to a PENDING credential, and
// a verification's effect on the professional's standing, in one
// transaction with their events and the audit entry.
func (s *Service) review(ctx context.Context, who authn.Principal, id string, r domain.Review, reason string) (store.Credential, error) {
	action := "credential." + string(r)
	now := s.now()
	var c store.Credential
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = s.store.Credential(ctx, tx, id); err != nil {
			return err
		}
		to, err := domain.Decide(r, c.Status, c.ExpiresAt, now)
		if err != nil {
			return err
		}
		c, err = s.store.Review(ctx, tx, c, to, reason, who.Subject, now)
		if errors.Is(err, store.ErrStale) {
			return fault.Conflict("Credential already reviewed", "another review came first")
		}
		if err != nil {
			return err
		}
		e, err := reviewedEvent(c, now)
		if err != nil {
			return err
		}
		if err := outbox.Add(ctx, tx, e); err != nil {
			return err
		}
		if to == domain.Verified {
			if _, err := s.restand(ctx, tx, c.ProfessionalID, now); err != nil {
				return err
			}
		}
		return s.auditTx(ctx, tx, action, "credential", c.ID)
	})
	if err != nil {
		return store.Credential{}, s.refused(ctx, who, action, "credential", id, fmt.Errorf("%s %s: %w", action, id, err))
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "credential reviewed", "credentialId", c.ID, "status", c.Status, "actor", who.Subject)
	return c, nil
}

// setLevel sets a professional's level, publishing the change when there
// is one.
func (s *Service) setLevel(ctx context.Context, who authn.Principal, id string, level vocab.Level) (standing, error) {
	if !level.Valid() {
		return standing{}, fault.Invalid("level", "must be one of %s", strings.Join(level.Values(), ", "))
	}
	now := s.now()
	var out standing
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		p, err := s.store.Lock(ctx, tx, id, now)
		if err != nil {
			return err
		}
		if p.Level != level {
			if err := s.store.SetLevel(ctx, tx, p.ID, p.Level, level, now); err != nil {
				return err
			}
			e, err := levelChangedEvent(p.ID, p.Level, level, now)
			if err != nil {
				return err
			}
			if err := outbox.Add(ctx, tx, e); err != nil {
				return err
			}
			p.Level = level
		}
		creds, err := s.store.Credentials(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		out = standingOf(p, creds, now)
		return s.auditTx(ctx, tx, "professional.level.set", "professional", p.ID)
	})
	if err != nil {
		return standing{}, s.refused(ctx, who, "professional.level.set", "professional", id, fmt.Errorf("set level of %s: %w", id, err))
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "level set", "professionalId", id, "level", level, "actor", who.Subject)
	return out, nil
}

// standing is a professional's standing as of now.
type standing struct {
	ProfessionalID string
	Level          vocab.Level
	domain.Standing
}

// standingOf applies the standing rule to p's credentials.
func standingOf(p store.Professional, creds []store.Credential, now time.Time) standing {
	in := make([]domain.Credential, 0, len(creds))
	for _, c := range creds {
		in = append(in, domain.Credential{Status: c.Status, ExpiresAt: c.ExpiresAt})
	}
	return standing{p.ID, p.Level, domain.StandingOf(p.Status, in, now)}
}

// standingNow answers a professional's standing as of now, which may run
// ahead of the published one by up to the expiry check's interval.
func (s *Service) standingNow(ctx context.Context, who authn.Principal, id string) (standing, error) {
	if err := self(who, id, true); err != nil {
		return standing{}, err
	}
	p, err := s.store.Professional(ctx, id)
	if err != nil {
		return standing{}, s.refused(ctx, who, "professional.standing.read", "professional", id, err)
	}
	creds, err := s.store.Credentials(ctx, nil, id)
	if err != nil {
		return standing{}, err
	}
	if err := s.auditRead(ctx, who, "professional.standing.read", "professional", id); err != nil {
		return standing{}, err
	}
	return standingOf(p, creds, s.now()), nil
}

// restand applies the standing rule to a professional under their row
// lock within tx, records a change of status and publishes it; it returns
// the type of the event published, "" when none was.
func (s *Service) restand(ctx context.Context, tx *sql.Tx, id string, now time.Time) (string, error) {
	p, err := s.store.Lock(ctx, tx, id, now)
	if err != nil {
		return "", err
	}
	creds, err := s.store.Credentials(ctx, tx, id)
	if err != nil {
		return "", err
	}
	next := standingOf(p, creds, now).Status
	if next == p.Status {
		return "", nil
	}
	if err := s.store.SetStatus(ctx, tx, id, p.Status, next, now); err != nil {
		return "", fmt.Errorf("standing of %s: %w", id, err)
	}
	typ := domain.Event(p.Status, next)
	if typ == "" {
		return "", nil
	}
	e, err := standingEvent(typ, id, now)
	if err != nil {
		return "", err
	}
	return typ, outbox.Add(ctx, tx, e)
}

// self admits the professional id themself, and an admin when admins is
// set; anyone else gets the 404 of a missing professional.
func self(who authn.Principal, id string, admins bool) error {
	if (admins && authz.IsAdmin(who)) || (who.Role == authn.RoleProfessional && who.Subject != "" && who.Subject == id) {
		return nil
	}
	return fault.NotFound("professional")
}

// entry starts the audit entry of who's action on a resource.
func entry(ctx context.Context, action, resourceType, resourceID, outcome string) kitaudit.Entry {
	e := kitaudit.FromContext(ctx)
	e.Action, e.ResourceType, e.ResourceID, e.Outcome = action, resourceType, resourceID, outcome
	e.Purpose = authz.Purpose(authn.FromContext(ctx))
	return e
}

// auditTx queues the audit entry of an admin's change within tx, so the
// change is never committed without its record.
func (s *Service) auditTx(ctx context.Context, tx *sql.Tx, action, resourceType, resourceID string) error {
	e := entry(ctx, action, resourceType, resourceID, kitaudit.Allowed)
	if err := e.Validate(); err != nil {
		return err
	}
	ev, err := kitaudit.Recorded.New(Name, resourceID, e)
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, ev)
}

// auditRead records an admin's read; its error is the 503 that keeps the
// read from being served unrecorded. A professional's reads of their own
// records are not admin actions and carry no health data.
func (s *Service) auditRead(ctx context.Context, who authn.Principal, action, resourceType, resourceID string) error {
	if !authz.IsAdmin(who) {
		return nil
	}
	return s.Record(ctx, entry(ctx, action, resourceType, resourceID, kitaudit.Allowed))
}

// refused records an admin action that failed on the resource's state (a
// 404 or 409) and returns err, or the 503 of an unrecordable refusal.
func (s *Service) refused(ctx context.Context, who authn.Principal, action, resourceType, resourceID string, err error) error {
	if k := fault.KindOf(err); !authz.IsAdmin(who) || (k != fault.KindNotFound && k != fault.KindConflict) {
		return err
	}
	if rerr := s.Record(ctx, entry(ctx, action, resourceType, resourceID, kitaudit.Denied)); rerr != nil {
		return rerr
	}
	return err
}
