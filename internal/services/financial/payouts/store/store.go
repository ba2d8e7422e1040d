// Package store keeps payouts' rate tables, earnings, payout batches and
// payout accounts, with one set of queries for SQLite and PostgreSQL.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/financial/payouts/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the service's tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// Store is payouts' store.
type Store struct{ db *sqldb.DB }

// New returns the store over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// Querier is a transaction or the store's pool.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// DB is the pool, for reads outside a transaction.
func (s *Store) DB() Querier { return s.db }

// RatesAt is the rate table in force at t: the latest to take effect at or
// before t.
func (s *Store) RatesAt(ctx context.Context, q Querier, t time.Time) (domain.RateTable, error) {
	var rt domain.RateTable
	err := q.QueryRowContext(ctx, `SELECT id, currency, effective_from FROM rate_tables
		WHERE effective_from <= $1 ORDER BY effective_from DESC, id DESC LIMIT 1`, t.UTC()).
		Scan(&rt.ID, &rt.Currency, &rt.EffectiveFrom)
	if errors.Is(err, sql.ErrNoRows) {
		return rt, fmt.Errorf("no rate table in force at %s", t.UTC().Format(time.RFC3339))
	}
	if err != nil {
		return rt, fmt.Errorf("rate table at %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	rt.EffectiveFrom = rt.EffectiveFrom.UTC()
	rows, err := q.QueryContext(ctx, `SELECT level, opinion, reviewer_fee FROM rates WHERE table_id = $1`, rt.ID)
	if err != nil {
		return rt, fmt.Errorf("rates of %s: %w", rt.ID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r domain.Rate
		if err := rows.Scan(&r.Level, &r.Opinion, &r.ReviewerFee); err != nil {
			return rt, fmt.Errorf("rates of %s: %w", rt.ID, err)
		}
		rt.Rates = append(rt.Rates, r)
	}
	if err := rows.Err(); err != nil {
		return rt, fmt.Errorf("rates of %s: %w", rt.ID, err)
	}
	// Listed in the vocabulary's order, lowest level first.
	sorted := make([]domain.Rate, 0, len(rt.Rates))
	for _, l := range vocab.Levels {
		if r, ok := rt.For(l); ok {
			sorted = append(sorted, r)
		}
	}
	rt.Rates = sorted
	return rt, nil
}

// AddRates puts a new table in force from t.EffectiveFrom.
func (s *Store) AddRates(ctx context.Context, tx *sql.Tx, t domain.RateTable, by string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO rate_tables (id, currency, effective_from, created_by, created_at)
		VALUES ($1, $2, $3, $4, $5)`, t.ID, t.Currency, t.EffectiveFrom.UTC(), by, now.UTC()); err != nil {
		return fmt.Errorf("add rate table: %w", err)
	}
	for _, r := range t.Rates {
		if _, err := tx.ExecContext(ctx, `INSERT INTO rates (table_id, level, opinion, reviewer_fee) VALUES ($1, $2, $3, $4)`,
			t.ID, r.Level, r.Opinion, r.ReviewerFee); err != nil {
			return fmt.Errorf("add rate table: %w", err)
		}
	}
	return nil
}

// Earning is what a professional earned for one approved opinion.
type Earning struct {
	ID             string
	ProfessionalID string
	OpinionID      string
	CaseID         string // "" once the case was erased
	Kind           domain.Kind
	Level          vocab.Level
	Amount         int64
	Currency       string
	RateTableID    string
	AccruedAt      time.Time
	BatchID        string // "" while in no batch
	BatchStatus    string // the batch's status, "" while in none
	PaidAt         time.Time
}

// AddEarning records e; added is false when the opinion already has an
// earning of that kind (a redelivered or replayed approval), which
// changes nothing.
func (s *Store) AddEarning(ctx context.Context, tx *sql.Tx, e Earning) (added bool, err error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO earnings (id, professional_id, opinion_id, case_id, kind, level, amount,
		currency, rate_table_id, accrued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (opinion_id, kind) DO NOTHING`,
		e.ID, e.ProfessionalID, e.OpinionID, e.CaseID, e.Kind, e.Level, e.Amount, e.Currency, e.RateTableID, e.AccruedAt.UTC())
	if err != nil {
		return false, fmt.Errorf("add earning of opinion %s: %w", e.OpinionID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("add earning of opinion %s: %w", e.OpinionID, err)
	}
	return n == 1, nil
}

// ForgetCase unlinks an erased case's earnings from it: what was earned,
// and for which opinion, stays (bookkeeping); which case it was does not.
func (s *Store) ForgetCase(ctx context.Context, tx *sql.Tx, caseID string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE earnings SET case_id = '' WHERE case_id = $1`, caseID); err != nil {
		return fmt.Errorf("forget case %s: %w", caseID, err)
	}
	return nil
}

const earningColumns = `e.id, e.professional_id, e.opinion_id, e.case_id, e.kind, e.level, e.amount, e.currency,
	e.rate_table_id, e.accrued_at, COALESCE(e.batch_id, ''), COALESCE(b.status, ''), b.paid_at`

const earningFrom = ` FROM earnings e LEFT JOIN batches b ON b.id = e.batch_id`

func scanEarnings(rows *sql.Rows) ([]Earning, error) {
	defer rows.Close()
	var out []Earning
	for rows.Next() {
		var e Earning
		var paid sql.NullTime
		if err := rows.Scan(&e.ID, &e.ProfessionalID, &e.OpinionID, &e.CaseID, &e.Kind, &e.Level, &e.Amount, &e.Currency,
			&e.RateTableID, &e.AccruedAt, &e.BatchID, &e.BatchStatus, &paid); err != nil {
			return nil, err
		}
		e.AccruedAt = e.AccruedAt.UTC()
		if paid.Valid {
			e.PaidAt = paid.Time.UTC()
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Range bounds accrual times: From included, To excluded; zero is open.
type Range struct{ From, To time.Time }

// Earnings is a page of a professional's earnings accrued in r, newest
// first, after cursor; next is the cursor of the page after, "" at the end.
func (s *Store) Earnings(ctx context.Context, professionalID string, r Range, cursor string, limit int) (items []Earning, next string, err error) {
	c, err := page.Decode(cursor)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT ` + earningColumns + earningFrom + ` WHERE e.professional_id = $1`
	args := []any{professionalID}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if !r.From.IsZero() {
		q += ` AND e.accrued_at >= ` + arg(r.From.UTC())
	}
	if !r.To.IsZero() {
		q += ` AND e.accrued_at < ` + arg(r.To.UTC())
	}
	if c.ID != "" {
		t := arg(c.Time.UTC())
		q += ` AND (e.accrued_at < ` + t + ` OR (e.accrued_at = ` + t + ` AND e.id < ` + arg(c.ID) + `))`
	}
	q += ` ORDER BY e.accrued_at DESC, e.id DESC LIMIT ` + arg(limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("earnings of %s: %w", professionalID, err)
	}
	items, err = scanEarnings(rows)
	if err != nil {
		return nil, "", fmt.Errorf("earnings of %s: %w", professionalID, err)
	}
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		next = page.Cursor{Time: last.AccruedAt, ID: last.ID}.Encode()
	}
	return items, next, nil
}

// MonthEarnings is every earning of a professional accrued in r, oldest
// first: a statement.
func (s *Store) MonthEarnings(ctx context.Context, professionalID string, r Range) ([]Earning, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+earningColumns+earningFrom+` WHERE e.professional_id = $1
		AND e.accrued_at >= $2 AND e.accrued_at < $3 ORDER BY e.accrued_at, e.id`, professionalID, r.From.UTC(), r.To.UTC())
	if err != nil {
		return nil, fmt.Errorf("statement of %s: %w", professionalID, err)
	}
	out, err := scanEarnings(rows)
	if err != nil {
		return nil, fmt.Errorf("statement of %s: %w", professionalID, err)
	}
	return out, nil
}

// Batch statuses.
const (
	Created = "CREATED" // gathered, not paid yet
	Paid    = "PAID"
)

// Batch is a payout batch.
type Batch struct {
	ID            string
	PeriodStart   string
	PeriodEnd     string
	Currency      string
	Total         int64
	Professionals int
	Earnings      int
	Status        string
	CreatedBy     string
	CreatedAt     time.Time
	PaidBy        string
	PaidAt        time.Time
	Items         []Item
}

// Item is what one professional is paid by a batch.
type Item struct {
	ID             string
	ProfessionalID string
	Amount         int64
	Earnings       int
}

// ErrNothingToPay is a batch that would gather no earning.
var ErrNothingToPay = fault.Conflict("Nothing to pay", "no unpaid earning was accrued in that period in that currency")

// CreateBatch gathers into batch b every earning in currency accrued in
// r that no batch holds yet, one item per professional (item ids from
// newID), within tx. An earning is taken by one UPDATE that only matches
// rows without a batch: a concurrent batch that took a row first makes
// this one's UPDATE skip it once that batch commits (PostgreSQL rechecks
// the condition of a row it waited for; SQLite runs one writer at a time),
// so no earning is ever in two batches. ErrNothingToPay when none is left.
func (s *Store) CreateBatch(ctx context.Context, tx *sql.Tx, b Batch, r Range, newID func() string) (Batch, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO batches (id, period_start, period_end, currency, total, professionals,
		earnings, status, created_by, created_at) VALUES ($1, $2, $3, $4, 0, 0, 0, $5, $6, $7)`,
		b.ID, b.PeriodStart, b.PeriodEnd, b.Currency, Created, b.CreatedBy, b.CreatedAt.UTC()); err != nil {
		return b, fmt.Errorf("create batch: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE earnings SET batch_id = $1 WHERE batch_id IS NULL AND currency = $2
		AND accrued_at >= $3 AND accrued_at < $4`, b.ID, b.Currency, r.From.UTC(), r.To.UTC()); err != nil {
		return b, fmt.Errorf("create batch: take earnings: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT professional_id, SUM(amount), COUNT(*) FROM earnings WHERE batch_id = $1
		GROUP BY professional_id ORDER BY professional_id`, b.ID)
	if err != nil {
		return b, fmt.Errorf("create batch: sum earnings: %w", err)
	}
	var items []Item
	for rows.Next() {
		it := Item{ID: newID()}
		if err := rows.Scan(&it.ProfessionalID, &it.Amount, &it.Earnings); err != nil {
			rows.Close()
			return b, fmt.Errorf("create batch: sum earnings: %w", err)
		}
		items = append(items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return b, fmt.Errorf("create batch: sum earnings: %w", err)
	}
	if len(items) == 0 {
		return b, ErrNothingToPay
	}
	b.Items, b.Total, b.Earnings, b.Professionals, b.Status = items, 0, 0, len(items), Created
	for _, it := range items {
		if b.Total, err = domain.Sum(b.Total, it.Amount); err != nil {
			return b, fmt.Errorf("create batch: %w", err)
		}
		b.Earnings += it.Earnings
		if _, err := tx.ExecContext(ctx, `INSERT INTO batch_items (id, batch_id, professional_id, amount, earnings)
			VALUES ($1, $2, $3, $4, $5)`, it.ID, b.ID, it.ProfessionalID, it.Amount, it.Earnings); err != nil {
			return b, fmt.Errorf("create batch: add item: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE batches SET total = $2, professionals = $3, earnings = $4 WHERE id = $1`,
		b.ID, b.Total, b.Professionals, b.Earnings); err != nil {
		return b, fmt.Errorf("create batch: %w", err)
	}
	return b, nil
}

const batchColumns = `id, period_start, period_end, currency, total, professionals, earnings, status, created_by,
	created_at, paid_by, paid_at`

func scanBatch(row interface{ Scan(...any) error }) (Batch, error) {
	var b Batch
	var paid sql.NullTime
	err := row.Scan(&b.ID, &b.PeriodStart, &b.PeriodEnd, &b.Currency, &b.Total, &b.Professionals, &b.Earnings, &b.Status,
		&b.CreatedBy, &b.CreatedAt, &b.PaidBy, &paid)
	b.CreatedAt = b.CreatedAt.UTC()
	if paid.Valid {
		b.PaidAt = paid.Time.UTC()
	}
	return b, err
}

// Batch reads a batch with its items.
func (s *Store) Batch(ctx context.Context, q Querier, id string) (Batch, error) {
	b, err := scanBatch(q.QueryRowContext(ctx, `SELECT `+batchColumns+` FROM batches WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return b, fault.NotFound("payout batch")
	}
	if err != nil {
		return b, fmt.Errorf("batch %s: %w", id, err)
	}
	rows, err := q.QueryContext(ctx, `SELECT id, professional_id, amount, earnings FROM batch_items WHERE batch_id = $1
		ORDER BY professional_id`, id)
	if err != nil {
		return b, fmt.Errorf("batch %s: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.ID, &it.ProfessionalID, &it.Amount, &it.Earnings); err != nil {
			return b, fmt.Errorf("batch %s: %w", id, err)
		}
		b.Items = append(b.Items, it)
	}
	return b, rows.Err()
}

// Batches is a page of batches, newest first, without their items.
func (s *Store) Batches(ctx context.Context, cursor string, limit int) (items []Batch, next string, err error) {
	c, err := page.Decode(cursor)
	if err != nil {
		return nil, "", err
	}
	q, args := `SELECT `+batchColumns+` FROM batches`, []any{limit + 1}
	if c.ID != "" {
		q += ` WHERE created_at < $2 OR (created_at = $2 AND id < $3)`
		args = append(args, c.Time.UTC(), c.ID)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at DESC, id DESC LIMIT $1`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("batches: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		b, err := scanBatch(rows)
		if err != nil {
			return nil, "", fmt.Errorf("batches: %w", err)
		}
		items = append(items, b)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("batches: %w", err)
	}
	if len(items) > limit {
		items = items[:limit]
		last := items[limit-1]
		next = page.Cursor{Time: last.CreatedAt, ID: last.ID}.Encode()
	}
	return items, next, nil
}

// MarkPaid marks a CREATED batch paid; first is false when it was paid
// already (the call is then a no-op), so only the first marking publishes.
func (s *Store) MarkPaid(ctx context.Context, tx *sql.Tx, id, by string, at time.Time) (first bool, err error) {
	res, err := tx.ExecContext(ctx, `UPDATE batches SET status = $2, paid_by = $3, paid_at = $4 WHERE id = $1 AND status = $5`,
		id, Paid, by, at.UTC(), Created)
	if err != nil {
		return false, fmt.Errorf("mark batch %s paid: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark batch %s paid: %w", id, err)
	}
	return n == 1, nil
}

// Account is a professional's payout account, sealed.
type Account struct {
	ProfessionalID string
	Sealed         []byte // holder and IBAN, sealed with the data key
	WrappedKey     []byte // the data key, wrapped by the master key
	IBANMasked     string
	BIC            string
	UpdatedAt      time.Time
}

// PutAccount creates or replaces a professional's payout account.
func (s *Store) PutAccount(ctx context.Context, a Account) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO payout_accounts (professional_id, sealed, wrapped_key, iban_masked, bic,
		updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (professional_id) DO UPDATE SET sealed = excluded.sealed,
		wrapped_key = excluded.wrapped_key, iban_masked = excluded.iban_masked, bic = excluded.bic,
		updated_at = excluded.updated_at`, a.ProfessionalID, a.Sealed, a.WrappedKey, a.IBANMasked, a.BIC, a.UpdatedAt.UTC()); err != nil {
		return fmt.Errorf("put payout account: %w", err)
	}
	return nil
}

// Account reads a professional's payout account; fault.NotFound without one.
func (s *Store) Account(ctx context.Context, professionalID string) (Account, error) {
	a := Account{ProfessionalID: professionalID}
	err := s.db.QueryRowContext(ctx, `SELECT sealed, wrapped_key, iban_masked, bic, updated_at FROM payout_accounts
		WHERE professional_id = $1`, professionalID).Scan(&a.Sealed, &a.WrappedKey, &a.IBANMasked, &a.BIC, &a.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return a, fault.NotFound("payout account")
	}
	if err != nil {
		return a, fmt.Errorf("payout account: %w", err)
	}
	a.UpdatedAt = a.UpdatedAt.UTC()
	return a, nil
}
