// Package store keeps payments' payments, refunds, what it learnt of
// cases, the webhook events it handled and the reconciliation reports,
// with one set of queries for SQLite and PostgreSQL.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades payments' tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// Payment is one attempt to pay for a case. CaseID and PatientID are ""
// once the case or its patient is erased: the payment stays, unlinked.
type Payment struct {
	ID, CaseID, PatientID, QuoteID string
	Region, Specialty, Urgency     string
	Net, Discount, Tax, Amount     int64
	TaxRate                        int
	Currency, Provider             string
	PaymentMethod                  string // "" once erased
	Status                         domain.Status
	IntentID, FailureCode          string
	NextActionType                 string
	NextActionSecret               string
	NextActionURL                  string
	Refunded                       int64 // refunds that succeeded
	CreatedAt, UpdatedAt           time.Time
}

// Refund statuses.
const (
	RefundPending   = "PENDING"
	RefundSucceeded = "SUCCEEDED"
	RefundFailed    = "FAILED"
)

// Refund is one refund of a payment.
type Refund struct {
	ID, PaymentID    string
	Amount           int64
	Reason, Status   string
	ProviderRefundID string
	Failure          string
	Note             string // an admin's words on why
	CreatedAt        time.Time
}

// Store is payments' store.
type Store struct{ db *sqldb.DB }

// New returns the store over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// Querier is the store's database or a transaction of it.
type Querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// ErrOpenPayment is Insert's error when the case has an open payment.
var ErrOpenPayment = errors.New("the case has an open payment")

// Insert records p within tx.
func (s *Store) Insert(ctx context.Context, tx *sql.Tx, p Payment) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO payments (id, case_id, patient_id, quote_id, region, specialty, urgency,
		net_amount, discount_amount, tax_rate, tax_amount, amount, currency, provider, payment_method, status,
		created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)`,
		p.ID, p.CaseID, p.PatientID, p.QuoteID, p.Region, p.Specialty, p.Urgency, p.Net, p.Discount, p.TaxRate, p.Tax,
		p.Amount, p.Currency, p.Provider, p.PaymentMethod, string(p.Status), p.CreatedAt.UTC())
	if sqldb.IsUniqueViolation(err) {
		return ErrOpenPayment
	}
	if err != nil {
		return fmt.Errorf("insert payment: %w", err)
	}
	return nil
}

const columns = `id, case_id, patient_id, quote_id, region, specialty, urgency, net_amount, discount_amount, tax_rate,
	tax_amount, amount, currency, provider, payment_method, status, intent_id, failure_code, next_action_type,
	next_action_secret, next_action_url, refunded_amount, created_at, updated_at`

func scan(row interface{ Scan(...any) error }) (Payment, error) {
	var p Payment
	var status string
	err := row.Scan(&p.ID, &p.CaseID, &p.PatientID, &p.QuoteID, &p.Region, &p.Specialty, &p.Urgency, &p.Net, &p.Discount,
		&p.TaxRate, &p.Tax, &p.Amount, &p.Currency, &p.Provider, &p.PaymentMethod, &status, &p.IntentID, &p.FailureCode,
		&p.NextActionType, &p.NextActionSecret, &p.NextActionURL, &p.Refunded, &p.CreatedAt, &p.UpdatedAt)
	p.Status = domain.Status(status)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, err
}

func (s *Store) one(ctx context.Context, q Querier, where string, args ...any) (Payment, error) {
	p, err := scan(q.QueryRowContext(ctx, `SELECT `+columns+` FROM payments WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return Payment{}, fault.NotFound("payment")
	}
	if err != nil {
		return Payment{}, fmt.Errorf("read payment: %w", err)
	}
	return p, nil
}

// Get reads payment id; a missing one is NotFound.
func (s *Store) Get(ctx context.Context, q Querier, id string) (Payment, error) {
	return s.one(ctx, q, `id = $1`, id)
}

// Lock reads payment id within tx and holds it until tx ends (SQLite's
// transactions hold the whole database already).
func (s *Store) Lock(ctx context.Context, tx *sql.Tx, id string) (Payment, error) {
	lock := ""
	if s.db.Engine == sqldb.Postgres {
		lock = ` FOR UPDATE`
	}
	return s.one(ctx, tx, `id = $1`+lock, id)
}

