package aiorchestration

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/ai/ai-orchestration/domain"
)

// subscriptions: a submitted case starts its pre-analysis; a withdrawn
// AI_PROCESSING consent or a cancelled case stops it; an erased case or
// deleted record takes its results with it.
var subscriptions = outbox.Subscriptions[*Service]{
	outbox.Handle(events.CaseSubmittedV1, (*Service).onSubmitted),
	outbox.Handle(events.ConsentWithdrawnV1, (*Service).onConsentWithdrawn),
	outbox.Handle(events.CaseCancelledV1, (*Service).onCancelled),
	outbox.Handle(events.CaseErasedV1, (*Service).onCaseErased),
	outbox.Handle(events.DocumentDeletedV1, (*Service).onDocumentDeleted),
}

// onSubmitted opens the case's processing, enqueues its first attempt and
// publishes ai.analysis.started, all in the inbox's transaction: the case
// cannot be dropped between the event and the job. A redelivered event
// finds the processing and changes nothing.
func (s *Service) onSubmitted(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseSubmitted) error {
	if err := uuids(p.CaseID, p.CustomerID); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	now := s.now()
	proc := domain.Processing{ID: id.String(), Kind: domain.KindCase, CaseID: p.CaseID, PatientID: p.CustomerID,
		Specialty: string(p.Specialty), CaseNumber: p.CaseNumber, Status: domain.Queued, Due: now, CreatedAt: now, UpdatedAt: now}
	inserted, err := s.store.Insert(ctx, tx, proc)
	if err != nil || !inserted {
		return err
	}
	if err := s.enqueue(ctx, tx, proc.ID); err != nil {
		return err
	}
	return s.publish(ctx, tx, events.AnalysisStartedV1, proc.CaseID, events.AnalysisProgress{CaseID: proc.CaseID,
		ProcessingID: proc.ID, Timestamp: now})
}

// onConsentWithdrawn sends the patient's waiting cases on without AI: an
// attempt under way finds its processing skipped and drops its result.
func (s *Service) onConsentWithdrawn(ctx context.Context, tx *sql.Tx, e bus.Event, p events.ConsentChanged) error {
	if p.Purpose != vocab.ConsentAIProcessing {
		return nil
	}
	if err := uuids(p.PatientID); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	open, err := s.store.Open(ctx, tx, p.PatientID)
	if err != nil {
		return err
	}
	for _, proc := range open {
		if _, err := s.skip(ctx, tx, proc, domain.ReasonConsentWithdrawn); err != nil {
			return err
		}
	}
	return nil
}

// onCancelled stops a cancelled case's processing; nothing is published:
// the case is closed.
func (s *Service) onCancelled(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseClosed) error {
	proc, err := s.store.LockCase(ctx, tx, p.CaseID)
	if err != nil {
		return ignoreMissing(err)
	}
	next, changed := proc.Skip(s.now(), domain.ReasonCancelled)
	if !changed {
		return nil
	}
	return s.store.Update(ctx, tx, next, nil)
}

// onCaseErased forgets the case's processings and their results: the
// pre-analysis is health data of an erased patient.
func (s *Service) onCaseErased(ctx context.Context, tx *sql.Tx, e bus.Event, p events.CaseErased) error {
	return s.store.ForgetCase(ctx, tx, p.CaseID)
}

// onDocumentDeleted forgets an admin's analyses of a deleted record. A
// case's pre-analysis keeps its findings from it: the professional's
// review rests on what was there when the case was submitted.
func (s *Service) onDocumentDeleted(ctx context.Context, tx *sql.Tx, e bus.Event, p events.DocumentChanged) error {
	return s.store.ForgetDocument(ctx, tx, p.DocumentID)
}

// skip sends proc's case on without AI for reason, in tx: its
// ai.analysis.completed says SKIPPED, and the case enters the pool. It
// returns the processing as it now stands.
func (s *Service) skip(ctx context.Context, tx *sql.Tx, proc domain.Processing, reason string) (domain.Processing, error) {
	next, changed := proc.Skip(s.now(), reason)
	if !changed {
		return next, nil
	}
	if err := s.store.Update(ctx, tx, next, nil); err != nil {
		return next, err
	}
	s.Log.InfoContext(ctx, "AI pre-analysis skipped", "processingId", next.ID, "caseId", next.CaseID, "reason", reason)
	if next.Kind != domain.KindCase {
		return next, nil
	}
	return next, s.publish(ctx, tx, events.AnalysisCompletedV1, next.CaseID, events.AnalysisProgress{CaseID: next.CaseID,
		ProcessingID: next.ID, Outcome: string(domain.Skipped), Timestamp: next.UpdatedAt})
}

// publish adds an event of contract c about case caseID to tx's outbox.
func (s *Service) publish(ctx context.Context, tx *sql.Tx, c bus.Contract[events.AnalysisProgress], caseID string, p events.AnalysisProgress) error {
	ev, err := c.New(Name, caseID, p)
	if err != nil {
		return err
	}
	return outbox.Add(ctx, tx, ev)
}

func uuids(ids ...string) error {
	for _, id := range ids {
		if _, err := uuid.Parse(id); err != nil {
			return fmt.Errorf("id %q: %w", id, err)
		}
	}
	return nil
}

// ignoreMissing treats a case without a processing as done: it was
// cancelled before it was ever submitted.
func ignoreMissing(err error) error {
	if fault.Is(err, fault.KindNotFound) {
		return nil
	}
	return err
}
