// Package store keeps cases and their timelines in the service's own SQL
// store, with one set of queries for SQLite and PostgreSQL. Every status
// change is a conditional update recorded in the timeline and written with
// its events in one transaction, so no change is lost under concurrency and
// none is published without being stored. An erasure removes a patient's
// cases and keeps nothing of them but their ids (erasure.go).
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/patient/case-management/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the case tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// Case is a stored case.
type Case struct {
	ID         string
	CaseNumber string
	CustomerID string
	Specialty  string
	Urgency    string
	Title      string
	Question   string
	Status     domain.Status
	Language   string
	AgeBand    string // the patient's, when the case was opened
	// ProfessionalID is the professional the case is assigned to, "" while
	// it is not.
	ProfessionalID string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Entry is one line of a case's timeline.
type Entry struct {
	From    domain.Status // "" for the creation
	To      domain.Status
	Reason  string // the trigger: "create", "submit", "cancel" or an event type
	EventID string // the consumed event, "" for commands
	Note    string // the patient's reason for a cancel
	At      time.Time
}

// Change is a status change to record.
type Change struct {
	Steps   []domain.Step
	Reason  string
	EventID string
	Note    string
	At      time.Time
	// Assignee, when set, becomes the case's professional: the one a
	// case.assigned names, or "" when the assignment ends.
	Assignee *string
}

// ErrStale means the case's status changed after it was read: the change
// was not applied and must be decided again on the fresh status.
var ErrStale = errors.New("case status changed concurrently")

// maxNumberAttempts bounds the retries on a case number clash: with 31^6
// numbers per region and year, a second clash in a row means a fault.
const maxNumberAttempts = 5

// Store is the case store.
type Store struct {
	db *sqldb.DB
}

// New returns the store over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// Create stores c as a new DRAFT with its first timeline entry and the
// events built for it, in one transaction. Its number comes from number,
// drawn again when it clashes with an existing one.
func (s *Store) Create(ctx context.Context, c Case, number func() (string, error), events func(Case) ([]bus.Event, error)) (Case, error) {
	c.Status = domain.Draft
	c.CreatedAt = c.CreatedAt.UTC().Truncate(time.Microsecond)
	c.UpdatedAt = c.CreatedAt
	for range maxNumberAttempts {
		n, err := number()
		if err != nil {
			return Case{}, fmt.Errorf("create case %s: %w", c.ID, err)
		}
		c.CaseNumber = n
		err = s.db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO cases
				(id, case_number, customer_id, specialty, urgency, title, question, status, language, age_band, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
				c.ID, c.CaseNumber, c.CustomerID, c.Specialty, c.Urgency, c.Title, c.Question, c.Status, c.Language, c.AgeBand,
				c.CreatedAt, c.UpdatedAt); err != nil {
				return err
			}
			// After the insert, which waits for an erasure in progress
			// (see Erase), so that this sees its tombstone.
			if err := notErased(ctx, tx, c.CustomerID); err != nil {
				return err
			}
			if err := addEntry(ctx, tx, c.ID, Entry{To: domain.Draft, Reason: domain.TriggerCreate, At: c.CreatedAt}); err != nil {
				return err
			}
			evs, err := events(c)
			if err != nil {
				return err
			}
			return outbox.Add(ctx, tx, evs...)
		})
		if sqldb.IsUniqueViolation(err) {
			continue
		}
		if err != nil {
			return Case{}, fmt.Errorf("create case %s: %w", c.ID, err)
		}
		return c, nil
	}
	return Case{}, fmt.Errorf("create case %s: no free case number after %d attempts", c.ID, maxNumberAttempts)
}