// Open is the open payment of a case (not FAILED nor CANCELED), if any. The payments
// of erased cases, unlinked, are no case's.
func (s *Store) Open(ctx context.Context, q Querier, caseID string) (Payment, bool, error) {
	if caseID == "" {
		return Payment{}, false, nil
	}
	p, err := s.one(ctx, q, `case_id = $1 AND case_id <> '' AND status NOT IN ('FAILED', 'CANCELED')`, caseID)
	if fault.Is(err, fault.KindNotFound) {
		return Payment{}, false, nil
	}
	return p, err == nil, err
}

// ByIntent is the payment of a provider's intent.
func (s *Store) ByIntent(ctx context.Context, q Querier, provider, intentID string) (Payment, error) {
	return s.one(ctx, q, `provider = $1 AND intent_id = $2 AND intent_id <> ''`, provider, intentID)
}

// Change is what a step of a payment's lifecycle sets.
type Change struct {
	Status                                    domain.Status
	IntentID, FailureCode                     string
	NextActionType, NextActionSecret, NextURL string
	At                                        time.Time
}

// Update moves payment id from status from as c says; false when it was
// not in from any more (another step won).
func (s *Store) Update(ctx context.Context, tx *sql.Tx, id string, from domain.Status, c Change) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE payments SET status = $3, intent_id = CASE WHEN $4 = '' THEN intent_id ELSE $4 END,
		failure_code = $5, next_action_type = $6, next_action_secret = $7, next_action_url = $8, updated_at = $9
		WHERE id = $1 AND status = $2`, id, string(from), string(c.Status), c.IntentID, c.FailureCode, c.NextActionType,
		c.NextActionSecret, c.NextURL, c.At.UTC())
	return affected(res, err, "update payment")
}

// SetIntent records the intent of payment id when none is recorded yet.
func (s *Store) SetIntent(ctx context.Context, tx *sql.Tx, id, intentID string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE payments SET intent_id = $2, updated_at = $3 WHERE id = $1 AND intent_id = ''`,
		id, intentID, at.UTC())
	if err != nil {
		return fmt.Errorf("set intent: %w", err)
	}
	return nil
}

// AddRefunded adds amount to what went back of payment id, and sets its
// status.
func (s *Store) AddRefunded(ctx context.Context, tx *sql.Tx, id string, amount int64, status domain.Status, at time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE payments SET refunded_amount = refunded_amount + $2, status = $3, updated_at = $4
		WHERE id = $1`, id, amount, string(status), at.UTC())
	if err != nil {
		return fmt.Errorf("add refunded: %w", err)
	}
	return nil
}

// Filter selects payments to list.
type Filter struct {
	PatientID string // "" for every patient's
	CaseID    string // "" for every case's
	After     page.Cursor
	Limit     int
}

// List is a page of payments, oldest first, and the next page's cursor.
func (s *Store) List(ctx context.Context, f Filter) ([]Payment, string, error) {
	q := `SELECT ` + columns + ` FROM payments WHERE ($1 = '' OR patient_id = $1) AND ($2 = '' OR case_id = $2)`
	args := []any{f.PatientID, f.CaseID}
	if f.After.ID != "" {
		q += ` AND (created_at > $3 OR (created_at = $3 AND id > $4))`
		args = append(args, f.After.Time.UTC(), f.After.ID)
	}
	q += fmt.Sprintf(` ORDER BY created_at, id LIMIT %d`, f.Limit+1)
	out, err := s.many(ctx, s.db, q, args...)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[len(out)-1]
		next = page.Cursor{Time: last.CreatedAt, ID: last.ID}.Encode()
	}
	return out, next, nil
}

func (s *Store) many(ctx context.Context, q Querier, query string, args ...any) ([]Payment, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	defer rows.Close()
	var out []Payment
	for rows.Next() {
		p, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list payments: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Stale lists the payments still PROCESSING that were last touched before
// before: their provider call died with its process, or never answered.
func (s *Store) Stale(ctx context.Context, before time.Time) ([]Payment, error) {
	return s.many(ctx, s.db, `SELECT `+columns+` FROM payments WHERE status = 'PROCESSING' AND updated_at < $1
		ORDER BY updated_at LIMIT 500`, before.UTC())
}

// Since lists the payments created since t, for reconciliation.
func (s *Store) Since(ctx context.Context, t time.Time) ([]Payment, error) {
	return s.many(ctx, s.db, `SELECT `+columns+` FROM payments WHERE created_at >= $1 ORDER BY created_at, id`, t.UTC())
}

// InsertRefund records r within tx; false when an automatic refund of the
// same payment and reason exists already.
func (s *Store) InsertRefund(ctx context.Context, tx *sql.Tx, r Refund) (bool, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO refunds (id, payment_id, amount, reason, status, provider_refund_id, note,
		created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT DO NOTHING`,
		r.ID, r.PaymentID, r.Amount, r.Reason, r.Status, r.ProviderRefundID, r.Note, r.CreatedAt.UTC())
	return affected(res, err, "insert refund")
}

