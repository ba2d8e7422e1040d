package domain

import (
	"maps"
	"slices"
)

// Event is what the machine needs to know of another service's event.
type Event struct {
	Type string
	// ReviewRequired is set on opinion.submitted when the opinion waits
	// for a peer review (a JUNIOR's opinion) before it is approved.
	ReviewRequired bool
}

// Rule is how one event type advances a case.
type Rule struct {
	From []Status // the statuses it applies to; nil means every open status
	To   Status
	// ReviewOnly rules apply only to events with ReviewRequired.
	ReviewOnly bool
	// AI rules apply only when the pipeline has the AI step: without it a
	// case passed the AI's statuses at submission, and a late or stray
	// event of the AI must not pull it back.
	AI bool
}

// Rules maps each consumed event type to its transition. A service that
// joins the journey adds a row here; the machine itself does not change.
//
// What an event does to a case in a status its rule does not list:
//   - ignored when the case already reached or passed the rule's target
//     (a redelivery, or an event overtaken by a later one), when the case
//     is closed, or when it is ORPHANED (manual triage owns it; only
//     ai.analysis.completed and the any-open rules move it);
//   - refused when the case has not yet reached the rule's sources (e.g.
//     case.assigned for a DRAFT). The consumer then retries the event with
//     backoff and finally parks it as a dead letter for an admin, since it
//     tells of an inconsistency between services.
var Rules = map[string]Rule{
	// payment.succeeded continues past SUBMITTED per the pipeline.
	"payment.succeeded":   {From: []Status{AwaitingPayment}, To: Submitted},
	"ai.analysis.started": {From: []Status{Submitted}, To: AIProcessing, AI: true},
	// ai.analysis.completed may overtake its started event, and rescues a
	// case that manual triage got analysed after all.
	"ai.analysis.completed": {From: []Status{Submitted, AIProcessing, Orphaned}, To: AwaitingAssignment, AI: true},
	"case.assigned":         {From: []Status{AwaitingAssignment}, To: Assigned},
	"assignment.expired":    {From: []Status{Assigned}, To: AwaitingAssignment},
	"assignment.released":   {From: []Status{Assigned}, To: AwaitingAssignment},
	"opinion.submitted":     {From: []Status{Assigned}, To: UnderReview, ReviewOnly: true},
	"opinion.approved":      {From: []Status{Assigned, UnderReview}, To: Completed},
	"case.orphaned":         {From: []Status{Submitted, AIProcessing}, To: Orphaned, AI: true},
	"payment.refunded":      {To: Cancelled},
}

// EventTypes lists the consumed event types, sorted.
func EventTypes() []string { return slices.Sorted(maps.Keys(Rules)) }

// On is the change event e makes to a case in status from: the steps to
// take, none when it is ignored, or a refusal.
func (p Pipeline) On(from Status, e Event) ([]Step, error) {
	r, ok := Rules[e.Type]
	if !ok || (r.ReviewOnly && !e.ReviewRequired) || from == r.To || !from.Open() || (r.AI && !p.AI) {
		return nil, nil
	}
	if r.From == nil || slices.Contains(r.From, from) {
		if r.To == Submitted {
			return p.submit(from), nil
		}
		return []Step{{from, r.To}}, nil
	}
	if from == Orphaned || slices.Index(journey, from) >= slices.Index(journey, r.To) {
		return nil, nil
	}
	return nil, refuse(from, e.Type)
}
