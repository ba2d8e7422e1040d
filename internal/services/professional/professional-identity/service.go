// Package professionalidentity is the professional-identity service: it
// registers professionals together with their login in the auth service
// (the login's user id is the professional id), gives each a
// PRO-REGION-XXXXXX number, keeps their profiles, serves them over public
// REST and the internal ProfessionalService gRPC API, publishes
// professional.registered and professional.updated, and keeps each
// profile's level and status as credentialing's events say. Passwords
// never rest here: auth owns them.
//
// Read it top-down: module.go (what the binary knows of it), http.go (the
// public API), professional.go (the application rules over domain/ and
// store/), events.go (what it publishes and consumes), rpc.go
// (ProfessionalService).
package professionalidentity

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/clients/auth"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/professional/professional-identity/domain"
	"github.com/secondopinion/platform/internal/services/professional/professional-identity/store"
)

// Config is what the service is configured with.
type Config struct {
	// Now is the clock of timestamps; nil is time.Now.
	Now func() time.Time
}

// Service is a running professional-identity target.
type Service struct {
	*service.Base
	cfg    Config
	region string
	store  *store.Store
	logins *auth.Client
}

// Migrate creates or upgrades the service's tables, its outbox and inbox.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the service over a migrated store.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if !vocab.Region(deps.Region).Valid() {
		return nil, fmt.Errorf("%s: region %q is not 2-3 upper-case letters", Name, deps.Region)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, region: deps.Region, store: store.New(deps.DB)}
	var err error
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(s)); err != nil {
		return nil, err
	}
	peer, err := s.Peer(auth.Target)
	if err != nil {
		return nil, err
	}
	s.logins = auth.New(peer, s.Log)
	// Nobody can register without auth.
	s.Check(auth.Target, s.logins.Ready)
	s.routes(s.API)
	path, h := professionalv1connect.NewProfessionalServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers))
	s.ServeRPC(professionalv1connect.ProfessionalServiceName, path, h)
	return s, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// newNumber draws a pro number from the cryptographic source.
func (s *Service) newNumber() (string, error) { return domain.NewProNumber(s.region, rand.Reader) }