// Reserved is what the refunds of payment id that succeeded or are under
// way add up to: what a new refund may not take again.
func (s *Store) Reserved(ctx context.Context, tx *sql.Tx, id string) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE payment_id = $1 AND status <> 'FAILED'`, id).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("reserved refunds: %w", err)
	}
	return n, nil
}

const refundColumns = `id, payment_id, amount, reason, status, provider_refund_id, failure, note, created_at`

func (s *Store) refunds(ctx context.Context, q Querier, query string, args ...any) ([]Refund, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+refundColumns+` FROM refunds WHERE `+query, args...)
	if err != nil {
		return nil, fmt.Errorf("refunds: %w", err)
	}
	defer rows.Close()
	out := []Refund{}
	for rows.Next() {
		var r Refund
		if err := rows.Scan(&r.ID, &r.PaymentID, &r.Amount, &r.Reason, &r.Status, &r.ProviderRefundID, &r.Failure, &r.Note, &r.CreatedAt); err != nil {
			return nil, fmt.Errorf("refunds: %w", err)
		}
		r.CreatedAt = r.CreatedAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// Refunds lists the refunds of payment id, oldest first.
func (s *Store) Refunds(ctx context.Context, q Querier, id string) ([]Refund, error) {
	return s.refunds(ctx, q, `payment_id = $1 ORDER BY created_at, id`, id)
}

// PendingRefunds lists the refunds whose provider call is still to be
// made or answered.
func (s *Store) PendingRefunds(ctx context.Context) ([]Refund, error) {
	return s.refunds(ctx, s.db, `status = 'PENDING' ORDER BY created_at, id LIMIT 500`)
}

// SettleRefund moves refund id from PENDING to status; false when it was
// settled before.
func (s *Store) SettleRefund(ctx context.Context, tx *sql.Tx, id, status, providerID, failure string, at time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE refunds SET status = $2, provider_refund_id = $3, failure = $4, updated_at = $5
		WHERE id = $1 AND status = 'PENDING'`, id, status, providerID, failure, at.UTC())
	return affected(res, err, "settle refund")
}

// CaseState is what payments knows of a case.
type CaseState struct {
	Assigned bool
	Closed   domain.CaseClosed // "" while open
}

// Case reads the state of case id (the zero state when unknown).
func (s *Store) Case(ctx context.Context, q Querier, id string) (CaseState, error) {
	var c CaseState
	var closed string
	err := q.QueryRowContext(ctx, `SELECT assigned, closed FROM cases WHERE case_id = $1`, id).Scan(&c.Assigned, &closed)
	if errors.Is(err, sql.ErrNoRows) {
		return CaseState{}, nil
	}
	if err != nil {
		return CaseState{}, fmt.Errorf("case state: %w", err)
	}
	c.Closed = domain.CaseClosed(closed)
	return c, nil
}

