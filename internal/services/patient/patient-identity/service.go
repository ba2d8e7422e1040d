// Package identity is the patient-identity service: it registers patients
// (the plan's Customer) together with their login in the auth service,
// keeps their profiles, serves them over public REST and the internal
// PatientService gRPC API, and publishes patient.registered and
// patient.updated. Passwords never rest here: auth owns them.
package patientidentity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/grpchealth"
	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/gen/auth/v1/authv1connect"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/problem"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/patient/patient-identity/store"
	"github.com/secondopinion/platform/internal/services/platform/auth/logins"
)

// Name is the service's target name.
const Name = "patient-identity"

// Config is what the service is configured with: nothing yet, so that
// every target is built alike.
type Config struct{}

// Service is a running patient-identity target.
type Service struct {
	log    *slog.Logger
	db     *sqldb.DB
	store  *store.Store
	logins logins.Client
	health *grpchealth.Client
	relay  *outbox.Relay
	mux    *http.ServeMux
	api    huma.API
}

// Migrate creates or upgrades the service's tables and its outbox.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := outbox.Migrate(ctx, db); err != nil {
		return err
	}
	return store.Migrate(ctx, db)
}

// New builds the service over a migrated store.
func New(_ Config, deps service.Deps) (*Service, error) {
	if deps.DB == nil || deps.Bus == nil || deps.Peer == nil {
		return nil, errors.New(Name + ": needs a store, a bus and peers")
	}
	peer, err := deps.Peer(logins.Target)
	if err != nil {
		return nil, fmt.Errorf("%s: reach %s: %w", Name, logins.Target, err)
	}
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	s := &Service{
		log:    log.With("service", Name),
		db:     deps.DB,
		store:  store.New(deps.DB),
		logins: logins.New(peer, log.With("service", Name)),
		health: grpchealth.NewClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		relay:  outbox.NewRelay(deps.DB, deps.Bus, outbox.RelayOptions{Logger: log}),
		mux:    http.NewServeMux(),
	}
	s.api = httpapi.NewAPI(s.mux, Name, "1.0.0")
	s.routes()
	s.mux.Handle(patientv1connect.NewPatientServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers)))
	s.mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(patientv1connect.PatientServiceName)))
	return s, nil
}

// Handler serves the public REST API and the PatientService gRPC API.
func (s *Service) Handler() http.Handler { return s.mux }

// OpenAPI describes the public REST API.
func (s *Service) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// Checks reports auth's health: nobody can register without it.
func (s *Service) Checks() map[string]httpapi.Check {
	return map[string]httpapi.Check{logins.Target: rpc.Serving(s.health, logins.Target, authv1connect.AuthServiceName)}
}

// Run relays the outbox until ctx ends, then flushes it.
func (s *Service) Run(ctx context.Context) error { return s.relay.Run(ctx) }

// The application functions below take the verified caller (who), which
// the ports hand over. The public API's coarse policy (authz.Register)
// has admitted who's role by then; read and change add ownership and the
// audit trail. The internal PatientService calls get and update directly:
// only other services reach it.

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
	id, err := s.logins.Create(ctx, logins.Login{Email: p.Email, Password: r.Password, Role: "patient", Phone: p.Phone})
	if errors.Is(err, logins.ErrEmailTaken) {
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
	s.relay.Notify()
	s.log.InfoContext(ctx, "patient registered", "patientId", sp.ID, "actor", who.Subject)
	return sp, nil
}

// storeNew stores a new profile with its patient.registered event.
func (s *Service) storeNew(ctx context.Context, p store.Patient) error {
	ev, err := bus.New(Name, EventRegistered, p.ID, Registered{PatientID: p.ID, PreferredChannel: Channel(p.PreferredChannel), Timestamp: p.CreatedAt})
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
	p, err := s.store.Get(ctx, id)
	if err != nil {
		return store.Patient{}, err
	}
	if err := s.audit(ctx, who, "patient.read", id, kitaudit.Allowed); err != nil {
		return store.Patient{}, err
	}
	return p, nil
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
	if err := kitaudit.Record(ctx, s.db, e); err != nil {
		return err
	}
	s.relay.Notify()
	return nil
}

// get reads a patient for the internal API.
// lookup is a peer service's read of a profile: the guard has admitted the
// caller; the read is audited like any other.
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
		ev, err := bus.New(Name, EventUpdated, id, Updated{PatientID: id, ChangedFields: fields, Timestamp: now})
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
		s.relay.Notify()
		s.log.InfoContext(ctx, "patient updated", "patientId", id, "fields", changed, "actor", who.Subject)
	}
	return p, nil
}

// validID refuses what cannot be a patient id before it reaches the store
// (PostgreSQL would fail on it rather than find nothing).
func validID(id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return problem.Invalid("path.id", "must be a UUID")
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
		DateOfBirth: p.DateOfBirth, Email: p.Email, Phone: p.Phone, PreferredChannel: Channel(p.PreferredChannel),
		EmailNotifications: p.EmailNotifications, SMSNotifications: p.SMSNotifications, Metadata: p.Metadata,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
}
