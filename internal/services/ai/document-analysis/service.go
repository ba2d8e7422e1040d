// Package documentanalysis is the document-analysis service: it reads a
// record's original from medical-records, extracts its text page by page
// (PDF text layer, plain text, DOCX; images and scanned pages through OCR
// when tesseract is installed, else an explicit OCR_UNAVAILABLE; DICOM
// metadata), analyses it with the rule-based medical language processing
// of nlp/ (cited entities, negation and uncertainty, ICD-10 concepts, key
// findings, an extractive summary), and keeps the result, which the
// professional assigned to the case and admins read. Every entity and
// finding cites its page and character span. ai-orchestration has records
// analysed through the internal AnalysisService, which answers their key
// findings and summary.
//
// Read it top-down: module.go (what the binary knows of it), http.go (the
// public API), rpc.go (the internal API), app.go (analysing and reading),
// events.go (what it consumes), extract/ (text from each file type), nlp/
// (the analysis), store/ (the results).
package documentanalysis

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/secondopinion/platform/api/gen/ai/v1/aiv1connect"
	caseassignment "github.com/secondopinion/platform/internal/clients/case-assignment"
	medicalrecords "github.com/secondopinion/platform/internal/clients/medical-records"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/ai/document-analysis/extract"
	"github.com/secondopinion/platform/internal/services/ai/document-analysis/store"
)

// Config is what the service is configured with.
type Config struct {
	Tesseract    string `env:"TESSERACT" default:"tesseract" doc:"the tesseract OCR program; without it, images and scanned pages are OCR_UNAVAILABLE"`
	OCRLanguages string `env:"OCR_LANGUAGES" default:"eng" doc:"tesseract's languages, e.g. eng+deu"`
	PDFCache     string `env:"PDF_ENGINE_CACHE" doc:"a folder for the PDF engine's compiled code, which processes of one build may share; default DATA_DIR/document-analysis/pdfium"`
}

// Service is a running document-analysis target.
type Service struct {
	*service.Base
	store       *store.Store
	records     *medicalrecords.Client
	assignments *caseassignment.Client
	extractor   *extract.Extractor
	// spool holds each record's original while it is read, unencrypted:
	// a private folder, emptied at start in case a crash left one there.
	spool string
}

// Migrate creates or upgrades the service's tables, its outbox and inbox.
var Migrate = service.WithOutbox(store.Migrate)

// New builds the service over a migrated store.
func New(cfg Config, deps service.Deps) (*Service, error) {
	dir := filepath.Join(deps.DataDir, Name)
	s := &Service{store: store.New(deps.DB), spool: filepath.Join(dir, "spool")}
	if err := os.RemoveAll(s.spool); err != nil {
		return nil, fmt.Errorf("%s: empty the spool folder: %w", Name, err)
	}
	if err := os.MkdirAll(s.spool, 0o700); err != nil {
		return nil, fmt.Errorf("%s: spool folder: %w", Name, err)
	}
	var err error
	if s.Base, err = service.NewBase(Name, deps, subscriptions.Bind(s)); err != nil {
		return nil, err
	}
	peer, err := s.Peer(medicalrecords.Target)
	if err != nil {
		return nil, err
	}
	s.records = medicalrecords.New(peer)
	if peer, err = s.Peer(caseassignment.Target); err != nil {
		return nil, err
	}
	s.assignments = caseassignment.New(peer)
	// PDFium compiles once per process; its compiled code is kept under
	// DATA_DIR so that a restart does not pay for it again.
	if cfg.PDFCache == "" {
		cfg.PDFCache = filepath.Join(dir, "pdfium")
	}
	s.extractor = extract.New(extract.Options{Tesseract: cfg.Tesseract, OCRLanguages: cfg.OCRLanguages,
		CompileCacheDir: cfg.PDFCache})
	if !s.extractor.OCRAvailable() {
		s.Log.Warn("tesseract is not installed: images and scanned pages are analysed as OCR_UNAVAILABLE", "tesseract", cfg.Tesseract)
	}
	s.Check(medicalrecords.Target, s.records.Ready)
	s.Check(caseassignment.Target, s.assignments.Ready)
	s.Go(func(ctx context.Context) {
		<-ctx.Done()
		if err := s.extractor.Close(); err != nil {
			s.Log.Error("close the PDF engine", "err", fmt.Sprint(err))
		}
	})
	s.routes(s.API)
	path, h := aiv1connect.NewAnalysisServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers))
	s.ServeRPC(aiv1connect.AnalysisServiceName, path, rpc.Unhurried(h, analyzeDeadline))
	return s, nil
}
