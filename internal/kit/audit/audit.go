// Package audit is the client side of the audit trail: the Entry every
// service records for each access to health data, and Record, which queues
// it as an audit.recorded event in the calling service's own outbox. Going
// through the outbox keeps an entry safe while the audit service is slow or
// down; the audit service consumes the event and chains the entry.
package audit

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/logging"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// Recorded is the contract of the event that carries an Entry: every
// service emits it, the audit service consumes it.
var Recorded = bus.Contract[Entry]{Type: "audit.recorded", Version: 1, Producer: bus.AnyProducer,
	Summary: "A service recorded an access to health data, for the audit trail."}

// Outcomes of an access.
const (
	Allowed = "allowed"
	Denied  = "denied"
	Error   = "error"
)

// Entry is one access to record. It is also the event's payload, so it
// holds identifiers and codes only: never names, emails or health data.
// Purpose is a short code such as "patient-self-access" or "treatment".
type Entry struct {
	Actor        string    `json:"actor"` // subject id of the caller; "" when anonymous
	ActorRole    string    `json:"actorRole"`
	Action       string    `json:"action"` // e.g. "patient.read", "case.read"
	ResourceType string    `json:"resourceType"`
	ResourceID   string    `json:"resourceId"`
	PatientID    string    `json:"patientId"` // whose data was reached, for their own access log
	Purpose      string    `json:"purpose"`
	ClientAddr   string    `json:"clientAddr"`
	UserAgent    string    `json:"userAgent"`
	RequestID    string    `json:"requestId"`
	Outcome      string    `json:"outcome"` // Allowed, Denied or Error
	At           time.Time `json:"at"`
}

// Validate reports an entry the audit service could not chain meaningfully.
func (e Entry) Validate() error {
	if e.Action == "" {
		return fmt.Errorf("audit entry: action is empty")
	}
	switch e.Outcome {
	case Allowed, Denied, Error:
		return nil
	}
	return fmt.Errorf("audit entry %s: outcome %q is none of allowed, denied, error", e.Action, e.Outcome)
}

// Record queues e as an audit.recorded event in db's outbox, in a short
// transaction of its own; a zero At becomes now. The caller's relay
// publishes it (call its Notify afterwards to publish without waiting for
// the next poll).
//
// A read of health data must not be served when Record fails: the error is
// classified as 503 Service Unavailable (fault.Unavailable), so a huma
// handler simply returns it and a plain handler hands it to
// httpapi.WriteProblem.
func Record(ctx context.Context, db *sqldb.DB, e Entry) error {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC()
	if err := e.Validate(); err != nil {
		return fmt.Errorf("record audit entry: %w", err)
	}
	ev, err := Recorded.New(db.Service, aggregate(e), e)
	if err != nil {
		return fmt.Errorf("record audit entry %s: %w", e.Action, err)
	}
	err = db.InTx(ctx, func(tx *sql.Tx) error { return outbox.Add(ctx, tx, ev) })
	if err != nil {
		return fmt.Errorf("record audit entry %s: %w", e.Action, fault.Unavailable("the audit trail", err))
	}
	return nil
}

// aggregate keys the event by the resource reached, so the entries about
// one resource stay in order on the bus.
func aggregate(e Entry) string {
	if e.ResourceID != "" {
		return e.ResourceID
	}
	return e.Actor
}

// FromContext starts an entry for the request of ctx: the verified
// caller, where the request came from (when WithClient put it in) and its
// request id. The caller fills in the action, resource, patient, purpose
// and outcome.
func FromContext(ctx context.Context) Entry {
	p := authn.FromContext(ctx)
	c, _ := ctx.Value(clientKey{}).(client)
	return Entry{
		Actor:      p.Subject,
		ActorRole:  string(p.Role),
		ClientAddr: c.addr,
		UserAgent:  c.agent,
		RequestID:  logging.RequestID(ctx),
		At:         time.Now().UTC(),
	}
}

type clientKey struct{}

type client struct{ addr, agent string }

// WithClient keeps the client's address and user agent in ctx for
// FromContext. It changes only the context, not the request, so that it
// can run inside huma middleware without hiding the matched route from the
// platform's middleware. The platform middleware decides the address (see
// httpapi.Options.TrustedProxies).
func WithClient(ctx context.Context, addr, userAgent string) context.Context {
	return context.WithValue(ctx, clientKey{}, client{addr: addr, agent: userAgent})
}
