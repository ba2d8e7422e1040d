package caseassignment

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/domain"
	"github.com/secondopinion/platform/internal/services/professional/case-assignment/store"
)

// Published payloads (the lead's contracts): ids, numbers and times only.
type (
	assignedPayload struct {
		CaseID         string    `json:"caseId"`
		ProfessionalID string    `json:"professionalId"`
		AssignmentID   string    `json:"assignmentId"`
		Deadline       time.Time `json:"deadline"`
		Timestamp      time.Time `json:"timestamp"`
	}
	// endedPayload is assignment.expired and assignment.released.
	endedPayload struct {
		CaseID         string    `json:"caseId"`
		ProfessionalID string    `json:"professionalId"`
		AssignmentID   string    `json:"assignmentId"`
		Timestamp      time.Time `json:"timestamp"`
	}
	escalatedPayload struct {
		CaseID       string    `json:"caseId"`
		CaseNumber   string    `json:"caseNumber"`
		WaitingSince time.Time `json:"waitingSince"`
		Timestamp    time.Time `json:"timestamp"`
	}
)

func assignedEvents(a store.Assignment) ([]bus.Event, error) {
	e, err := bus.New(Name, "case.assigned", a.CaseID, assignedPayload{a.CaseID, a.ProfessionalID, a.ID, a.Deadline, a.ClaimedAt})
	return []bus.Event{e}, err
}

// endedEvents builds the event of an assignment's end, of type typ.
func endedEvents(typ string) store.Events {
	return func(a store.Assignment) ([]bus.Event, error) {
		e, err := bus.New(Name, typ, a.CaseID, endedPayload{a.CaseID, a.ProfessionalID, a.ID, a.EndedAt})
		return []bus.Event{e}, err
	}
}

// escalatedEvents is built with the time of the escalation.
func escalatedEvents(at time.Time) func(store.Entry) ([]bus.Event, error) {
	return func(e store.Entry) ([]bus.Event, error) {
		ev, err := bus.New(Name, "assignment.escalated", e.CaseID, escalatedPayload{e.CaseID, e.CaseNumber, e.OpenedAt, at})
		return []bus.Event{ev}, err
	}
}

// consumed is what the service reads of the events it consumes; each
// handler uses its type's fields.
type consumed struct {
	ProfessionalID string       `json:"professionalId"`
	Specialties    []string     `json:"specialties"`
	Languages      []string     `json:"languages"`
	Level          domain.Level `json:"level"` // professional.registered
	To             domain.Level `json:"to"`    // professional.level_changed
	CaseID         string       `json:"caseId"`
	CaseNumber     string       `json:"caseNumber"`
	Specialty      string       `json:"specialty"`
	Urgency        string       `json:"urgency"`
	Language       string       `json:"language"`
	AgeBand        string       `json:"ageBand"`
	Timestamp      time.Time    `json:"timestamp"`
}

// handlers are the consumed event types; each runs in the inbox's
// transaction, so a redelivered event has no second effect.
func (s *Service) handlers() map[string]outbox.HandlerFunc {
	return map[string]outbox.HandlerFunc{
		"professional.registered":    s.onProfile,
		"professional.updated":       s.onProfile,
		"professional.verified":      s.onStatus(domain.Verified),
		"professional.suspended":     s.onStatus(domain.Suspended),
		"professional.level_changed": s.onLevel,
		"case.awaiting_assignment":   s.onAwaiting,
		"case.cancelled":             s.onClosed,
		"case.completed":             s.onClosed,
		"opinion.submitted":          s.onSubmitted,
	}
}

// decode reads an event's payload; its timestamp, which orders the
// changes of one professional, defaults to the envelope's.
func decode(e bus.Event) (consumed, error) {
	var p consumed
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return p, fmt.Errorf("%s %s: payload: %w", e.Type, e.ID, err)
	}
	if p.Timestamp.IsZero() {
		p.Timestamp = e.Timestamp
	}
	return p, nil
}

// or is id, else the event's aggregate id: every consumed event is keyed
// by the professional or the case it is about.
func or(id string, e bus.Event) string {
	if id == "" {
		return e.AggregateID
	}
	return id
}

func (s *Service) onProfile(ctx context.Context, tx *sql.Tx, e bus.Event) error {
	p, err := decode(e)
	if err != nil {
		return err
	}
	level := p.Level
	if !level.Valid() {
		level = domain.Junior
	}
	return s.store.SaveProfile(ctx, tx, store.Profile{ID: or(p.ProfessionalID, e), Specialties: p.Specialties, Languages: p.Languages,
		Level: level, At: p.Timestamp})
}

func (s *Service) onStatus(st domain.Status) outbox.HandlerFunc {
	return func(ctx context.Context, tx *sql.Tx, e bus.Event) error {
		p, err := decode(e)
		if err != nil {
			return err
		}
		return s.store.SetStatus(ctx, tx, or(p.ProfessionalID, e), st, p.Timestamp)
	}
}

func (s *Service) onLevel(ctx context.Context, tx *sql.Tx, e bus.Event) error {
	p, err := decode(e)
	if err != nil {
		return err
	}
	if !p.To.Valid() {
		// A level this service cannot rank would never heal on retry; the
		// dead letter shows it to an admin.
		return fmt.Errorf("%s %s: unknown level %q", e.Type, e.ID, p.To)
	}
	return s.store.SetLevel(ctx, tx, or(p.ProfessionalID, e), p.To, p.Timestamp)
}

// onAwaiting puts a case into the pool with the level its specialty and
// urgency require.
func (s *Service) onAwaiting(ctx context.Context, tx *sql.Tx, e bus.Event) error {
	p, err := decode(e)
	if err != nil {
		return err
	}
	if !domain.ValidSpecialty(p.Specialty) || !domain.ValidUrgency(p.Urgency) || p.Language == "" {
		return fmt.Errorf("%s %s: specialty, urgency or language outside the vocabulary", e.Type, e.ID)
	}
	return s.store.Enter(ctx, tx, store.Entry{CaseID: or(p.CaseID, e), CaseNumber: p.CaseNumber, Specialty: p.Specialty,
		Urgency: p.Urgency, Language: p.Language, AgeBand: p.AgeBand,
		RequiredLevel: s.cfg.Rules.RequiredLevel(p.Specialty, p.Urgency), OpenedAt: p.Timestamp})
}

func (s *Service) onClosed(ctx context.Context, tx *sql.Tx, e bus.Event) error {
	p, err := decode(e)
	if err != nil {
		return err
	}
	return s.store.Close(ctx, tx, or(p.CaseID, e), p.CaseNumber, p.Timestamp)
}

// onSubmitted stops the deadline clock of the submitting professional's
// assignment.
func (s *Service) onSubmitted(ctx context.Context, tx *sql.Tx, e bus.Event) error {
	p, err := decode(e)
	if err != nil {
		return err
	}
	caseID := or(p.CaseID, e)
	ok, err := s.store.Deliver(ctx, tx, caseID, p.ProfessionalID)
	if err == nil && !ok {
		s.log.WarnContext(ctx, "opinion submitted without an active assignment", "eventId", e.ID, "caseId", caseID)
	}
	return err
}
