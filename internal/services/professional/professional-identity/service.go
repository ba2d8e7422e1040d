// Package identity is the professional-identity service: it registers
// professionals together with their login in the auth service (the login's
// user id is the professional id), gives each a PRO-REGION-XXXXXX number,
// keeps their profiles, serves them over public REST and the internal
// ProfessionalService gRPC API, publishes professional.registered and
// professional.updated, and keeps each profile's level and status as
// credentialing's events say. Passwords never rest here: auth owns them.
package professionalidentity

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/grpchealth"
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/api/gen/auth/v1/authv1connect"
	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/platform/auth/logins"
	"github.com/secondopinion/platform/internal/services/professional/professional-identity/domain"
	"github.com/secondopinion/platform/internal/services/professional/professional-identity/store"
)

// Name is the service's target name.
const Name = "professional-identity"

// Config is what the service is configured with.
type Config struct {
	// Now is the clock of timestamps; nil is time.Now.
	Now func() time.Time
}

// Service is a running professional-identity target.
type Service struct {
	cfg      Config
	region   string
	log      *slog.Logger
	db       *sqldb.DB
	store    *store.Store
	bus      bus.Transport
	logins   logins.Client
	health   *grpchealth.Client
	relay    *outbox.Relay
	consumer *outbox.Consumer
	mux      *http.ServeMux
	api      huma.API
}

// Migrate creates or upgrades the service's tables and its outbox.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := outbox.Migrate(ctx, db); err != nil {
		return err
	}
	return store.Migrate(ctx, db)
}

// New builds the service over a migrated store.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if !domain.ValidRegion(deps.Region) {
		return nil, fmt.Errorf("%s: region %q is not 2-3 upper-case letters", Name, deps.Region)
	}
	if deps.DB == nil || deps.Bus == nil || deps.Peer == nil {
		return nil, errors.New(Name + ": needs a store, a bus and peers")
	}
	peer, err := deps.Peer(logins.Target)
	if err != nil {
		return nil, fmt.Errorf("%s: reach %s: %w", Name, logins.Target, err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	s := &Service{
		cfg:    cfg,
		region: deps.Region,
		log:    log.With("service", Name),
		db:     deps.DB,
		store:  store.New(deps.DB),
		bus:    deps.Bus,
		logins: logins.New(peer, log.With("service", Name)),
		health: grpchealth.NewClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		relay:  outbox.NewRelay(deps.DB, deps.Bus, outbox.RelayOptions{Logger: log}),
		mux:    http.NewServeMux(),
	}
	s.consumer = outbox.NewConsumer(deps.DB, Name, s.handlers(), outbox.ConsumerOptions{Logger: log})
	s.api = httpapi.NewAPI(s.mux, Name, "1.0.0")
	s.routes()
	s.mux.Handle(professionalv1connect.NewProfessionalServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers)))
	s.mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(professionalv1connect.ProfessionalServiceName)))
	return s, nil
}

// Handler serves the public REST API and the ProfessionalService gRPC API.
func (s *Service) Handler() http.Handler { return s.mux }

// OpenAPI describes the public REST API.
func (s *Service) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// Checks reports auth's health: nobody can register without it.
func (s *Service) Checks() map[string]httpapi.Check {
	return map[string]httpapi.Check{logins.Target: rpc.Serving(s.health, logins.Target, authv1connect.AuthServiceName)}
}

// Run relays the outbox and consumes credentialing's events until ctx
// ends; the relay flushes the outbox on its way out.
func (s *Service) Run(ctx context.Context) error {
	return outbox.Serve(ctx, s.bus, Name, s.relay, s.consumer)
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// newNumber draws a pro number from the cryptographic source.
func (s *Service) newNumber() (string, error) { return domain.NewProNumber(s.region, rand.Reader) }