// MarkAssigned remembers that case id was assigned to a professional.
func (s *Store) MarkAssigned(ctx context.Context, tx *sql.Tx, id string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO cases (case_id, assigned) VALUES ($1, TRUE)
		ON CONFLICT (case_id) DO UPDATE SET assigned = TRUE`, id)
	if err != nil {
		return fmt.Errorf("mark assigned: %w", err)
	}
	return nil
}

// MarkClosed remembers how case id closed (the first close counts).
func (s *Store) MarkClosed(ctx context.Context, tx *sql.Tx, id string, closed domain.CaseClosed) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO cases (case_id, closed) VALUES ($1, $2)
		ON CONFLICT (case_id) DO UPDATE SET closed = CASE WHEN cases.closed = '' THEN $2 ELSE cases.closed END`, id, string(closed))
	if err != nil {
		return fmt.Errorf("mark closed: %w", err)
	}
	return nil
}

// ForgetCase carries out the erasure of case id: the payments of the
// case are kept — money is under legal retention (bookkeeping, tax) — but
// unlinked from the case and its patient, whose ids are emptied, and what
// is personal beyond ids goes (the payment method, any client secret,
// admins' notes on refunds); what payments learnt of the case goes with
// it. It returns the ids of the payments it unlinked.
func (s *Store) ForgetCase(ctx context.Context, tx *sql.Tx, caseID string) ([]string, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM cases WHERE case_id = $1`, caseID); err != nil {
		return nil, fmt.Errorf("forget case: %w", err)
	}
	return s.forget(ctx, tx, `case_id = $1`, caseID)
}

// ForgetPatient does ForgetCase for every payment of patient id, and
// their cases.
func (s *Store) ForgetPatient(ctx context.Context, tx *sql.Tx, patientID string) ([]string, error) {
	if _, err := tx.ExecContext(ctx, `DELETE FROM cases WHERE case_id IN
		(SELECT case_id FROM payments WHERE patient_id = $1)`, patientID); err != nil {
		return nil, fmt.Errorf("forget cases: %w", err)
	}
	return s.forget(ctx, tx, `patient_id = $1`, patientID)
}

func (s *Store) forget(ctx context.Context, tx *sql.Tx, where, id string) ([]string, error) {
	if id == "" {
		// '' is every unlinked payment's: nobody's to forget.
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM payments WHERE `+where+` ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("forget payments: %w", err)
	}
	var ids []string
	for rows.Next() {
		var pid string
		if err := rows.Scan(&pid); err != nil {
			rows.Close()
			return nil, fmt.Errorf("forget payments: %w", err)
		}
		ids = append(ids, pid)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("forget payments: %w", err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE refunds SET note = '' WHERE payment_id IN (SELECT id FROM payments WHERE `+where+`)`, id)
	if err != nil {
		return nil, fmt.Errorf("forget refunds: %w", err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE payments SET case_id = '', patient_id = '', payment_method = '',
		next_action_secret = '', next_action_url = '' WHERE `+where, id)
	if err != nil {
		return nil, fmt.Errorf("forget payments: %w", err)
	}
	return ids, nil
}

// Report is one reconciliation run.
type Report struct {
	ID          string
	RanAt       time.Time
	Checked     int
	Recovered   int
	Differences string // JSON
}

// SaveReport records a reconciliation run.
func (s *Store) SaveReport(ctx context.Context, r Report) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO reconciliations (id, ran_at, checked, recovered, differences)
		VALUES ($1, $2, $3, $4, $5)`, r.ID, r.RanAt.UTC(), r.Checked, r.Recovered, r.Differences)
	if err != nil {
		return fmt.Errorf("save reconciliation: %w", err)
	}
	return nil
}

// LatestReport is the last reconciliation run; NotFound before the first.
func (s *Store) LatestReport(ctx context.Context) (Report, error) {
	var r Report
	err := s.db.QueryRowContext(ctx, `SELECT id, ran_at, checked, recovered, differences FROM reconciliations
		ORDER BY ran_at DESC, id DESC LIMIT 1`).Scan(&r.ID, &r.RanAt, &r.Checked, &r.Recovered, &r.Differences)
	if errors.Is(err, sql.ErrNoRows) {
		return Report{}, fault.NotFound("reconciliation report")
	}
	if err != nil {
		return Report{}, fmt.Errorf("latest reconciliation: %w", err)
	}
	r.RanAt = r.RanAt.UTC()
	return r, nil
}

func affected(res sql.Result, err error, what string) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	return n > 0, nil
}
