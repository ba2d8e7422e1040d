// Package store keeps pricing's catalogue, discount codes, quotes and
// the redemptions of codes, with one set of queries for SQLite and
// PostgreSQL.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/financial/pricing/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the tables, and seeds the default catalogue.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

var (
	// ErrNotFound is a price, code or quote that is not stored.
	ErrNotFound = errors.New("not found")
	// ErrCodeTaken is a discount code that exists already.
	ErrCodeTaken = errors.New("discount code taken")
	// ErrExhausted is a code whose total limit was reached.
	ErrExhausted = errors.New("discount code used up")
	// ErrPatientLimit is a code the patient used as often as it allows.
	ErrPatientLimit = errors.New("discount code's limit per patient reached")
)

// Querier is a store handle or a transaction.
type Querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Store is pricing's store.
type Store struct{ db *sqldb.DB }

// New returns the store over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// utc truncates t to what both engines keep: microseconds, UTC.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Price is one row of the catalogue.
type Price struct {
	Region, Specialty, Urgency string
	Net                        int64
	Currency                   string
	TaxRate                    int
	UpdatedAt                  time.Time
}

const priceColumns = `region, specialty, urgency, net_amount, currency, tax_rate, updated_at`

func scanPrice(row interface{ Scan(...any) error }) (Price, error) {
	var p Price
	err := row.Scan(&p.Region, &p.Specialty, &p.Urgency, &p.Net, &p.Currency, &p.TaxRate, &p.UpdatedAt)
	p.UpdatedAt = p.UpdatedAt.UTC()
	return p, err
}

