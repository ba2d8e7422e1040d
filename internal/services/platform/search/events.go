package search

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/platform/search/domain"
	"github.com/secondopinion/platform/internal/services/platform/search/store"
)

// subscriptions are the events the index is built from. Each handler
// runs in the inbox's transaction, after the journal recorded the event
// (Journaled), and is idempotent and order-proof (domain.Case.Apply): a
// rebuild replays the same handlers over the journal, beside the live
// consumer.
//
// ai.analysis.completed is not among them: it says only whether a
// pre-analysis exists, nothing to search by, and the analysis itself is
// a workflow aid for the professional that a patient must not see
// unreviewed.
var subscriptions = outbox.Subscriptions[*projector]{
	outbox.Handle(events.CaseCreatedV1, (*projector).onCreated),
	outbox.Handle(events.CaseSubmittedV1, (*projector).onSubmitted),
	outbox.Handle(events.CaseStatusChangedV1, (*projector).onStatusChanged),
	outbox.Handle(events.CaseAwaitingAssignmentV1, (*projector).onAwaiting),
	outbox.Handle(events.CaseCancelledV1, closed(vocab.Cancelled)),
	outbox.Handle(events.CaseCompletedV1, closed(vocab.Completed)),
	outbox.Handle(events.CaseAssignedV1, (*projector).onAssigned),
	outbox.Handle(events.AssignmentReleasedV1, (*projector).onEnded),
	outbox.Handle(events.AssignmentExpiredV1, (*projector).onEnded),
	outbox.Handle(events.ConsentGrantedV1, consent(true)),
	outbox.Handle(events.ConsentWithdrawnV1, consent(false)),
	outbox.Handle(events.CaseErasedV1, (*projector).onCaseErased),
	outbox.Handle(events.PatientErasedV1, (*projector).onPatientErased),
}

// projector applies events to the index. It is the service's consumer
// and Rebuild's alike, so it needs nothing but the store.
type projector struct {
	store *store.Store
	log   *slog.Logger
	// wake is told that a case may need its text (nil in a rebuild).
	wake func()
}

// Rebuild builds the index again from the journal of the events search
// consumed: it empties the cases and consents and replays every recorded
// event through the live handlers, reporting progress (done and total
// events) after each batch. The texts fetched before stay (case_texts);
// those of cases the replay did not bring back are deleted, and the
// running service fetches any text still missing. It may run while the
// service consumes: both apply the same order-proof projections.
func Rebuild(ctx context.Context, db *sqldb.DB, progress func(done, total int64)) error {
	p := &projector{store: store.New(db), log: slog.Default()}
	if err := p.store.Reset(ctx); err != nil {
		return fmt.Errorf("%s rebuild: %w", Name, err)
	}
	if err := outbox.ReplayJournal(ctx, db, subscriptions.Bind(p), progress); err != nil {
		return fmt.Errorf("%s rebuild: %w", Name, err)
	}
	if _, err := p.store.DropOrphanTexts(ctx); err != nil {
		return fmt.Errorf("%s rebuild: %w", Name, err)
	}
	return nil
}

// Rebuild rebuilds the service's own index (see the function Rebuild), for
// `secondopinion search rebuild`.
func (s *Service) Rebuild(ctx context.Context, progress func(done, total int64)) error {
	return Rebuild(ctx, s.DB, progress)
}

// or is id, else the event's aggregate id.
func or(id string, e bus.Event) string {
	if id == "" {
		return e.AggregateID
	}
	return id
}

// at is a payload's timestamp, else the envelope's.
func at(t time.Time, e bus.Event) time.Time {
	if t.IsZero() {
		return e.Timestamp
	}
	return t
}

func (p *projector) onCreated(ctx context.Context, tx *sql.Tx, e bus.Event, ev events.CaseCreated) error {
	return p.apply(ctx, tx, e, or(ev.CaseID, e), domain.Change{At: at(ev.Timestamp, e), PatientID: ev.CustomerID,
		Number: ev.CaseNumber, Status: vocab.Draft})
}

func (p *projector) onSubmitted(ctx context.Context, tx *sql.Tx, e bus.Event, ev events.CaseSubmitted) error {
	return p.apply(ctx, tx, e, or(ev.CaseID, e), domain.Change{At: at(ev.Timestamp, e), PatientID: ev.CustomerID,
		Number: ev.CaseNumber, Specialty: string(ev.Specialty), Urgency: string(ev.Urgency), Status: vocab.Submitted})
}

func (p *projector) onStatusChanged(ctx context.Context, tx *sql.Tx, e bus.Event, ev events.CaseStatusChanged) error {
	if !ev.To.Valid() {
		// It would never heal on retry; the dead letter shows it to an admin.
		return fmt.Errorf("%s %s: unknown status %q", e.Type, e.ID, ev.To)
	}
	return p.apply(ctx, tx, e, or(ev.CaseID, e), domain.Change{At: at(ev.Timestamp, e), Number: ev.CaseNumber, Status: ev.To})
}