const caseColumns = `id, case_number, customer_id, specialty, urgency, title, question, status,
	language, age_band, professional_id, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanCase(r scanner) (Case, error) {
	var c Case
	err := r.Scan(&c.ID, &c.CaseNumber, &c.CustomerID, &c.Specialty, &c.Urgency, &c.Title, &c.Question, &c.Status,
		&c.Language, &c.AgeBand, &c.ProfessionalID, &c.CreatedAt, &c.UpdatedAt)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func get(ctx context.Context, q queryRower, column, value string) (Case, error) {
	c, err := scanCase(q.QueryRowContext(ctx, `SELECT `+caseColumns+` FROM cases WHERE `+column+` = $1`, value))
	if errors.Is(err, sql.ErrNoRows) {
		return Case{}, fault.NotFound("case")
	}
	return c, err
}

// Get returns the case with id; a malformed id is simply not found.
func (s *Store) Get(ctx context.Context, id string) (Case, error) { return load(ctx, s.db, id) }

// Load is Get within tx, for a change decided on what it reads.
func (s *Store) Load(ctx context.Context, tx *sql.Tx, id string) (Case, error) {
	return load(ctx, tx, id)
}

func load(ctx context.Context, q queryRower, id string) (Case, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Case{}, fault.NotFound("case")
	}
	c, err := get(ctx, q, "id", id)
	if err != nil {
		return Case{}, fmt.Errorf("get case %s: %w", id, err)
	}
	return c, nil
}

// ByNumber returns the case with a case number.
func (s *Store) ByNumber(ctx context.Context, number string) (Case, error) {
	c, err := get(ctx, s.db, "case_number", number)
	if err != nil {
		return Case{}, fmt.Errorf("get case by number: %w", err)
	}
	return c, nil
}

// Move applies ch to c within tx, provided the case is still in c.Status,
// and records each step in the timeline. It returns the moved case, or
// ErrStale when another change came first.
func (s *Store) Move(ctx context.Context, tx *sql.Tx, c Case, ch Change) (Case, error) {
	if len(ch.Steps) == 0 || ch.Steps[0].From != c.Status {
		return Case{}, fmt.Errorf("move case %s: steps %v do not start at %s", c.ID, ch.Steps, c.Status)
	}
	at := ch.At.UTC().Truncate(time.Microsecond)
	to := ch.Steps[len(ch.Steps)-1].To
	pro := c.ProfessionalID
	if ch.Assignee != nil {
		pro = *ch.Assignee
	}
	res, err := tx.ExecContext(ctx, `UPDATE cases SET status = $1, updated_at = $2, professional_id = $3 WHERE id = $4 AND status = $5`,
		to, at, pro, c.ID, c.Status)
	if err != nil {
		return Case{}, fmt.Errorf("move case %s: %w", c.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return Case{}, fmt.Errorf("move case %s from %s: %w", c.ID, c.Status, errors.Join(ErrStale, err))
	}
	for _, st := range ch.Steps {
		e := Entry{From: st.From, To: st.To, Reason: ch.Reason, EventID: ch.EventID, Note: ch.Note, At: at}
		if err := addEntry(ctx, tx, c.ID, e); err != nil {
			return Case{}, fmt.Errorf("move case %s: %w", c.ID, err)
		}
	}
	c.Status, c.UpdatedAt, c.ProfessionalID = to, at, pro
	return c, nil
}

func addEntry(ctx context.Context, tx *sql.Tx, caseID string, e Entry) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO case_timeline (case_id, from_status, to_status, reason, event_id, note, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		caseID, nullable(string(e.From)), e.To, e.Reason, nullable(e.EventID), nullable(e.Note), e.At)
	if err != nil {
		return fmt.Errorf("add timeline entry: %w", err)
	}
	return nil
}

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// Timeline returns the entries of a case, oldest first.
func (s *Store) Timeline(ctx context.Context, id string) ([]Entry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT from_status, to_status, reason, event_id, note, at
		FROM case_timeline WHERE case_id = $1 ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("timeline of case %s: %w", id, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var from, eventID, note sql.NullString
		if err := rows.Scan(&from, &e.To, &e.Reason, &eventID, &note, &e.At); err != nil {
			return nil, fmt.Errorf("timeline of case %s: %w", id, err)
		}
		e.From, e.EventID, e.Note, e.At = domain.Status(from.String), eventID.String, note.String, e.At.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("timeline of case %s: %w", id, err)
	}
	return out, nil
}

// List returns up to limit cases of a customer, newest first, after the
// cursor, with the cursor of the next page ("" on the last page).
func (s *Store) List(ctx context.Context, customerID string, after page.Cursor, limit int) ([]Case, string, error) {
	if _, err := uuid.Parse(customerID); err != nil {
		return nil, "", nil
	}
	q := `SELECT ` + caseColumns + ` FROM cases WHERE customer_id = $1`
	args := []any{customerID}
	if after.ID != "" {
		if _, err := uuid.Parse(after.ID); err != nil {
			return nil, "", fault.Invalid(page.Field, "not a cursor returned by this API")
		}
		q += ` AND (created_at < $2 OR (created_at = $2 AND id < $3))`
		args = append(args, after.Time.UTC(), after.ID)
	}
	q += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT %d`, limit+1)
	out, err := queryCases(ctx, s.db, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list cases: %w", err)
	}
	if len(out) <= limit {
		return out, "", nil
	}
	last := out[limit-1]
	return out[:limit], page.Cursor{Time: last.CreatedAt, ID: last.ID}.Encode(), nil
}

// Cases returns every case of a customer, oldest first.
func (s *Store) Cases(ctx context.Context, customerID string) ([]Case, error) {
	out, err := queryCases(ctx, s.db, `SELECT `+caseColumns+` FROM cases WHERE customer_id = $1 ORDER BY created_at, id`, customerID)
	if err != nil {
		return nil, fmt.Errorf("cases of customer %s: %w", customerID, err)
	}
	return out, nil
}

// querier runs queries on the store or within a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryCases(ctx context.Context, q querier, query string, args ...any) ([]Case, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CaseIDs names every case of a customer, oldest first.
func (s *Store) CaseIDs(ctx context.Context, customerID string) ([]string, error) {
	return caseIDs(ctx, s.db, customerID)
}

func caseIDs(ctx context.Context, q querier, customerID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id FROM cases WHERE customer_id = $1 ORDER BY created_at, id`, customerID)
	if err != nil {
		return nil, fmt.Errorf("cases of customer %s: %w", customerID, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("cases of customer %s: %w", customerID, err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cases of customer %s: %w", customerID, err)
	}
	return out, nil
}
