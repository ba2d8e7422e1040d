// Package opinion is the medical-opinion service: the structured opinion
// the assigned professional writes on a case (summary, ICD-10 diagnoses,
// recommendations, confidence, the answer to the patient's question),
// the peer review of JUNIOR professionals' opinions, the patient's reading
// of the approved opinion and its PDF report, and follow-up questions. It
// keeps its own projection of case-assignment's events to know who may
// write which case's opinion until when, reading through to
// case-assignment (AssignmentService) when a write finds no active
// assignment yet, and asks case-management (CaseService) and
// professional-identity (ProfessionalService) for the case and the
// professionals.
package medicalopinion

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/grpchealth"
	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/api/gen/professional/v1/professionalv1connect"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/store"
)

// Name is the service's target name.
const Name = "medical-opinion"

// Peers the service asks.
const (
	casesTarget         = "case-management"       // a case's owner, number, specialty, question
	professionalsTarget = "professional-identity" // a professional's level, status, specialties, name
	assignmentsTarget   = "case-assignment"       // a case's active assignment before its case.assigned arrives
)

// Config is what the service is configured with.
type Config struct {
	// Now is the clock (deadlines, approval, the follow-up window); nil
	// is time.Now.
	Now func() time.Time
}

// Service is a running medical-opinion target.
type Service struct {
	cfg           Config
	log           *slog.Logger
	db            *sqldb.DB
	store         *store.Store
	bus           bus.Transport
	cases         patientv1connect.CaseServiceClient
	professionals professionalv1connect.ProfessionalServiceClient
	assignments   professionalv1connect.AssignmentServiceClient
	casesHealth   *grpchealth.Client
	prosHealth    *grpchealth.Client
	assignHealth  *grpchealth.Client
	relay         *outbox.Relay
	consumer      *outbox.Consumer
	mux           *http.ServeMux
	api           huma.API
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
	if deps.DB == nil || deps.Bus == nil || deps.Peer == nil {
		return nil, errors.New(Name + ": needs a store, a bus and peers")
	}
	casesPeer, err := deps.Peer(casesTarget)
	if err != nil {
		return nil, fmt.Errorf("%s: reach %s: %w", Name, casesTarget, err)
	}
	prosPeer, err := deps.Peer(professionalsTarget)
	if err != nil {
		return nil, fmt.Errorf("%s: reach %s: %w", Name, professionalsTarget, err)
	}
	assignPeer, err := deps.Peer(assignmentsTarget)
	if err != nil {
		return nil, fmt.Errorf("%s: reach %s: %w", Name, assignmentsTarget, err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	opts := rpc.ClientOptions()
	s := &Service{
		cfg:           cfg,
		log:           log.With("service", Name),
		db:            deps.DB,
		store:         store.New(deps.DB),
		bus:           deps.Bus,
		cases:         patientv1connect.NewCaseServiceClient(casesPeer.HTTP, casesPeer.URL, opts...),
		professionals: professionalv1connect.NewProfessionalServiceClient(prosPeer.HTTP, prosPeer.URL, opts...),
		assignments:   professionalv1connect.NewAssignmentServiceClient(assignPeer.HTTP, assignPeer.URL, opts...),
		casesHealth:   grpchealth.NewClient(casesPeer.HTTP, casesPeer.URL, opts...),
		prosHealth:    grpchealth.NewClient(prosPeer.HTTP, prosPeer.URL, opts...),
		assignHealth:  grpchealth.NewClient(assignPeer.HTTP, assignPeer.URL, opts...),
		relay:         outbox.NewRelay(deps.DB, deps.Bus, outbox.RelayOptions{Logger: log}),
		mux:           http.NewServeMux(),
	}
	s.consumer = outbox.NewConsumer(deps.DB, Name, s.handlers(), outbox.ConsumerOptions{Logger: log})
	s.api = httpapi.NewAPI(s.mux, Name, "1.0.0")
	s.routes()
	return s, nil
}

// Handler serves the public REST API.
func (s *Service) Handler() http.Handler { return s.mux }

// OpenAPI describes the public REST API.
func (s *Service) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// Checks reports the health of the peers: no opinion is read, submitted
// or reviewed without case-management and professional-identity, and a
// write right after a claim needs case-assignment.
func (s *Service) Checks() map[string]httpapi.Check {
	return map[string]httpapi.Check{
		casesTarget:         rpc.Serving(s.casesHealth, casesTarget, patientv1connect.CaseServiceName),
		professionalsTarget: rpc.Serving(s.prosHealth, professionalsTarget, professionalv1connect.ProfessionalServiceName),
		assignmentsTarget:   rpc.Serving(s.assignHealth, assignmentsTarget, professionalv1connect.AssignmentServiceName),
	}
}

// Run relays the outbox and consumes the assignment events until ctx
// ends; the relay flushes the outbox on its way out.
func (s *Service) Run(ctx context.Context) error {
	return outbox.Serve(ctx, s.bus, Name, s.relay, s.consumer)
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }
