package casemanagement

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/problem"
	"github.com/secondopinion/platform/internal/services/patient/case-management/domain"
	"github.com/secondopinion/platform/internal/services/patient/case-management/store"
)

// Published payloads. Titles and questions are health data and never
// leave the service in an event.
type (
	// createdPayload is the migration plan's case.created, exactly.
	createdPayload struct {
		CaseID     string    `json:"caseId"`
		CustomerID string    `json:"customerId"`
		CaseNumber string    `json:"caseNumber"`
		Timestamp  time.Time `json:"timestamp"`
	}
	submittedPayload struct {
		CaseID     string    `json:"caseId"`
		CustomerID string    `json:"customerId"`
		CaseNumber string    `json:"caseNumber"`
		Specialty  string    `json:"specialty"`
		Urgency    string    `json:"urgency"`
		Timestamp  time.Time `json:"timestamp"`
	}
	statusChangedPayload struct {
		CaseID     string        `json:"caseId"`
		CaseNumber string        `json:"caseNumber"`
		From       domain.Status `json:"from"`
		To         domain.Status `json:"to"`
		Trigger    string        `json:"trigger"`
		Timestamp  time.Time     `json:"timestamp"`
	}
	// awaitingPayload is case.awaiting_assignment: what the pool needs to
	// match the case, de-identified (an age band, no title or question).
	awaitingPayload struct {
		CaseID     string    `json:"caseId"`
		CaseNumber string    `json:"caseNumber"`
		Specialty  string    `json:"specialty"`
		Urgency    string    `json:"urgency"`
		Language   string    `json:"language"`
		AgeBand    string    `json:"ageBand"`
		Timestamp  time.Time `json:"timestamp"`
	}
	// closedPayload is case.cancelled and case.completed.
	closedPayload struct {
		CaseID     string    `json:"caseId"`
		CaseNumber string    `json:"caseNumber"`
		Timestamp  time.Time `json:"timestamp"`
	}
)

func createdEvents(c store.Case) ([]bus.Event, error) {
	e, err := bus.New(Name, "case.created", c.ID, createdPayload{c.ID, c.CustomerID, c.CaseNumber, c.CreatedAt})
	return []bus.Event{e}, err
}

// changeEvents are the events of a recorded change: a status_changed per
// step, plus case.submitted, case.awaiting_assignment, case.cancelled or
// case.completed when a step enters that status.
func changeEvents(c store.Case, ch store.Change) ([]bus.Event, error) {
	var out []bus.Event
	add := func(typ string, payload any) error {
		e, err := bus.New(Name, typ, c.ID, payload)
		out = append(out, e)
		return err
	}
	at := c.UpdatedAt
	for _, st := range ch.Steps {
		if err := add("case.status_changed", statusChangedPayload{c.ID, c.CaseNumber, st.From, st.To, ch.Reason, at}); err != nil {
			return nil, err
		}
		var err error
		switch st.To {
		case domain.Submitted:
			err = add("case.submitted", submittedPayload{c.ID, c.CustomerID, c.CaseNumber, c.Specialty, c.Urgency, at})
		case domain.AwaitingAssignment:
			err = add("case.awaiting_assignment", awaitingPayload{c.ID, c.CaseNumber, c.Specialty, c.Urgency, c.Language, c.AgeBand, at})
		case domain.Cancelled:
			err = add("case.cancelled", closedPayload{c.ID, c.CaseNumber, at})
		case domain.Completed:
			err = add("case.completed", closedPayload{c.ID, c.CaseNumber, at})
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// consumedPayload is what the service reads of the events it consumes.
type consumedPayload struct {
	CaseID         string `json:"caseId"`
	ReviewRequired bool   `json:"reviewRequired"` // opinion.submitted
	ProfessionalID string `json:"professionalId"` // case.assigned, assignment.*
}

// assignee is the professional a change leaves the case with: the one
// case.assigned names, none after an assignment ends, else unchanged.
func assignee(typ string, p consumedPayload) *string {
	switch typ {
	case "case.assigned":
		return &p.ProfessionalID
	case "assignment.expired", "assignment.released":
		none := ""
		return &none
	}
	return nil
}

// handlers subscribes every event type of the domain's rule table.
func (s *Service) handlers() map[string]outbox.HandlerFunc {
	hs := map[string]outbox.HandlerFunc{}
	for _, typ := range domain.EventTypes() {
		hs[typ] = s.onEvent
	}
	return hs
}

// onEvent advances a case as the domain's rules say, within the inbox's
// transaction, so a redelivered event has no second effect.
func (s *Service) onEvent(ctx context.Context, tx *sql.Tx, e bus.Event) error {
	var p consumedPayload
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return fmt.Errorf("%s %s: payload: %w", e.Type, e.ID, err)
	}
	id := p.CaseID
	if id == "" {
		id = e.AggregateID
	}
	c, err := s.store.Load(ctx, tx, id)
	if problem.StatusOf(err) == http.StatusNotFound {
		// Retrying cannot make the case appear: every case exists before
		// any event about it.
		s.log.WarnContext(ctx, "event for an unknown case", "eventId", e.ID, "type", e.Type)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	if ends := e.Type == "assignment.expired" || e.Type == "assignment.released"; ends && p.ProfessionalID != c.ProfessionalID {
		// The end of an earlier assignment, overtaken by the next one.
		s.log.DebugContext(ctx, "event of a former assignment ignored", "eventId", e.ID, "type", e.Type, "caseId", c.ID)
		return nil
	}
	steps, err := s.cfg.Pipeline.On(c.Status, domain.Event{Type: e.Type, ReviewRequired: p.ReviewRequired})
	if err != nil {
		return fmt.Errorf("%s %s on case %s: %w", e.Type, e.ID, c.ID, err)
	}
	if len(steps) == 0 {
		s.log.DebugContext(ctx, "event ignored", "eventId", e.ID, "type", e.Type, "caseId", c.ID, "status", c.Status)
		return nil
	}
	ch := store.Change{Steps: steps, Reason: e.Type, EventID: e.ID, At: s.now(), Assignee: assignee(e.Type, p)}
	if _, err := s.apply(ctx, tx, c, ch); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	return nil
}
