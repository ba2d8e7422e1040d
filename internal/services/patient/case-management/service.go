// Package cases is the case-management service: it opens cases with their
// REGION-YEAR-XXXXXX numbers, runs each case through its status lifecycle
// (the patient's submit and cancel, and the advances other services'
// events bring), keeps the timeline, and publishes the case events.
package casemanagement

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

	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/patient/case-management/domain"
	"github.com/secondopinion/platform/internal/services/patient/case-management/store"
)

// Name is the service's target name.
const Name = "case-management"

// identityTarget is the peer that knows whether a patient exists.
const identityTarget = "patient-identity"

// Pipeline says which optional steps (payment, AI) a case goes through.
type Pipeline = domain.Pipeline

// Config is what the service is configured with.
type Config struct {
	// Pipeline's zero value has neither payment nor AI: a submitted case
	// goes straight to the pool.
	Pipeline Pipeline
	// Now is the clock (case number years, timestamps); nil is time.Now.
	Now func() time.Time
}

// Service is a running case-management target.
type Service struct {
	cfg      Config
	region   string
	log      *slog.Logger
	db       *sqldb.DB
	store    *store.Store
	bus      bus.Transport
	patients patientv1connect.PatientServiceClient
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
	peer, err := deps.Peer(identityTarget)
	if err != nil {
		return nil, fmt.Errorf("%s: reach %s: %w", Name, identityTarget, err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	s := &Service{
		cfg:      cfg,
		region:   deps.Region,
		log:      log.With("service", Name),
		db:       deps.DB,
		store:    store.New(deps.DB),
		bus:      deps.Bus,
		patients: patientv1connect.NewPatientServiceClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		health:   grpchealth.NewClient(peer.HTTP, peer.URL, rpc.ClientOptions()...),
		relay:    outbox.NewRelay(deps.DB, deps.Bus, outbox.RelayOptions{Logger: log}),
		mux:      http.NewServeMux(),
	}
	s.consumer = outbox.NewConsumer(deps.DB, Name, s.handlers(), outbox.ConsumerOptions{Logger: log})
	s.api = httpapi.NewAPI(s.mux, Name, "1.0.0")
	s.routes()
	s.mux.Handle(patientv1connect.NewCaseServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers)))
	s.mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(patientv1connect.CaseServiceName)))
	return s, nil
}

// Handler serves the public REST API.
func (s *Service) Handler() http.Handler { return s.mux }

// OpenAPI describes the public REST API.
func (s *Service) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// Checks reports patient-identity's health: cases cannot be opened
// without it.
func (s *Service) Checks() map[string]httpapi.Check {
	return map[string]httpapi.Check{identityTarget: rpc.Serving(s.health, identityTarget, patientv1connect.PatientServiceName)}
}

// Run relays the outbox and consumes events until ctx ends; the relay
// flushes the outbox on its way out.
func (s *Service) Run(ctx context.Context) error {
	return outbox.Serve(ctx, s.bus, Name, s.relay, s.consumer)
}

// newNumber draws a case number for the current year.
func (s *Service) newNumber() (string, error) {
	return domain.NewCaseNumber(s.region, s.cfg.Now().UTC().Year(), rand.Reader)
}
