package cases

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/problem"
	"github.com/secondopinion/platform/internal/services/patient/cases/domain"
	"github.com/secondopinion/platform/internal/services/patient/cases/store"
)

// peerTimeout bounds the patient look-up, so a hung peer costs a request
// seconds, not minutes.
const peerTimeout = 5 * time.Second

// maxStaleRetries bounds how often a command is decided again after a
// concurrent change; each retry sees the newer status.
const maxStaleRetries = 3

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// open creates a DRAFT case for an existing patient.
func (s *Service) open(ctx context.Context, in domain.NewCase) (store.Case, error) {
	in, err := in.Validate()
	if err != nil {
		return store.Case{}, err
	}
	if err := s.checkPatient(ctx, in.CustomerID); err != nil {
		return store.Case{}, err
	}
	c, err := s.store.Create(ctx, store.Case{
		ID:         uuid.NewString(),
		CustomerID: in.CustomerID,
		Specialty:  in.Specialty,
		Urgency:    in.Urgency,
		Title:      in.Title,
		Question:   in.Question,
		CreatedAt:  s.now(),
	}, s.newNumber, createdEvents)
	if err != nil {
		return store.Case{}, err
	}
	s.relay.Notify()
	s.log.InfoContext(ctx, "case created", "caseId", c.ID, "actor", authn.FromContext(ctx).Subject)
	return c, nil
}

// checkPatient asks patient-identity whether the customer exists.
func (s *Service) checkPatient(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	_, err := s.patients.GetPatient(ctx, connect.NewRequest(&patientv1.GetPatientRequest{Id: id}))
	switch code := connect.CodeOf(err); {
	case err == nil:
		return nil
	case code == connect.CodeNotFound:
		return problem.Invalid("body.customerId", "no patient has this id")
	case code == connect.CodeUnavailable, code == connect.CodeDeadlineExceeded, code == connect.CodeResourceExhausted:
		return problem.Unavailable(identityTarget, err)
	default:
		return fmt.Errorf("look up patient %s: %w", id, err)
	}
}

func (s *Service) get(ctx context.Context, id string) (store.Case, []store.Entry, error) {
	c, err := s.store.Get(ctx, id)
	if err != nil {
		return store.Case{}, nil, err
	}
	tl, err := s.store.Timeline(ctx, c.ID)
	return c, tl, err
}

func (s *Service) byNumber(ctx context.Context, number string) (store.Case, error) {
	// A malformed number names no case: 404, without a query.
	if !domain.ValidCaseNumber(number) {
		return store.Case{}, problem.NotFound("case")
	}
	return s.store.ByNumber(ctx, number)
}

func (s *Service) list(ctx context.Context, customerID, cursor string, limit int) ([]store.Case, string, error) {
	if _, err := uuid.Parse(customerID); err != nil {
		return nil, "", problem.Invalid("query.customerId", "must be a UUID")
	}
	after, err := httpapi.DecodeCursor("query.cursor", cursor)
	if err != nil {
		return nil, "", err
	}
	return s.store.List(ctx, customerID, after, limit)
}

func (s *Service) submit(ctx context.Context, id string) (store.Case, error) {
	return s.command(ctx, id, domain.TriggerSubmit, "", s.cfg.Pipeline.Submit)
}

func (s *Service) cancel(ctx context.Context, id, reason string) (store.Case, error) {
	return s.command(ctx, id, domain.TriggerCancel, reason, s.cfg.Pipeline.Cancel)
}

// command applies a patient's command, deciding again when another change
// overtook it between the read and the conditional update.
func (s *Service) command(ctx context.Context, id, trigger, note string, decide func(domain.Status) ([]domain.Step, error)) (store.Case, error) {
	for attempt := 1; ; attempt++ {
		var moved store.Case
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			c, err := s.store.Load(ctx, tx, id)
			if err != nil {
				return err
			}
			steps, err := decide(c.Status)
			if err != nil {
				return err
			}
			moved, err = s.apply(ctx, tx, c, store.Change{Steps: steps, Reason: trigger, Note: note, At: s.now()})
			return err
		})
		if errors.Is(err, store.ErrStale) && attempt < maxStaleRetries {
			continue
		}
		if err != nil {
			return store.Case{}, fmt.Errorf("%s case %s: %w", trigger, id, err)
		}
		s.relay.Notify()
		s.log.InfoContext(ctx, "case "+trigger, "caseId", id, "status", moved.Status, "actor", authn.FromContext(ctx).Subject)
		return moved, nil
	}
}

// apply records a change and its events in tx.
func (s *Service) apply(ctx context.Context, tx *sql.Tx, c store.Case, ch store.Change) (store.Case, error) {
	moved, err := s.store.Move(ctx, tx, c, ch)
	if err != nil {
		return store.Case{}, err
	}
	evs, err := changeEvents(moved, ch)
	if err != nil {
		return store.Case{}, err
	}
	if err := outbox.Add(ctx, tx, evs...); err != nil {
		return store.Case{}, fmt.Errorf("case %s events: %w", c.ID, err)
	}
	return moved, nil
}
