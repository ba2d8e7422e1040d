// Package domain holds the rules of a case in plain Go: its status machine
// (commands from the patient and advances driven by other services'
// events), case numbers and the validation of a new case. It does no I/O.
package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// Status is where a case stands in its lifecycle.
type Status string

const (
	Draft              Status = "DRAFT"
	AwaitingPayment    Status = "AWAITING_PAYMENT"
	Submitted          Status = "SUBMITTED"
	AIProcessing       Status = "AI_PROCESSING"
	AwaitingAssignment Status = "AWAITING_ASSIGNMENT"
	Assigned           Status = "ASSIGNED"
	UnderReview        Status = "UNDER_REVIEW"
	Completed          Status = "COMPLETED"
	Cancelled          Status = "CANCELLED"
	Orphaned           Status = "ORPHANED"
)

// journey is the main path in order; a status's index is how far along it
// the case is, which tells a stale event from an early one.
var journey = []Status{Draft, AwaitingPayment, Submitted, AIProcessing, AwaitingAssignment, Assigned, UnderReview, Completed}

// Statuses lists every status.
var Statuses = append(slices.Clone(journey), Cancelled, Orphaned)

// Open reports whether the case can still change.
func (s Status) Open() bool { return s != Completed && s != Cancelled }

// Pipeline says which optional steps a case goes through. The zero value
// has neither: a submitted case goes straight to the pool.
type Pipeline struct {
	Payment bool // the patient pays before the case is submitted
	AI      bool // the AI pre-analyses the case before it enters the pool
}

// The optional steps by the names configuration gives them.
const (
	StepPayment = "payment"
	StepAI      = "ai"
)

// UnmarshalText reads a comma-separated list of optional steps
// ("payment,ai"; empty for none).
func (p *Pipeline) UnmarshalText(b []byte) error {
	*p = Pipeline{}
	for f := range strings.SplitSeq(string(b), ",") {
		switch strings.ToLower(strings.TrimSpace(f)) {
		case "":
		case StepPayment:
			p.Payment = true
		case StepAI:
			p.AI = true
		default:
			return fmt.Errorf("unknown step %q (steps: %s, %s)", strings.TrimSpace(f), StepPayment, StepAI)
		}
	}
	return nil
}

// String lists the pipeline's optional steps as UnmarshalText reads them.
func (p Pipeline) String() string {
	var steps []string
	if p.Payment {
		steps = append(steps, StepPayment)
	}
	if p.AI {
		steps = append(steps, StepAI)
	}
	return strings.Join(steps, ",")
}

// Step is one status change.
type Step struct {
	From, To Status
}

// Command triggers, recorded in the timeline like event types.
const (
	TriggerCreate = "create"
	TriggerSubmit = "submit"
	TriggerCancel = "cancel"
)

// ErrInvalidTransition is in the chain of every refused transition.
var ErrInvalidTransition = errors.New("invalid case status transition")

func refuse(from Status, trigger string) error {
	return &fault.Error{
		Kind:   fault.KindConflict,
		Title:  "Invalid case status transition",
		Detail: fmt.Sprintf("a %s case cannot take %q", from, trigger),
		Err:    ErrInvalidTransition,
	}
}

// Submit sends a draft on: to payment when the pipeline asks for it,
// otherwise it is submitted at once.
func (p Pipeline) Submit(from Status) ([]Step, error) {
	if from != Draft {
		return nil, refuse(from, TriggerSubmit)
	}
	if p.Payment {
		return []Step{{Draft, AwaitingPayment}}, nil
	}
	return p.submit(Draft), nil
}

// Cancel closes any open case.
func (p Pipeline) Cancel(from Status) ([]Step, error) {
	if !from.Open() {
		return nil, refuse(from, TriggerCancel)
	}
	return []Step{{from, Cancelled}}, nil
}

// submit enters SUBMITTED and, when no AI step exists to move it on,
// continues to the pool: nothing else would ever advance it.
func (p Pipeline) submit(from Status) []Step {
	steps := []Step{{from, Submitted}}
	if !p.AI {
		steps = append(steps, Step{Submitted, AwaitingAssignment})
	}
	return steps
}

// AssigneeMayRead reports whether a case's assigned professional may read
// it in status s: from the claim on, through review, and after completion
// (their opinion answers it); not once it went back to the pool.
func AssigneeMayRead(s Status) bool {
	return s == Assigned || s == UnderReview || s == Completed
}
