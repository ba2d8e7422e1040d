// Package medicalopinion is the medical-opinion service: the structured
// opinion the assigned professional writes on a case (summary, ICD-10
// diagnoses, recommendations, confidence, the answer to the patient's
// question, and their decision on each finding of the case's AI
// pre-analysis, of which the patient reads only the findings kept), the
// peer review of JUNIOR professionals' opinions, the patient's reading of
// the approved opinion and its PDF report, and follow-up questions. It
// keeps its own projection of case-assignment's events to know who may
// write which case's opinion until when, reading through to
// case-assignment when a write finds no active assignment yet, and asks
// case-management and professional-identity for the case and the
// professionals. For a patient's rights over their data, it serves its
// part of their export (the opinions they read, with their reports) over
// the internal PatientDataService gRPC API, and on case.erased keeps of
// the case's opinions only who wrote them and when.
//
// Read it top-down: module.go (what the binary knows of it), http.go (the
// public API), app.go (the application rules over domain/ and store/),
// events.go (what it publishes and consumes, the erasure), report.go (the
// PDF), export.go (PatientDataService).
package medicalopinion

import (
	"time"

	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	caseassignment "github.com/secondopinion/platform/internal/clients/case-assignment"
	casemanagement "github.com/secondopinion/platform/internal/clients/case-management"
	professionalidentity "github.com/secondopinion/platform/internal/clients/professional-identity"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/store"
)

// Config is what the service is configured with.
type Config struct {
	// Now is the clock (deadlines, approval, the follow-up window); nil
	// is time.Now.
	Now func() time.Time
}

// Service is a running medical-opinion target.
type Service struct {
	*service.Base
	cfg           Config
	store         *store.Store
	cases         *casemanagement.Client       // a case's owner, number, specialty, question
	professionals *professionalidentity.Client // a professional's level, status, specialties, name
	assignments   *caseassignment.Client       // a case's active assignment before its case.assigned arrives
}

// Migrate creates or upgrades the service's tables, its outbox and inbox.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the service over a migrated store.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{cfg: cfg, store: store.New(deps.DB)}
	var err error
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(s)); err != nil {
		return nil, err
	}
	cases, err := s.Peer(casemanagement.Target)
	if err != nil {
		return nil, err
	}
	pros, err := s.Peer(professionalidentity.Target)
	if err != nil {
		return nil, err
	}
	assignments, err := s.Peer(caseassignment.Target)
	if err != nil {
		return nil, err
	}
	s.cases, s.professionals, s.assignments = casemanagement.New(cases), professionalidentity.New(pros), caseassignment.New(assignments)
	// No opinion is read, submitted or reviewed without case-management
	// and professional-identity, and a write right after a claim needs
	// case-assignment.
	s.Check(casemanagement.Target, s.cases.Ready)
	s.Check(professionalidentity.Target, s.professionals.Ready)
	s.Check(caseassignment.Target, s.assignments.Ready)
	s.routes(s.API)
	path, h := patientv1connect.NewPatientDataServiceHandler(&dataServer{s: s}, rpc.Guard(dataCallers))
	s.ServeRPC(patientv1connect.PatientDataServiceName, path, h)
	return s, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }
