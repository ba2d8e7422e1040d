// Package store keeps notification's tables in its own SQL store, with one
// set of queries for SQLite and PostgreSQL: the routing read model (the
// patient, number, language and assignee of each case), the notices the
// in-app list shows, and the delivery log, which is also the delivery
// worker's queue. Replicas share the queue by leasing rows: a claim is a
// conditional update that only one of them wins (Claim).
package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/platform/notification/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades notification's tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// Store is notification's store.
type Store struct {
	db *sqldb.DB
}

// New returns the store over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// ts is t as both engines store it: UTC, to the microsecond.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Case is what the read model knows of a case; empty fields are unknown.
type Case struct {
	CaseID, PatientID, CaseNumber, Language, ProfessionalID string
}

// SetCase records what c tells of its case: its non-empty fields replace
// what was known, the others stay.
func (s *Store) SetCase(ctx context.Context, tx *sql.Tx, c Case) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO notification_cases (case_id, patient_id, case_number, language, professional_id)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (case_id) DO UPDATE SET
			patient_id = CASE WHEN excluded.patient_id <> '' THEN excluded.patient_id ELSE notification_cases.patient_id END,
			case_number = CASE WHEN excluded.case_number <> '' THEN excluded.case_number ELSE notification_cases.case_number END,
			language = CASE WHEN excluded.language <> '' THEN excluded.language ELSE notification_cases.language END,
			professional_id = CASE WHEN excluded.professional_id <> '' THEN excluded.professional_id ELSE notification_cases.professional_id END`,
		c.CaseID, c.PatientID, c.CaseNumber, c.Language, c.ProfessionalID)
	if err != nil {
		return fmt.Errorf("record case %s: %w", c.CaseID, err)
	}
	return nil
}

// ClearAssignee forgets that professional holds the case, if they do:
// their assignment ended.
func (s *Store) ClearAssignee(ctx context.Context, tx *sql.Tx, caseID, professional string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE notification_cases SET professional_id = '' WHERE case_id = $1 AND professional_id = $2`,
		caseID, professional); err != nil {
		return fmt.Errorf("end assignment of case %s: %w", caseID, err)
	}
	return nil
}

// Case returns what is known of a case (the zero Case, with its id, when
// nothing is).
func (s *Store) Case(ctx context.Context, tx *sql.Tx, caseID string) (Case, error) {
	c := Case{CaseID: caseID}
	err := tx.QueryRowContext(ctx, `SELECT patient_id, case_number, language, professional_id FROM notification_cases WHERE case_id = $1`,
		caseID).Scan(&c.PatientID, &c.CaseNumber, &c.Language, &c.ProfessionalID)
	if errors.Is(err, sql.ErrNoRows) {
		return c, nil
	}
	if err != nil {
		return Case{}, fmt.Errorf("case %s: %w", caseID, err)
	}
	return c, nil
}

// ClearCases empties the read model, before a rebuild replays it.
func (s *Store) ClearCases(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM notification_cases`); err != nil {
		return fmt.Errorf("clear the case read model: %w", err)
	}
	return nil
}

// Notification is a notice of the in-app list.
type Notification struct {
	ID          string
	To          domain.Audience
	RecipientID string
	Kind        domain.Kind
	Params      domain.Params
	Language    string
	CreatedAt   time.Time
	ReadAt      *time.Time
}

// Delivery is an entry of the delivery log.
type Delivery struct {
	ID             string
	NotificationID string // "" for a secret
	To             domain.Audience
	RecipientID    string
	Kind           domain.Kind
	CaseID         string
	Channel        string // EMAIL or SMS; "" until the first attempt chose one
	Status         string
	Attempts       int
	LastError      string
	CreatedAt      time.Time
	RetryFrom      time.Time // when it was queued, or replayed
	NextAttemptAt  time.Time
	UpdatedAt      time.Time
	SentAt         *time.Time
}

// Add writes a notice of event sourceEvent in tx and, when deliver, the
// delivery that sends it by email or SMS; it returns the notice's id.
func (s *Store) Add(ctx context.Context, tx *sql.Tx, n domain.Notice, language, sourceEvent string, deliver bool, now time.Time) (string, error) {
	id := uuid.Must(uuid.NewV7()).String()
	params, err := json.Marshal(n.Params)
	if err != nil {
		return "", fmt.Errorf("notice %s: %w", n.Kind, err)
	}
	now = ts(now)
	if _, err := tx.ExecContext(ctx, `INSERT INTO notifications (id, audience, recipient_id, kind, case_id, params, language, source_event_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		id, n.To, n.RecipientID, n.Kind, n.Params.CaseID, string(params), language, sourceEvent, now); err != nil {
		return "", fmt.Errorf("add notice %s of event %s: %w", n.Kind, sourceEvent, err)
	}
	if deliver {
		if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (id, notification_id, audience, recipient_id, kind, case_id, status,
			created_at, retry_from, next_attempt_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $8)`,
			uuid.Must(uuid.NewV7()).String(), id, n.To, n.RecipientID, n.Kind, n.Params.CaseID, domain.Queued, now); err != nil {
			return "", fmt.Errorf("queue delivery of notice %s: %w", n.Kind, err)
		}
	}
	return id, nil
}

const notificationColumns = `id, audience, recipient_id, kind, params, language, created_at, read_at`

func scanNotification(row interface{ Scan(...any) error }) (Notification, error) {
	var n Notification
	var params string
	var read sql.NullTime
	if err := row.Scan(&n.ID, &n.To, &n.RecipientID, &n.Kind, &params, &n.Language, &n.CreatedAt, &read); err != nil {
		return Notification{}, err
	}
	if err := json.Unmarshal([]byte(params), &n.Params); err != nil {
		return Notification{}, fmt.Errorf("notice %s: params: %w", n.ID, err)
	}
	n.CreatedAt = n.CreatedAt.UTC()
	if read.Valid {
		t := read.Time.UTC()
		n.ReadAt = &t
	}
	return n, nil
}

// Notification returns a notice; NotFound when there is none.
func (s *Store) Notification(ctx context.Context, id string) (Notification, error) {
	n, err := scanNotification(s.db.QueryRowContext(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Notification{}, fault.NotFound("notification")
	}
	if err != nil {
		return Notification{}, fmt.Errorf("notification %s: %w", id, err)
	}
	return n, nil
}

// List returns up to limit notices of a recipient (an audience and, but
// for admins, an id), newest first, after the cursor, with the next
// page's cursor ("" on the last page).
func (s *Store) List(ctx context.Context, to domain.Audience, recipient string, after page.Cursor, limit int) ([]Notification, string, error) {
	q := `SELECT ` + notificationColumns + ` FROM notifications WHERE audience = $1 AND recipient_id = $2`
	args := []any{to, recipient}
	if after.ID != "" {
		if _, err := uuid.Parse(after.ID); err != nil {
			return nil, "", fault.Invalid(page.Field, "not a cursor returned by this API")
		}
		q += ` AND (created_at < $3 OR (created_at = $3 AND id < $4))`
		args = append(args, ts(after.Time), after.ID)
	}
	q += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT %d`, limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list notices: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list notices: %w", err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list notices: %w", err)
	}
	if len(out) <= limit {
		return out, "", nil
	}
	last := out[limit-1]
	return out[:limit], page.Cursor{Time: last.CreatedAt, ID: last.ID}.Encode(), nil
}

// MarkRead marks a notice read at now, once; it returns the notice.
func (s *Store) MarkRead(ctx context.Context, id string, now time.Time) (Notification, error) {
	if _, err := s.db.ExecContext(ctx, `UPDATE notifications SET read_at = $1 WHERE id = $2 AND read_at IS NULL`, ts(now), id); err != nil {
		return Notification{}, fmt.Errorf("mark notice %s read: %w", id, err)
	}
	return s.Notification(ctx, id)
}

// Erase deletes what the store holds of a patient: their notices and
// deliveries (secrets included: their login's user id is theirs), and
// their cases in the read model. It returns the cases it forgot.
func (s *Store) Erase(ctx context.Context, tx *sql.Tx, patient string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT case_id FROM notification_cases WHERE patient_id = $1`, patient)
	if err != nil {
		return nil, fmt.Errorf("erase patient %s: %w", patient, err)
	}
	var cases []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("erase patient %s: %w", patient, err)
		}
		cases = append(cases, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("erase patient %s: %w", patient, err)
	}
	for _, q := range []string{
		`DELETE FROM deliveries WHERE recipient_id = $1`,
		`DELETE FROM notifications WHERE recipient_id = $1`,
		`DELETE FROM notification_cases WHERE patient_id = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, patient); err != nil {
			return nil, fmt.Errorf("erase patient %s: %w", patient, err)
		}
	}
	for _, c := range cases {
		if err := s.EraseCase(ctx, tx, c); err != nil {
			return nil, err
		}
	}
	return cases, nil
}

// EraseCase deletes every notice and delivery about a case, whoever they
// were for, and the case's routing.
func (s *Store) EraseCase(ctx context.Context, tx *sql.Tx, caseID string) error {
	for _, q := range []string{
		`DELETE FROM deliveries WHERE case_id = $1`,
		`DELETE FROM notifications WHERE case_id = $1`,
		`DELETE FROM notification_cases WHERE case_id = $1`,
	} {
		if _, err := tx.ExecContext(ctx, q, caseID); err != nil {
			return fmt.Errorf("erase case %s: %w", caseID, err)
		}
	}
	return nil
}
