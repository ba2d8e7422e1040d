package aiorchestration

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	aiproviders "github.com/secondopinion/platform/internal/clients/ai-providers"
	documentanalysis "github.com/secondopinion/platform/internal/clients/document-analysis"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/ai/ai-orchestration/domain"
)

// processArgs is the job of one attempt at a processing. Ids only: job
// args are kept in plain text after the job ends.
type processArgs struct {
	ProcessingID string `json:"processingId"`
}

func (processArgs) Kind() string { return "ai_process" }

// enqueue adds an attempt at processing id to tx: it commits with the
// state change that asked for it.
func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, id string) error {
	if _, err := s.jobs.InsertTx(ctx, tx, processArgs{ProcessingID: id}, nil); err != nil {
		return fmt.Errorf("enqueue processing %s: %w", id, err)
	}
	return nil
}

// errNoConsent ends an attempt that found no AI_PROCESSING consent.
var errNoConsent = errors.New("no AI_PROCESSING consent")

// stepError is a failed step of an attempt; its reason is a code.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// reason is the code a failure is recorded and shown with: the step and
// the kind of failure, never a message (it could quote a record).
func reason(err error) string {
	step := "ATTEMPT"
	var se *stepError
	if errors.As(err, &se) {
		step = strings.ToUpper(strings.ReplaceAll(se.step, "-", "_"))
	}
	kind := "ERROR"
	switch {
	case errors.Is(err, context.DeadlineExceeded) || fault.Is(err, fault.KindTimeout):
		kind = "TIMEOUT"
	case fault.Is(err, fault.KindUnavailable):
		kind = "UNAVAILABLE"
	case fault.Is(err, fault.KindForbidden):
		kind = "FORBIDDEN"
	case fault.Is(err, fault.KindNotFound):
		kind = "NOT_FOUND"
	case fault.Is(err, fault.KindInvalid):
		kind = "INVALID"
	}
	return step + "_" + kind
}

// work runs one attempt at a processing: claim it, analyse, then record
// the outcome — completed, skipped, retried after a backoff (the job
// snoozes until then) or, after the last attempt, orphaned.
func (s *Service) work(ctx context.Context, job *river.Job[processArgs]) error {
	proc, claimed, err := s.claim(ctx, job.Args.ProcessingID)
	if err != nil || !claimed {
		return err
	}
	started := time.Now()
	actx, cancel := context.WithDeadline(ctx, proc.Due)
	result, err := s.attempt(actx, proc)
	cancel()
	if ctx.Err() != nil {
		// The process is stopping: the attempt goes back, uncounted, for
		// the next start to run.
		s.release(proc)
		return ctx.Err()
	}
	switch {
	case errors.Is(err, errNoConsent):
		_, err := s.settle(ctx, proc, func(tx *sql.Tx, cur domain.Processing) error {
			_, err := s.skip(ctx, tx, cur, domain.ReasonNoConsent)
			return err
		})
		return err
	case err != nil:
		return s.failed(ctx, proc, err)
	}
	completed, err := s.settle(ctx, proc, func(tx *sql.Tx, cur domain.Processing) error {
		next := cur.Complete(s.now())
		if err := s.store.Update(ctx, tx, next, result); err != nil {
			return err
		}
		if next.Kind != domain.KindCase {
			return nil
		}
		return s.publish(ctx, tx, events.AnalysisCompletedV1, next.CaseID, events.AnalysisProgress{CaseID: next.CaseID,
			ProcessingID: next.ID, Outcome: string(domain.Completed), Timestamp: next.CompletedAt})
	})
	if completed && s.metrics != nil && proc.Kind == domain.KindCase {
		s.metrics.CaseDuration.WithLabelValues(caseType(proc.Specialty), Name).Observe(s.now().Sub(proc.CreatedAt).Seconds())
	}
	s.Log.InfoContext(ctx, "AI attempt done", "processingId", proc.ID, "caseId", proc.CaseID, "attempt", proc.Attempts,
		"seconds", time.Since(started).Seconds())
	return err
}

// caseType is the label of case_processing_duration_seconds: the case's
// specialty, a bounded set.
func caseType(specialty string) string {
	if specialty == "" || !vocab.Specialty(specialty).Valid() {
		return "UNKNOWN"
	}
	return specialty
}

