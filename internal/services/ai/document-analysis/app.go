package documentanalysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	medicalrecords "github.com/secondopinion/platform/internal/clients/medical-records"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/services/ai/document-analysis/extract"
	"github.com/secondopinion/platform/internal/services/ai/document-analysis/nlp"
	"github.com/secondopinion/platform/internal/services/ai/document-analysis/store"
)

// Statuses of an analysis beyond extract's: FAILED is a record that could
// not be read (too large, unsupported, broken), with the reason.
const statusFailed = "FAILED"

// dicomPrefix is how much of a DICOM file is read: its metadata comes
// before the pixel data, and a study may be gigabytes.
const dicomPrefix = 8 << 20

// analyze reads record id from medical-records, analyses it and stores
// the result, replacing an earlier one. A record that cannot be read is a
// FAILED result, not an error: the case's analysis goes on without it.
// It returns the result and the record's patient.
func (s *Service) analyze(ctx context.Context, id string) (DocumentAnalysis, string, error) {
	if _, err := uuid.Parse(id); err != nil {
		return DocumentAnalysis{}, "", fault.Invalid("documentId", "must be a UUID")
	}
	rec, err := s.records.Record(ctx, id)
	if err != nil {
		return DocumentAnalysis{}, "", err
	}
	a := DocumentAnalysis{DocumentID: rec.ID, CaseID: rec.CaseID, FileType: rec.FileType, Engine: nlp.Version,
		AnalyzedAt: time.Now().UTC().Truncate(time.Microsecond)}
	text, err := s.extractText(ctx, rec)
	var fe *fault.Error
	switch {
	case errors.As(err, &fe) && fe.Kind != fault.KindInternal && fe.Kind != fault.KindUnavailable:
		a.Status, a.Reason = statusFailed, fe.Detail
	case err != nil:
		return DocumentAnalysis{}, "", fmt.Errorf("analyse record %s: %w", id, err)
	default:
		a.Status, a.Tags = string(text.Status), text.Tags
		pages := make([]nlp.Page, len(text.Pages))
		for i, p := range text.Pages {
			pages[i] = nlp.Page{Number: p.Number, Text: p.Text}
			a.Pages = append(a.Pages, PageInfo{Number: p.Number, Method: string(p.Method), Status: string(p.Status), Characters: len(p.Text)})
		}
		a.Analysis = nlp.Analyze(pages)
	}
	result, err := json.Marshal(a)
	if err != nil {
		return DocumentAnalysis{}, "", err
	}
	if err := s.store.Save(ctx, store.Analysis{DocumentID: rec.ID, CaseID: rec.CaseID, PatientID: rec.PatientID,
		Status: a.Status, Version: nlp.Version, Result: result, AnalyzedAt: a.AnalyzedAt}); err != nil {
		return DocumentAnalysis{}, "", err
	}
	// The record's id and the outcome only: never a word of it.
	s.Log.InfoContext(ctx, "record analysed", "documentId", rec.ID, "status", a.Status, "pages", len(a.Pages))
	return a, rec.PatientID, nil
}

// extractText spools record rec's original to a file of the private
// spool folder, which extraction reads at random, and extracts its text;
// the file is gone when it returns.
func (s *Service) extractText(ctx context.Context, rec medicalrecords.Record) (extract.Text, error) {
	content, err := s.records.Content(ctx, rec.ID)
	if err != nil {
		return extract.Text{}, err
	}
	defer content.Close()
	f, err := os.CreateTemp(s.spool, "record-*")
	if err != nil {
		return extract.Text{}, fmt.Errorf("spool record %s: %w", rec.ID, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	var src io.Reader = content
	if rec.FileType == vocab.FileDICOM {
		src = io.LimitReader(content, dicomPrefix)
	}
	size, err := io.Copy(f, src)
	if err != nil {
		return extract.Text{}, fmt.Errorf("spool record %s: %w", rec.ID, err)
	}
	return s.extractor.Extract(ctx, rec.FileType, f, size)
}

// read returns the analysis of record id to who: an admin, or the
// professional assigned to its case while the assignment is active;
// anyone else finds none. Every read is in the audit trail.
func (s *Service) read(ctx context.Context, who authn.Principal, id string) (DocumentAnalysis, error) {
	if _, err := uuid.Parse(id); err != nil {
		return DocumentAnalysis{}, fault.Invalid("documentId", "must be a UUID")
	}
	stored, err := s.store.Get(ctx, id)
	if err != nil {
		return DocumentAnalysis{}, err
	}
	if who.Role != authn.RoleAdmin {
		a, found, err := s.assignments.Active(ctx, stored.CaseID)
		if err != nil {
			return DocumentAnalysis{}, err
		}
		if !found || a.ProfessionalID != who.Subject {
			if err := s.audit(ctx, who, stored.DocumentID, stored.PatientID, kitaudit.Denied); err != nil {
				return DocumentAnalysis{}, err
			}
			return DocumentAnalysis{}, fault.NotFound("analysis")
		}
	}
	var out DocumentAnalysis
	if err := json.Unmarshal(stored.Result, &out); err != nil {
		return DocumentAnalysis{}, fmt.Errorf("read analysis of record %s: %w", id, err)
	}
	if err := s.audit(ctx, who, stored.DocumentID, stored.PatientID, kitaudit.Allowed); err != nil {
		return DocumentAnalysis{}, err
	}
	return out, nil
}

// audit records who's read of the analysis of record id, health data of
// patient.
func (s *Service) audit(ctx context.Context, who authn.Principal, id, patient, outcome string) error {
	e := kitaudit.FromContext(ctx)
	e.Action, e.ResourceType, e.ResourceID, e.PatientID = "document.analysis.read", "document", id, patient
	e.Purpose, e.Outcome = authz.Purpose(who), outcome
	return s.Record(ctx, e)
}