// Catalogue lists the prices of region ("" for every region), by
// region, specialty and urgency.
func (s *Store) Catalogue(ctx context.Context, region string) ([]Price, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+priceColumns+` FROM catalogue_prices
		WHERE $1 = '' OR region = $1 ORDER BY region, specialty, urgency`, region)
	if err != nil {
		return nil, fmt.Errorf("catalogue: %w", err)
	}
	defer rows.Close()
	out := []Price{}
	for rows.Next() {
		p, err := scanPrice(rows)
		if err != nil {
			return nil, fmt.Errorf("catalogue: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Price is the catalogue's price of a case of specialty at urgency in
// region, or ErrNotFound.
func (s *Store) Price(ctx context.Context, q Querier, region, specialty, urgency string) (Price, error) {
	p, err := scanPrice(q.QueryRowContext(ctx, `SELECT `+priceColumns+` FROM catalogue_prices
		WHERE region = $1 AND specialty = $2 AND urgency = $3`, region, specialty, urgency))
	if errors.Is(err, sql.ErrNoRows) {
		return Price{}, ErrNotFound
	}
	if err != nil {
		return Price{}, fmt.Errorf("price %s/%s/%s: %w", region, specialty, urgency, err)
	}
	return p, nil
}

// SetPrice adds or replaces p within tx.
func (s *Store) SetPrice(ctx context.Context, tx *sql.Tx, p Price) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO catalogue_prices (`+priceColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (region, specialty, urgency) DO UPDATE SET net_amount = excluded.net_amount,
		currency = excluded.currency, tax_rate = excluded.tax_rate, updated_at = excluded.updated_at`,
		p.Region, p.Specialty, p.Urgency, p.Net, p.Currency, p.TaxRate, utc(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("set price %s/%s/%s: %w", p.Region, p.Specialty, p.Urgency, err)
	}
	return nil
}

// Discount is a stored discount code: its terms, and how often quotes
// with it were redeemed.
type Discount struct {
	ID string
	domain.Discount
	Uses      int
	CreatedAt time.Time
}

const discountColumns = `id, code, kind, percent, amount, currency, valid_from, valid_until, max_uses,
	max_uses_per_patient, uses, created_at`

func scanDiscount(row interface{ Scan(...any) error }) (Discount, error) {
	var d Discount
	var until sql.NullTime
	err := row.Scan(&d.ID, &d.Code, &d.Kind, &d.Percent, &d.Amount, &d.Currency, &d.ValidFrom, &until, &d.MaxUses,
		&d.MaxUsesPerPatient, &d.Uses, &d.CreatedAt)
	d.ValidFrom, d.CreatedAt = d.ValidFrom.UTC(), d.CreatedAt.UTC()
	if until.Valid {
		d.ValidUntil = until.Time.UTC()
	}
	return d, err
}

// CreateDiscount stores a new code within tx, or ErrCodeTaken.
func (s *Store) CreateDiscount(ctx context.Context, tx *sql.Tx, d Discount) error {
	var until sql.NullTime
	if !d.ValidUntil.IsZero() {
		until = sql.NullTime{Time: utc(d.ValidUntil), Valid: true}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO discount_codes (`+discountColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11)`, d.ID, d.Code, d.Kind, d.Percent, d.Amount, d.Currency,
		utc(d.ValidFrom), until, d.MaxUses, d.MaxUsesPerPatient, utc(d.CreatedAt))
	if sqldb.IsUniqueViolation(err) {
		return ErrCodeTaken
	}
	if err != nil {
		return fmt.Errorf("create discount code: %w", err)
	}
	return nil
}

// DiscountByCode is the code (normalised), or ErrNotFound.
func (s *Store) DiscountByCode(ctx context.Context, q Querier, code string) (Discount, error) {
	d, err := scanDiscount(q.QueryRowContext(ctx, `SELECT `+discountColumns+` FROM discount_codes WHERE code = $1`, code))
	if errors.Is(err, sql.ErrNoRows) {
		return Discount{}, ErrNotFound
	}
	if err != nil {
		return Discount{}, fmt.Errorf("discount code: %w", err)
	}
	return d, nil
}

// Discounts lists up to limit codes after the cursor, oldest first, and
// the cursor of the next page ("" on the last).
func (s *Store) Discounts(ctx context.Context, after page.Cursor, limit int) ([]Discount, string, error) {
	q := `SELECT ` + discountColumns + ` FROM discount_codes`
	args := []any{}
	if after.ID != "" {
		q += ` WHERE created_at > $1 OR (created_at = $1 AND id > $2)`
		args = append(args, utc(after.Time), after.ID)
	}
	q += fmt.Sprintf(` ORDER BY created_at, id LIMIT %d`, limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("discount codes: %w", err)
	}
	defer rows.Close()
	var out []Discount
	for rows.Next() {
		d, err := scanDiscount(rows)
		if err != nil {
			return nil, "", fmt.Errorf("discount codes: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("discount codes: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = page.Cursor{Time: last.CreatedAt, ID: last.ID}.Encode()
	}
	return out, next, nil
}

// PatientUses counts the redeemed quotes of patient with discount id.
func (s *Store) PatientUses(ctx context.Context, q Querier, discountID, patientID string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM discount_redemptions WHERE discount_id = $1 AND patient_id = $2`,
		discountID, patientID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("uses of discount code %s: %w", discountID, err)
	}
	return n, nil
}

// UseDiscount counts quote's use of discount d by patient, within the
// redeeming tx. The total counter is raised only while under MaxUses,
// in one conditional UPDATE: on PostgreSQL its row lock also queues every
// other redemption of the code behind this transaction, so the
// per-patient count read after it sees theirs (and SQLite's transactions
// are serial). ErrExhausted or ErrPatientLimit leave tx to be rolled back.
func (s *Store) UseDiscount(ctx context.Context, tx *sql.Tx, d Discount, quoteID, patientID string, at time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE discount_codes SET uses = uses + 1
		WHERE id = $1 AND (max_uses = 0 OR uses < max_uses)`, d.ID)
	if err != nil {
		return fmt.Errorf("use discount code %s: %w", d.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("use discount code %s: %w", d.ID, err)
	} else if n == 0 {
		return ErrExhausted
	}
	if d.MaxUsesPerPatient > 0 {
		n, err := s.PatientUses(ctx, tx, d.ID, patientID)
		if err != nil {
			return err
		}
		if n >= d.MaxUsesPerPatient {
			return ErrPatientLimit
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO discount_redemptions (quote_id, discount_id, patient_id, redeemed_at)
		VALUES ($1, $2, $3, $4)`, quoteID, d.ID, patientID, utc(at)); err != nil {
		return fmt.Errorf("use discount code %s: %w", d.ID, err)
	}
	return nil
}

// Quote is an issued quote.
type Quote struct {
	ID, CaseID, PatientID      string
	Region, Specialty, Urgency string
	Currency                   string
	domain.Amounts
	DiscountID, DiscountCode string // "" for none
	IssuedAt, ExpiresAt      time.Time
	RedeemedAt               time.Time // zero until redeemed
}

const quoteColumns = `id, case_id, patient_id, region, specialty, urgency, currency, net_amount, discount_amount,
	tax_rate, tax_amount, total_amount, discount_id, discount_code, issued_at, expires_at, redeemed_at`

// AddQuote stores q within tx.
func (s *Store) AddQuote(ctx context.Context, tx *sql.Tx, q Quote) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO quotes (`+quoteColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, NULL)`,
		q.ID, q.CaseID, q.PatientID, q.Region, q.Specialty, q.Urgency, q.Currency, q.Net, q.Discount, q.TaxRate, q.Tax,
		q.Total, q.DiscountID, q.DiscountCode, utc(q.IssuedAt), utc(q.ExpiresAt))
	if err != nil {
		return fmt.Errorf("add quote: %w", err)
	}
	return nil
}

// Quote reads quote id, or ErrNotFound.
func (s *Store) Quote(ctx context.Context, q Querier, id string) (Quote, error) {
	var out Quote
	var redeemed sql.NullTime
	err := q.QueryRowContext(ctx, `SELECT `+quoteColumns+` FROM quotes WHERE id = $1`, id).Scan(&out.ID, &out.CaseID,
		&out.PatientID, &out.Region, &out.Specialty, &out.Urgency, &out.Currency, &out.Net, &out.Discount, &out.TaxRate,
		&out.Tax, &out.Total, &out.DiscountID, &out.DiscountCode, &out.IssuedAt, &out.ExpiresAt, &redeemed)
	if errors.Is(err, sql.ErrNoRows) {
		return Quote{}, ErrNotFound
	}
	if err != nil {
		return Quote{}, fmt.Errorf("quote %s: %w", id, err)
	}
	out.IssuedAt, out.ExpiresAt = out.IssuedAt.UTC(), out.ExpiresAt.UTC()
	if redeemed.Valid {
		out.RedeemedAt = redeemed.Time.UTC()
	}
	return out, nil
}

// MarkRedeemed sets quote id's redemption time within tx; first is false
// when it was redeemed before (on PostgreSQL, after waiting for a
// concurrent redemption of it to commit).
func (s *Store) MarkRedeemed(ctx context.Context, tx *sql.Tx, id string, at time.Time) (first bool, err error) {
	res, err := tx.ExecContext(ctx, `UPDATE quotes SET redeemed_at = $2 WHERE id = $1 AND redeemed_at IS NULL`, id, utc(at))
	if err != nil {
		return false, fmt.Errorf("redeem quote %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("redeem quote %s: %w", id, err)
	}
	return n == 1, nil
}

// EraseCase deletes the quotes of case caseID within tx. The codes'
// redemptions stay: they are counted against the patient's limit and
// name no case.
func (s *Store) EraseCase(ctx context.Context, tx *sql.Tx, caseID string) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM quotes WHERE case_id = $1`, caseID)
	if err != nil {
		return 0, fmt.Errorf("erase quotes of case %s: %w", caseID, err)
	}
	return res.RowsAffected()
}

// ErasePatient deletes everything that names patient within tx: their
// quotes and the records of their uses of discount codes. The codes'
// counters (discount_codes.uses) are left as they are, so a code's total
// limit still counts the uses of an erased patient; only the per-patient
// count, whose subject is gone, goes with them.
func (s *Store) ErasePatient(ctx context.Context, tx *sql.Tx, patientID string) (quotes int64, err error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM quotes WHERE patient_id = $1`, patientID)
	if err != nil {
		return 0, fmt.Errorf("erase quotes of patient %s: %w", patientID, err)
	}
	if quotes, err = res.RowsAffected(); err != nil {
		return 0, fmt.Errorf("erase quotes of patient %s: %w", patientID, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM discount_redemptions WHERE patient_id = $1`, patientID); err != nil {
		return 0, fmt.Errorf("erase discount uses of patient %s: %w", patientID, err)
	}
	return quotes, nil
}

// RegionCurrency is the currency of region's prices other than the one of
// specialty at urgency, "" when it has none.
func (s *Store) RegionCurrency(ctx context.Context, q Querier, region, specialty, urgency string) (string, error) {
	var cur string
	err := q.QueryRowContext(ctx, `SELECT currency FROM catalogue_prices
		WHERE region = $1 AND NOT (specialty = $2 AND urgency = $3) LIMIT 1`, region, specialty, urgency).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("currency of %s: %w", region, err)
	}
	return cur, nil
}
