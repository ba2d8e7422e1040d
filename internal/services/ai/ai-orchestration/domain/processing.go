package domain

import (
	"errors"
	"fmt"
	"time"
)

// Kind is what a processing analyses.
type Kind string

// The kinds: a whole case (its documents, then the synthesis), or one
// document asked for by an admin.
const (
	KindCase     Kind = "CASE"
	KindDocument Kind = "DOCUMENT"
)

// Status is where a processing stands.
type Status string

// The statuses. QUEUED waits for its next attempt (due at Due), RUNNING
// is claimed by an attempt until Due (its lease), and the rest are final
// until an admin acts: an ORPHANED case waits in triage.
const (
	Queued    Status = "QUEUED"
	Running   Status = "RUNNING"
	Completed Status = "COMPLETED"
	Failed    Status = "FAILED"   // a document processing out of attempts
	Orphaned  Status = "ORPHANED" // a case processing out of attempts: triage owns it
	Skipped   Status = "SKIPPED"  // sent on without AI: see Reason
)

// Statuses lists every status, for the API's enum.
var Statuses = []string{string(Queued), string(Running), string(Completed), string(Failed), string(Orphaned), string(Skipped)}

// Reasons a case is sent on without the AI, besides a provider's error.
const (
	ReasonNoConsent        = "NO_AI_CONSENT"        // the patient has not granted AI_PROCESSING
	ReasonConsentWithdrawn = "AI_CONSENT_WITHDRAWN" // withdrawn while the case waited
	ReasonSentOn           = "SENT_ON_BY_ADMIN"     // an admin sent an orphaned case on from triage
	ReasonCancelled        = "CASE_CANCELLED"
)

// Final reports whether no attempt will run unless an admin acts.
func (s Status) Final() bool { return s != Queued && s != Running }

// ErrNotOrphaned refuses a triage action on a processing that is not in
// triage.
var ErrNotOrphaned = errors.New("the processing is not orphaned")

// Processing is one run of the AI over a case or a document.
type Processing struct {
	ID         string
	Kind       Kind
	CaseID     string
	DocumentID string // KindDocument only
	PatientID  string
	Specialty  string
	CaseNumber string // for the privacy gate to remove; "" for a document
	Status     Status
	// Attempts counts the attempts of this round; an admin's retry starts
	// a new round.
	Attempts int
	// Due is when a QUEUED processing's next attempt is due, or when a
	// RUNNING one's lease ends: past it, the attempt is presumed dead.
	Due time.Time
	// Reason is the last failure, or why it was skipped or orphaned: a
	// code, never text of the records.
	Reason      string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	CompletedAt time.Time // zero until final
}

// Policy is how often and how far apart attempts run.
type Policy struct {
	MaxAttempts int           // attempts per round before the processing is orphaned (or failed)
	Backoff     time.Duration // before the second attempt; doubled for each further one
	MaxBackoff  time.Duration // the longest wait between attempts
	Lease       time.Duration // how long an attempt may run before it is presumed dead
}

// Validate checks the policy's figures.
func (p Policy) Validate() error {
	switch {
	case p.MaxAttempts < 1:
		return fmt.Errorf("at least one attempt")
	case p.Backoff <= 0 || p.MaxBackoff < p.Backoff:
		return fmt.Errorf("backoff must be positive and at most the longest backoff")
	case p.Lease <= 0:
		return fmt.Errorf("the attempt timeout must be positive")
	}
	return nil
}

// Wait is the pause after attempt n (1-based) failed.
func (p Policy) Wait(n int) time.Duration {
	w := p.Backoff
	for i := 1; i < n && w < p.MaxBackoff; i++ {
		w *= 2
	}
	return min(w, p.MaxBackoff)
}

// Claimable reports whether an attempt may start now: the processing is
// queued, or its last attempt's lease ran out (its process died).
func (p Processing) Claimable(now time.Time) bool {
	return p.Status == Queued || (p.Status == Running && !now.Before(p.Due))
}

// Stuck reports whether a processing is not final and nothing has moved
// it for grace past its due time: its job was lost, and a sweep must
// enqueue another.
func (p Processing) Stuck(now time.Time, grace time.Duration) bool {
	return !p.Status.Final() && now.Sub(p.Due) > grace
}

// Claim starts an attempt at now under pol's lease.
func (p Processing) Claim(now time.Time, pol Policy) (Processing, error) {
	if !p.Claimable(now) {
		return p, fmt.Errorf("processing %s is %s: no attempt may start", p.ID, p.Status)
	}
	p.Status, p.Attempts, p.Due, p.UpdatedAt = Running, p.Attempts+1, now.Add(pol.Lease), now
	return p, nil
}

// Release gives an attempt back unused (its process is stopping): the
// next start runs it at once, without counting it.
func (p Processing) Release(now time.Time) Processing {
	if p.Status != Running {
		return p
	}
	p.Status, p.Attempts, p.Due, p.UpdatedAt = Queued, max(p.Attempts-1, 0), now, now
	return p
}

// Fail ends the running attempt with reason: the processing waits for
// its next attempt, or, after the last, a case is orphaned and a document
// failed. retry says whether another attempt follows.
func (p Processing) Fail(now time.Time, reason string, pol Policy) (out Processing, retry bool) {
	p.Reason, p.UpdatedAt = reason, now
	if p.Attempts < pol.MaxAttempts {
		p.Status, p.Due = Queued, now.Add(pol.Wait(p.Attempts))
		return p, true
	}
	p.Status, p.CompletedAt, p.Due = Orphaned, now, now
	if p.Kind == KindDocument {
		p.Status = Failed
	}
	return p, false
}

// Complete ends the processing with its result.
func (p Processing) Complete(now time.Time) Processing {
	p.Status, p.Reason, p.CompletedAt, p.UpdatedAt, p.Due = Completed, "", now, now, now
	return p
}

// Skip sends the case on without the AI, for reason; a final processing
// stays as it is (changed is false).
func (p Processing) Skip(now time.Time, reason string) (out Processing, changed bool) {
	if p.Status.Final() && p.Status != Orphaned {
		return p, false
	}
	p.Status, p.Reason, p.CompletedAt, p.UpdatedAt, p.Due = Skipped, reason, now, now, now
	return p, true
}

// Retry starts a new round of attempts for an orphaned case, now.
func (p Processing) Retry(now time.Time) (Processing, error) {
	if p.Status != Orphaned {
		return p, ErrNotOrphaned
	}
	p.Status, p.Attempts, p.Due, p.UpdatedAt, p.CompletedAt = Queued, 0, now, now, time.Time{}
	return p, nil
}

// Requeue makes a stuck processing due again now: its job was lost, or
// its attempt's process died (that attempt still counts).
func (p Processing) Requeue(now time.Time) Processing {
	if p.Status.Final() {
		return p
	}
	p.Status, p.Due, p.UpdatedAt = Queued, now, now
	return p
}
