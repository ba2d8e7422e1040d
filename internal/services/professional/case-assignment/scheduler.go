package caseassignment

import (
	"context"
	"time"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/domain"
)

// sweepBatch bounds the rows one sweep handles per kind; the next tick
// takes the rest.
const sweepBatch = 100

// schedule sweeps every Interval until ctx ends. Several replicas may
// sweep at once: each expiry, reminder and escalation is a conditional
// update, and only the replica whose update changed the row publishes its
// event.
func (s *Service) schedule(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		s.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweep expires overdue assignments, tells the professionals of the
// others whose deadline approaches and escalates cases waiting too long.
// Expiry goes first, so that an assignment past its deadline is not
// reminded. Failures are logged and retried on the next tick.
func (s *Service) sweep(ctx context.Context) {
	expired, err := s.expire(ctx)
	if err != nil && ctx.Err() == nil {
		s.Log.ErrorContext(ctx, "expire assignments", "err", err)
	}
	reminded, err := s.remind(ctx)
	if err != nil && ctx.Err() == nil {
		s.Log.ErrorContext(ctx, "remind assignments", "err", err)
	}
	escalated, err := s.escalate(ctx)
	if err != nil && ctx.Err() == nil {
		s.Log.ErrorContext(ctx, "escalate cases", "err", err)
	}
	if expired+reminded+escalated > 0 {
		s.Relay.Notify()
	}
}

// expire ends the ACTIVE assignments past their deadline, returns their
// cases to the pool and keeps each professional from claiming that case
// again. It returns how many this call expired.
func (s *Service) expire(ctx context.Context) (int, error) {
	now := s.now()
	ids, err := s.store.Due(ctx, now, sweepBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		done, err := s.store.Expire(ctx, id, now, endedEvents(events.AssignmentExpiredV1))
		if err != nil {
			return n, err
		}
		if done {
			n++
			s.Log.InfoContext(ctx, "assignment expired", "assignmentId", id)
		}
	}
	return n, nil
}

// remind raises assignment.deadline_approaching for the ACTIVE
// assignments whose next reminder time has come, at most once per share
// (domain.Reminder), and sets when to look at each next. An assignment
// that ended is not listed, and one that ends meanwhile is not told
// (store.Remind). It returns how many this call told.
func (s *Service) remind(ctx context.Context) (int, error) {
	now := s.now()
	as, err := s.store.Reminding(ctx, now, sweepBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range as {
		percent := domain.Reminder(a.ClaimedAt, a.Deadline, now, a.Reminded)
		next, _ := domain.NextReminder(a.ClaimedAt, a.Deadline, max(percent, a.Reminded))
		done, err := s.store.Remind(ctx, a, percent, next, approachingEvents(percent, now))
		if err != nil {
			return n, err
		}
		if done {
			n++
			s.Log.InfoContext(ctx, "deadline approaching", "assignmentId", a.ID, "percent", percent)
		}
	}
	return n, nil
}

// escalate raises assignment.escalated once per pool stay for each case
// waiting longer than the escalation age. A held case does not wait for a
// professional but for its patient's consent, which an admin cannot give:
// it does not escalate, and its clock starts afresh when it joins the
// pool. It returns how many this call escalated.
func (s *Service) escalate(ctx context.Context) (int, error) {
	now := s.now()
	es, err := s.store.Overdue(ctx, s.rules.EscalationCutoff(now), sweepBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range es {
		done, err := s.store.Escalate(ctx, e, now, escalatedEvents(now))
		if err != nil {
			return n, err
		}
		if done {
			n++
			s.Log.InfoContext(ctx, "case escalated", "caseId", e.CaseID)
		}
	}
	return n, nil
}