// claim starts an attempt at processing id, unless it is final, gone, or
// held by a live attempt elsewhere (claimed is false: nothing to do).
func (s *Service) claim(ctx context.Context, id string) (proc domain.Processing, claimed bool, err error) {
	err = s.store.DB().InTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.store.Lock(ctx, tx, id)
		if err != nil {
			return err
		}
		if !cur.Claimable(s.now()) {
			return nil
		}
		if proc, err = cur.Claim(s.now(), s.cfg.Policy()); err != nil {
			return err
		}
		claimed = true
		return s.store.Update(ctx, tx, proc, nil)
	})
	if fault.Is(err, fault.KindNotFound) {
		// The case was erased since: its job ends with it.
		return proc, false, nil
	}
	return proc, claimed, err
}

// settle records an attempt's outcome with fn, in one transaction, if
// the processing is still that attempt's (applied): one skipped or erased
// meanwhile keeps its state, and the attempt's result is dropped.
func (s *Service) settle(ctx context.Context, proc domain.Processing, fn func(*sql.Tx, domain.Processing) error) (applied bool, err error) {
	err = s.store.DB().InTx(ctx, func(tx *sql.Tx) error {
		cur, err := s.store.Lock(ctx, tx, proc.ID)
		if err != nil {
			return err
		}
		if cur.Status != domain.Running || cur.Attempts != proc.Attempts {
			return nil
		}
		applied = true
		return fn(tx, cur)
	})
	if fault.Is(err, fault.KindNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.Relay.Notify()
	return applied, nil
}

// failed records a failed attempt: the job snoozes until the next one is
// due, or the processing is orphaned (a case, published as
// case.orphaned) or failed (a document).
func (s *Service) failed(ctx context.Context, proc domain.Processing, cause error) error {
	code := reason(cause)
	s.Log.WarnContext(ctx, "AI attempt failed", "processingId", proc.ID, "caseId", proc.CaseID, "attempt", proc.Attempts,
		"reason", code, "err", cause)
	var wait time.Duration
	retry := false
	_, err := s.settle(ctx, proc, func(tx *sql.Tx, cur domain.Processing) error {
		now := s.now()
		next, again := cur.Fail(now, code, s.cfg.Policy())
		if err := s.store.Update(ctx, tx, next, nil); err != nil {
			return err
		}
		if again {
			retry, wait = true, next.Due.Sub(now)
			return nil
		}
		if next.Kind != domain.KindCase {
			return nil
		}
		s.Log.WarnContext(ctx, "case orphaned: it waits in the AI triage", "processingId", next.ID, "caseId", next.CaseID,
			"attempts", next.Attempts, "reason", code)
		ev, err := events.CaseOrphanedV1.New(Name, next.CaseID, events.CaseOrphaned{CaseID: next.CaseID,
			Reason: code, Timestamp: now})
		if err != nil {
			return err
		}
		return outbox.Add(ctx, tx, ev)
	})
	if err != nil || !retry {
		return err
	}
	return river.JobSnooze(wait)
}

// release gives an interrupted attempt back. It runs while the process
// stops, on a context of its own: if it fails, the lease runs out and the
// attempt is claimed again anyway.
func (s *Service) release(proc domain.Processing) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.settle(ctx, proc, func(tx *sql.Tx, cur domain.Processing) error {
		return s.store.Update(ctx, tx, cur.Release(s.now()), nil)
	})
	if err != nil {
		s.Log.Warn("release an interrupted AI attempt", "processingId", proc.ID, "err", err)
	}
}

// attempt analyses proc's documents, or its one document, and returns
// the result to keep (nil for a document: document-analysis keeps it).
func (s *Service) attempt(ctx context.Context, proc domain.Processing) ([]byte, error) {
	consent, err := s.consents.Check(ctx, proc.PatientID, vocab.ConsentAIProcessing)
	if err != nil {
		return nil, &stepError{"consent", err}
	}
	if !consent.Granted {
		return nil, errNoConsent
	}
	if proc.Kind == domain.KindDocument {
		if _, err := s.analyses.Analyze(ctx, proc.DocumentID); err != nil {
			return nil, &stepError{"document-analysis", err}
		}
		return nil, nil
	}
	recs, err := s.records.Documents(ctx, proc.CaseID)
	if err != nil {
		return nil, &stepError{"records", err}
	}
	var pre domain.PreAnalysis
	for _, r := range recs {
		a, err := s.analyses.Analyze(ctx, r.ID)
		if fault.Is(err, fault.KindNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, &stepError{"document-analysis", err}
		}
		pre.Documents = append(pre.Documents, fromAnalysis(a))
	}
	pre = domain.Number(pre)
	if pre.Synthesis, err = s.synthesize(ctx, proc, pre.Documents); err != nil {
		return nil, &stepError{"synthesis", err}
	}
	pre = domain.Number(pre)
	return json.Marshal(toView(pre))
}

