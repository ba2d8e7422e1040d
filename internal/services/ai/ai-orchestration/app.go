package aiorchestration

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/services/ai/ai-orchestration/domain"
)

// result is what a completed case processing keeps: its pre-analysis as
// the API shows it.
type result struct {
	Documents []DocumentPreAnalysis `json:"documents"`
	Synthesis *CaseSynthesis        `json:"synthesis,omitempty"`
}

// processDocument queues an analysis of record id, for an admin.
func (s *Service) processDocument(ctx context.Context, id string) (domain.Processing, error) {
	rec, err := s.records.Record(ctx, id)
	if err != nil {
		return domain.Processing{}, err
	}
	pid, err := uuid.NewV7()
	if err != nil {
		return domain.Processing{}, err
	}
	now := s.now()
	p := domain.Processing{ID: pid.String(), Kind: domain.KindDocument, CaseID: rec.CaseID, DocumentID: rec.ID,
		PatientID: rec.PatientID, Status: domain.Queued, Due: now, CreatedAt: now, UpdatedAt: now}
	err = s.store.DB().InTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.store.Insert(ctx, tx, p); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, p.ID)
	})
	return p, err
}

// status is processing id's state, for an admin, the case's patient or
// its assigned professional; anyone else finds none.
func (s *Service) status(ctx context.Context, who authn.Principal, id string) (domain.Processing, error) {
	p, err := s.store.Get(ctx, id)
	if err != nil {
		return p, err
	}
	switch who.Role {
	case authn.RoleAdmin:
		return p, nil
	case authn.RolePatient:
		if who.Subject == p.PatientID {
			return p, nil
		}
	case authn.RoleProfessional:
		ok, err := s.assigned(ctx, who, p.CaseID)
		if err != nil || ok {
			return p, err
		}
	}
	return domain.Processing{}, fault.NotFound("processing")
}

// assigned reports whether who is the professional assigned to case id
// now.
func (s *Service) assigned(ctx context.Context, who authn.Principal, caseID string) (bool, error) {
	a, found, err := s.assignments.Active(ctx, caseID)
	if err != nil {
		return false, err
	}
	return found && a.ProfessionalID == who.Subject, nil
}

// analysis is case id's pre-analysis, for an admin or the professional
// assigned to it; every read, refused ones included, is audited.
func (s *Service) analysis(ctx context.Context, who authn.Principal, caseID string) (CaseAnalysis, error) {
	p, err := s.store.OfCase(ctx, caseID)
	if fault.Is(err, fault.KindNotFound) {
		return CaseAnalysis{}, fault.NotFound("analysis")
	}
	if err != nil {
		return CaseAnalysis{}, err
	}
	if who.Role != authn.RoleAdmin {
		ok, err := s.assigned(ctx, who, caseID)
		if err != nil {
			return CaseAnalysis{}, err
		}
		if !ok {
			if err := s.audit(ctx, who, "case.analysis.read", p, kitaudit.Denied); err != nil {
				return CaseAnalysis{}, err
			}
			return CaseAnalysis{}, fault.NotFound("analysis")
		}
	}
	out := CaseAnalysis{ProcessingStatus: statusOf(p)}
	raw, err := s.store.Result(ctx, p.ID)
	if err != nil {
		return CaseAnalysis{}, err
	}
	if raw != nil {
		var r result
		if err := json.Unmarshal(raw, &r); err != nil {
			return CaseAnalysis{}, fmt.Errorf("read pre-analysis of case %s: %w", caseID, err)
		}
		out.Documents, out.Synthesis = r.Documents, r.Synthesis
	}
	if err := s.audit(ctx, who, "case.analysis.read", p, kitaudit.Allowed); err != nil {
		return CaseAnalysis{}, err
	}
	return out, nil
}

// triage lists the orphaned cases.
func (s *Service) triage(ctx context.Context, limit int) ([]TriageEntry, error) {
	ps, err := s.store.Orphaned(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]TriageEntry, len(ps))
	for i, p := range ps {
		out[i] = TriageEntry{ProcessingID: p.ID, CaseID: p.CaseID, Specialty: p.Specialty, Reason: p.Reason,
			Attempts: p.Attempts, OrphanedAt: p.UpdatedAt}
	}
	return out, nil
}

