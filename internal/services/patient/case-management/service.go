// Package casemanagement is the case-management service: it opens cases
// with their REGION-YEAR-XXXXXX numbers, runs each case through its status
// lifecycle (the patient's submit and cancel, and the advances other
// services' events bring), keeps the timeline, and publishes the case
// events. For GDPR it gives patient-identity its part of a patient's
// export (Art. 20), and erases a patient's cases on patient.erased (Art.
// 17), publishing case.erased for each and keeping only their ids.
//
// Read it top-down: module.go (what the binary knows of it), http.go (the
// public API), app.go (the application rules over domain/ and store/),
// events.go (what it publishes and consumes, the erasure among them),
// rpc.go (CaseService, and PatientDataService for the export).
package casemanagement

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/api/vocab"
	medicalrecords "github.com/secondopinion/platform/internal/clients/medical-records"
	patientidentity "github.com/secondopinion/platform/internal/clients/patient-identity"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/patient/case-management/domain"
	"github.com/secondopinion/platform/internal/services/patient/case-management/store"
)

// Pipeline says which optional steps (payment, AI) a case goes through.
type Pipeline = domain.Pipeline

// Config is what the service is configured with.
type Config struct {
	// Pipeline's zero value has neither payment nor AI: a submitted case
	// goes straight to the pool.
	Pipeline Pipeline `env:"CASE_STEPS,empty" default:"payment,ai" doc:"the optional steps of a case before the pool: payment, ai (comma-separated; empty for none). With payment, payments must run: a paid case is submitted; with ai, ai-orchestration must run: it moves submitted cases on"`
	// Now is the clock (case number years, timestamps); nil is time.Now.
	Now func() time.Time
}

// Service is a running case-management target.
type Service struct {
	*service.Base
	cfg      Config
	region   string
	store    *store.Store
	patients *patientidentity.Client
	records  *medicalrecords.Client
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
	peer, err := s.Peer(patientidentity.Target)
	if err != nil {
		return nil, err
	}
	s.patients = patientidentity.New(peer)
	// Cases cannot be opened without patient-identity.
	s.Check(patientidentity.Target, s.patients.Ready)
	if peer, err = s.Peer(medicalrecords.Target); err != nil {
		return nil, err
	}
	// Nor submitted without medical-records' checklist.
	s.records = medicalrecords.New(peer)
	s.Check(medicalrecords.Target, s.records.Ready)
	s.routes(s.API)
	path, h := patientv1connect.NewCaseServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers))
	s.ServeRPC(patientv1connect.CaseServiceName, path, h)
	path, h = patientv1connect.NewPatientDataServiceHandler(&dataServer{s: s}, rpc.Guard(dataCallers))
	s.ServeRPC(patientv1connect.PatientDataServiceName, path, h)
	return s, nil
}

// newNumber draws a case number for the current year.
func (s *Service) newNumber() (string, error) {
	return domain.NewCaseNumber(s.region, s.cfg.Now().UTC().Year(), rand.Reader)
}
