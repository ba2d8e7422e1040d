// Package medicalrecords is the medical-records service: the records a
// patient sends with a case. An upload is spooled to a private folder
// while it is hashed, its type is sniffed from its content against an
// allow-list (filetype/), and it is stored as a blob encrypted under the
// patient's own data key (kit/crypt, wrapped by a keeper), so that
// destroying that key erases every copy. The same content sent twice to a
// case is one document. The owner and admins read records as sent; the
// professional assigned to the case reads them de-identified where the
// format allows (DICOM, dicom/), and every read is audited. A checklist
// per specialty tells what a case still lacks; case-management asks it
// before a submission over the internal RecordsService.
//
// A patient's records leave with their export (GDPR Art. 20): over the
// internal PatientDataService, patient-identity receives the list of
// their records and each original, decrypted as it streams. On
// patient.erased (Art. 17) their data key, records, blobs and unfinished
// uploads are deleted, and the patient is remembered as erased (their id
// only) so that an upload still under way is refused, not kept.
//
// Read it top-down: module.go (what the binary knows of it), service.go
// (its settings), http.go (the public API), app.go (uploads and reads over
// domain/, store/ and the blobs), events.go (what it publishes and
// consumes), erasure.go (a patient's erasure), export.go (their export),
// rpc.go (RecordsService and PatientDataService).
package medicalrecords

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	caseassignment "github.com/secondopinion/platform/internal/clients/case-assignment"
	casemanagement "github.com/secondopinion/platform/internal/clients/case-management"
	"github.com/secondopinion/platform/internal/kit/blob"
	"github.com/secondopinion/platform/internal/kit/crypt"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/patient/medical-records/domain"
	"github.com/secondopinion/platform/internal/services/patient/medical-records/store"
)

// Config is what the service is configured with. Sizes left zero in a
// Config built in code take their variables' defaults.
type Config struct {
	BucketURL    string           `env:"DOCUMENTS_BUCKET_URL" secret:"url" doc:"where the encrypted records are kept: file:///dir or s3://bucket?endpoint=…&region=…; default DATA_DIR/medical-records/blobs"`
	KeyURL       string           `env:"DOCUMENTS_KEY_URL" secret:"url" doc:"the keeper that wraps each patient's data key: base64key://… or a KMS URL; default a key file under DATA_DIR/medical-records/keys"`
	MaxFile      int64            `env:"DOCUMENTS_MAX_FILE_BYTES" default:"2147483648" doc:"the largest record, in bytes"`
	MaxCase      int64            `env:"DOCUMENTS_MAX_CASE_BYTES" default:"5368709120" doc:"the most a case's records may hold together, in bytes"`
	UploadExpiry time.Duration    `env:"DOCUMENTS_UPLOAD_EXPIRY" default:"24h" doc:"how long an unfinished resumable upload is kept since its last bytes"`
	Checklist    domain.Checklist `env:"DOCUMENTS_CHECKLIST" default:"ONCOLOGY=PATHOLOGY_REPORT+IMAGING_REPORT+TREATMENT_HISTORY,CARDIOLOGY=IMAGING_REPORT+LAB_RESULTS,NEUROLOGY=IMAGING_REPORT,ORTHOPEDICS=IMAGING,RADIOLOGY=IMAGING+IMAGING_REPORT,NEPHROLOGY=LAB_RESULTS,ENDOCRINOLOGY=LAB_RESULTS" doc:"the kinds of record a case of a specialty needs: SPECIALTY=KIND+KIND,…"`
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Validate checks what the variables' types do not.
func (c *Config) Validate() error {
	if c.MaxFile < 0 || c.MaxCase < 0 {
		return errors.New("DOCUMENTS_MAX_FILE_BYTES and DOCUMENTS_MAX_CASE_BYTES must not be negative")
	}
	if c.UploadExpiry < 0 {
		return errors.New("DOCUMENTS_UPLOAD_EXPIRY must not be negative")
	}
	return nil
}

// Service is a running medical-records target.
type Service struct {
	*service.Base
	cfg         Config
	limits      domain.Limits
	store       *store.Store
	bucket      *blob.Bucket
	keeper      *crypt.Keeper
	spool       string // private folder of uploads being checked
	tus         *tus
	cases       *casemanagement.Client
	assignments *caseassignment.Client
}

// Migrate creates or upgrades the service's tables, its outbox and inbox.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the service over a migrated store, opening its bucket and
// keeper.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxFile == 0 {
		cfg.MaxFile = 2 << 30
	}
	if cfg.MaxCase == 0 {
		cfg.MaxCase = 5 << 30
	}
	if cfg.UploadExpiry == 0 {
		cfg.UploadExpiry = 24 * time.Hour
	}
	if cfg.Checklist == nil {
		if err := cfg.Checklist.UnmarshalText([]byte(domain.DefaultChecklist)); err != nil {
			return nil, fmt.Errorf("%s: default checklist: %w", Name, err)
		}
	}
	s := &Service{cfg: cfg, limits: domain.Limits{FileBytes: cfg.MaxFile, CaseBytes: cfg.MaxCase}, store: store.New(deps.DB)}
	var err error
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(s)); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	dir := filepath.Join(deps.DataDir, Name)
	s.spool = filepath.Join(dir, "spool")
	if err := os.MkdirAll(s.spool, 0o700); err != nil {
		return nil, fmt.Errorf("%s: spool folder: %w", Name, err)
	}
	if s.tus, err = s.newTUS(filepath.Join(dir, "uploads")); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	s.Go(s.sweepUploads)
	ctx := context.Background()
	if s.bucket, err = blob.Open(ctx, cfg.BucketURL, dir); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	if s.keeper, err = crypt.OpenKeeper(ctx, cfg.KeyURL, dir); err != nil {
		s.bucket.Close()
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	cases, err := s.Peer(casemanagement.Target)
	if err != nil {
		s.Close()
		return nil, err
	}
	assignments, err := s.Peer(caseassignment.Target)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.cases, s.assignments = casemanagement.New(cases), caseassignment.New(assignments)
	// Records can be neither taken nor read without their store.
	s.Check("documents bucket", s.bucket.Ping)
	s.Check(casemanagement.Target, s.cases.Ready)
	s.Check(caseassignment.Target, s.assignments.Ready)
	s.routes(s.API)
	path, h := patientv1connect.NewRecordsServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers))
	s.ServeRPC(patientv1connect.RecordsServiceName, path, h)
	path, h = patientv1connect.NewPatientDataServiceHandler(&dataServer{s: s}, rpc.Guard(rpcCallers))
	s.ServeRPC(patientv1connect.PatientDataServiceName, path, h)
	return s, nil
}

// Close releases the bucket and the keeper.
func (s *Service) Close() error {
	return errors.Join(s.bucket.Close(), s.keeper.Close())
}