// errNotInTriage answers a triage action on a case that is not orphaned.
var errNotInTriage = fault.Conflict("Case not in triage", "only an orphaned case can be retried or sent on")

// retry starts a new round of attempts at an orphaned case, for an admin.
func (s *Service) retry(ctx context.Context, who authn.Principal, caseID string) (domain.Processing, error) {
	var next domain.Processing
	err := s.store.DB().InTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.store.LockCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		if next, err = cur.Retry(s.now()); err != nil {
			return err
		}
		if err := s.store.Update(ctx, tx, next, nil); err != nil {
			return err
		}
		return s.enqueue(ctx, tx, next.ID)
	})
	if err = triageFault(err); err != nil {
		return next, err
	}
	return next, s.audit(ctx, who, "ai.triage.retried", next, kitaudit.Allowed)
}

// sendOn sends an orphaned case to the pool without a pre-analysis, for
// an admin.
func (s *Service) sendOn(ctx context.Context, who authn.Principal, caseID string) (domain.Processing, error) {
	var next domain.Processing
	err := s.store.DB().InTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.store.LockCase(ctx, tx, caseID)
		if err != nil {
			return err
		}
		if cur.Status != domain.Orphaned {
			return domain.ErrNotOrphaned
		}
		next, err = s.skip(ctx, tx, cur, domain.ReasonSentOn)
		return err
	})
	if err = triageFault(err); err != nil {
		return next, err
	}
	s.Relay.Notify()
	return next, s.audit(ctx, who, "ai.triage.sent_on", next, kitaudit.Allowed)
}

func triageFault(err error) error {
	switch {
	case errors.Is(err, domain.ErrNotOrphaned):
		return errNotInTriage
	case fault.Is(err, fault.KindNotFound):
		return fault.NotFound("case in triage")
	}
	return err
}

// audit records who's action on processing p's case, whose patient's
// data it reaches.
func (s *Service) audit(ctx context.Context, who authn.Principal, action string, p domain.Processing, outcome string) error {
	e := kitaudit.FromContext(ctx)
	e.Action, e.ResourceType, e.ResourceID, e.PatientID = action, "case", p.CaseID, p.PatientID
	e.Purpose, e.Outcome = authz.Purpose(who), outcome
	return s.Record(ctx, e)
}

// toView is what a completed case processing keeps of pre.
func toView(pre domain.PreAnalysis) result {
	r := result{Documents: make([]DocumentPreAnalysis, len(pre.Documents))}
	for i, d := range pre.Documents {
		v := DocumentPreAnalysis{DocumentID: d.DocumentID, FileType: d.FileType, Status: d.Status, Reason: d.Reason,
			Findings: findingsView(d.Findings), Summary: make([]AIPassage, len(d.Summary))}
		for j, p := range d.Summary {
			v.Summary[j] = AIPassage{Text: p.Text, Score: p.Score, Citation: citation(p.Cite)}
		}
		r.Documents[i] = v
	}
	if sy := pre.Synthesis; sy != nil {
		r.Synthesis = &CaseSynthesis{Summary: sy.Summary, KeyFindings: findingsView(sy.KeyFindings), Provider: sy.Provider, Model: sy.Model}
	}
	return r
}

func findingsView(fs []domain.Finding) []AIFinding {
	out := make([]AIFinding, len(fs))
	for i, f := range fs {
		out[i] = AIFinding{ID: f.ID, Label: f.Label, Type: f.Type, Code: f.Code, Text: f.Text, Flag: f.Flag,
			Uncertain: f.Uncertain, Historical: f.Historical, Confidence: f.Confidence, Citation: citation(f.Cite)}
	}
	return out
}

func citation(c domain.Cite) Citation {
	return Citation{DocumentID: c.DocumentID, Page: c.Page, Start: c.Start, End: c.End}
}