// synthesize asks ai-providers for the case's synthesis of docs' sources,
// with what the privacy gate must remove; nil when no document has any.
func (s *Service) synthesize(ctx context.Context, proc domain.Processing, docs []domain.Document) (*domain.Synthesis, error) {
	req := aiproviders.Request{RequestID: proc.ID, CaseID: proc.CaseID, PatientID: proc.PatientID,
		CaseType: "SECOND_OPINION", Specialty: proc.Specialty}
	for i, src := range domain.DocumentSources(docs) {
		if len(src) == 0 {
			continue
		}
		d := aiproviders.Document{ID: docs[i].DocumentID}
		for _, p := range src {
			d.Passages = append(d.Passages, aiproviders.Passage{Page: p.Page, Start: p.Start, End: p.End, Kind: p.Kind,
				Text: p.Text, Confidence: p.Confidence})
		}
		req.Documents = append(req.Documents, d)
	}
	if len(req.Documents) == 0 {
		return nil, nil
	}
	patient, err := s.patients.Patient(ctx, proc.PatientID)
	if err != nil {
		return nil, err
	}
	req.Patient = aiproviders.Patient{DateOfBirth: patient.DateOfBirth, CaseNumber: proc.CaseNumber,
		Names: nonEmpty(patient.FirstName, patient.MiddleName, patient.LastName,
			strings.TrimSpace(patient.FirstName+" "+patient.LastName)),
		Emails: nonEmpty(patient.Email), Phones: nonEmpty(patient.Phone)}
	res, err := s.providers.Synthesize(ctx, req)
	if err != nil {
		return nil, err
	}
	out := &domain.Synthesis{Summary: res.Summary, Provider: res.Provider, Model: res.Model}
	for _, f := range res.KeyFindings {
		out.KeyFindings = append(out.KeyFindings, domain.Finding{Label: f.Text, Confidence: f.Confidence,
			Cite: domain.Cite{DocumentID: f.DocumentID, Page: f.Page, Start: f.Start, End: f.End}})
	}
	return out, nil
}

func nonEmpty(values ...string) []string {
	var out []string
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// fromAnalysis is a document's part of the pre-analysis.
func fromAnalysis(a documentanalysis.Analysis) domain.Document {
	d := domain.Document{DocumentID: a.DocumentID, FileType: a.FileType, Status: a.Status, Reason: a.Reason}
	for _, f := range a.Findings {
		d.Findings = append(d.Findings, domain.Finding{Label: f.Label, Type: f.Type, Code: f.Code, Text: f.Text,
			Flag: f.Flag, Uncertain: f.Uncertain, Historical: f.Historical, Confidence: f.Confidence,
			Cite: domain.Cite{Page: f.Cite.Page, Start: f.Cite.Start, End: f.Cite.End}})
	}
	for _, p := range a.Summary {
		d.Summary = append(d.Summary, domain.Passage{Text: p.Text, Score: p.Score,
			Cite: domain.Cite{Page: p.Cite.Page, Start: p.Cite.Start, End: p.Cite.End}})
	}
	return d
}

// sweeps sweeps at start and every AI_SWEEP_INTERVAL until ctx ends.
func (s *Service) sweeps(ctx context.Context) {
	tick := time.NewTicker(s.cfg.SweepInterval)
	defer tick.Stop()
	for {
		if err := s.sweep(ctx); err != nil && ctx.Err() == nil {
			s.Log.WarnContext(ctx, "sweep of stuck AI processings", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sweep re-enqueues processings that nothing moved for AI_STUCK_AFTER
// past their due time: a job lost, or an attempt whose process died and
// whose job river has not rescued yet. A duplicate job is harmless: only
// one attempt can hold the claim.
func (s *Service) sweep(ctx context.Context) error {
	now := s.now()
	stuck, err := s.store.Stuck(ctx, now.Add(-s.cfg.StuckAfter), 100)
	if err != nil {
		return err
	}
	for _, p := range stuck {
		requeued := false
		err := s.store.DB().InTx(ctx, func(tx *sql.Tx) error {
			cur, err := s.store.Lock(ctx, tx, p.ID)
			if err != nil || !cur.Stuck(now, s.cfg.StuckAfter) {
				return err
			}
			if err := s.store.Update(ctx, tx, cur.Requeue(now), nil); err != nil {
				return err
			}
			requeued = true
			return s.enqueue(ctx, tx, cur.ID)
		})
		if err != nil && !fault.Is(err, fault.KindNotFound) {
			return fmt.Errorf("sweep processing %s: %w", p.ID, err)
		}
		if requeued {
			s.Log.WarnContext(ctx, "stuck AI processing enqueued again", "processingId", p.ID, "caseId", p.CaseID,
				"status", string(p.Status), "due", p.Due)
		}
	}
	return nil
}