func (p *projector) onAwaiting(ctx context.Context, tx *sql.Tx, e bus.Event, ev events.CaseAwaitingAssignment) error {
	return p.apply(ctx, tx, e, or(ev.CaseID, e), domain.Change{At: at(ev.Timestamp, e), PatientID: ev.CustomerID,
		Number: ev.CaseNumber, Specialty: string(ev.Specialty), Urgency: string(ev.Urgency), Language: string(ev.Language),
		AgeBand: string(ev.AgeBand), Status: vocab.AwaitingAssignment})
}

// closed handles case.cancelled and case.completed, which end in status.
func closed(status vocab.CaseStatus) func(*projector, context.Context, *sql.Tx, bus.Event, events.CaseClosed) error {
	return func(p *projector, ctx context.Context, tx *sql.Tx, e bus.Event, ev events.CaseClosed) error {
		return p.apply(ctx, tx, e, or(ev.CaseID, e), domain.Change{At: at(ev.Timestamp, e), Number: ev.CaseNumber, Status: status})
	}
}

func (p *projector) onAssigned(ctx context.Context, tx *sql.Tx, e bus.Event, ev events.CaseAssigned) error {
	return p.apply(ctx, tx, e, or(ev.CaseID, e), domain.Change{At: at(ev.Timestamp, e),
		Assignment: &domain.Assignment{ID: ev.AssignmentID, ProfessionalID: ev.ProfessionalID}})
}

func (p *projector) onEnded(ctx context.Context, tx *sql.Tx, e bus.Event, ev events.AssignmentEnded) error {
	return p.apply(ctx, tx, e, or(ev.CaseID, e), domain.Change{At: at(ev.Timestamp, e),
		Assignment: &domain.Assignment{ID: ev.AssignmentID, ProfessionalID: ev.ProfessionalID, Ended: true}})
}

// apply folds ch into case id's row under the case's and its patient's
// locks. An event about an erased case or patient is dropped, and its
// journal row with it, so that neither this nor a rebuild indexes it
// again.
func (p *projector) apply(ctx context.Context, tx *sql.Tx, e bus.Event, id string, ch domain.Change) error {
	if id == "" {
		return fmt.Errorf("%s %s: no case id", e.Type, e.ID)
	}
	if err := p.store.Lock(ctx, tx, id); err != nil {
		return err
	}
	c, found, err := p.store.Case(ctx, tx, id)
	if err != nil {
		return err
	}
	c = c.Apply(ch)
	if c.PatientID != "" {
		if err := p.store.Lock(ctx, tx, c.PatientID); err != nil {
			return err
		}
	}
	if erased, err := p.store.Erased(ctx, tx, id, c.PatientID); err != nil || erased {
		if err == nil {
			err = outbox.ForgetJournal(ctx, tx, id)
		}
		return err
	}
	if err := p.store.Save(ctx, tx, c); err != nil {
		return err
	}
	if !found && p.wake != nil {
		p.wake()
	}
	return nil
}

// consent handles consent.granted and consent.withdrawn; only the
// consent to share with professionals opens the pool to them.
func consent(granted bool) func(*projector, context.Context, *sql.Tx, bus.Event, events.ConsentChanged) error {
	return func(p *projector, ctx context.Context, tx *sql.Tx, e bus.Event, ev events.ConsentChanged) error {
		if ev.Purpose != vocab.ConsentShareWithProfessionals {
			return nil
		}
		patient := or(ev.PatientID, e)
		if err := p.store.Lock(ctx, tx, patient); err != nil {
			return err
		}
		if erased, err := p.store.Erased(ctx, tx, patient); err != nil || erased {
			if err == nil {
				err = outbox.ForgetJournal(ctx, tx, patient)
			}
			return err
		}
		_, err := p.store.SetConsent(ctx, tx, patient, domain.Consent{Granted: granted, Revision: ev.Revision, At: at(ev.Timestamp, e)})
		return err
	}
}

// onCaseErased removes the case from the index and from the journal, so
// that no rebuild brings it back.
func (p *projector) onCaseErased(ctx context.Context, tx *sql.Tx, e bus.Event, ev events.CaseErased) error {
	id := or(ev.CaseID, e)
	if err := p.store.Lock(ctx, tx, id); err != nil {
		return err
	}
	if err := p.store.EraseCase(ctx, tx, id, at(ev.Timestamp, e)); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	if err := outbox.ForgetJournal(ctx, tx, id); err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	p.log.InfoContext(ctx, "case erased from the index", "caseId", id)
	return nil
}

// onPatientErased removes the patient's cases and consent from the index
// and everything naming them from the journal, without waiting for each
// case's case.erased: the two come from different producers in either
// order.
func (p *projector) onPatientErased(ctx context.Context, tx *sql.Tx, e bus.Event, ev events.PatientErased) error {
	patient := or(ev.PatientID, e)
	if err := p.store.Lock(ctx, tx, patient); err != nil {
		return err
	}
	ids, err := p.store.ErasePatient(ctx, tx, patient, at(ev.Timestamp, e))
	if err != nil {
		return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
	}
	for _, id := range append(ids, patient) {
		if err := outbox.ForgetJournal(ctx, tx, id); err != nil {
			return fmt.Errorf("%s %s: %w", e.Type, e.ID, err)
		}
	}
	p.log.InfoContext(ctx, "patient's cases erased from the index", "patientId", patient, "cases", len(ids))
	return nil
}
