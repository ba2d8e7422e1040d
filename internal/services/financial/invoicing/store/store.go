// Package store keeps invoicing's documents — invoices and credit notes,
// written once and never changed — the counters of their gap-free number
// series, and the refunds waiting for their invoice; one set of queries
// for SQLite and PostgreSQL.
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

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/financial/invoicing/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the store's tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// Seller is who issues the documents, as the configuration named them at
// issue time.
type Seller struct{ Name, Address, TaxID string }

// Buyer is who was invoiced, as patient-identity knew them at issue time.
type Buyer struct{ Name string }

// Document is an invoice or a credit note as issued.
type Document struct {
	ID     string
	Number string
	domain.Series
	Seq        int64
	CaseID     string // "" once the case is erased
	PaymentID  string
	CustomerID string // "" once the patient is erased
	// A credit note's invoice and refund; "" on an invoice.
	CreditedInvoiceID, CreditedNumber, RefundID string
	IssuedAt                                    time.Time
	Currency                                    string
	Seller                                      Seller
	Buyer                                       Buyer
	Lines                                       []domain.Line
	domain.Totals
}

// Store is invoicing's store.
type Store struct{ db *sqldb.DB }

// New returns the store over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// querier is a transaction or the store itself.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Next takes the next number of series within tx and returns it: 1 for a
// new series. The upsert locks the series' row until tx ends (PostgreSQL;
// SQLite's transactions hold the whole store's write lock from their
// start), so concurrent issues take consecutive numbers one after the
// other, and a tx that rolls back gives its number back: no gap, no
// duplicate.
func (s *Store) Next(ctx context.Context, tx *sql.Tx, series domain.Series) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `INSERT INTO invoice_counters (kind, region, year, last) VALUES ($1, $2, $3, 1)
		ON CONFLICT (kind, region, year) DO UPDATE SET last = invoice_counters.last + 1 RETURNING last`,
		string(series.Kind), string(series.Region), series.Year).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("next number of %s %s %d: %w", series.Kind, series.Region, series.Year, err)
	}
	return n, nil
}

// Insert writes an issued document within tx, the transaction that took
// its number.
func (s *Store) Insert(ctx context.Context, tx *sql.Tx, d Document) error {
	lines, err := json.Marshal(d.Lines)
	if err != nil {
		return fmt.Errorf("insert %s: %w", d.Number, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO invoices (id, number, kind, region, year, seq, case_id, payment_id,
		customer_id, credited_invoice_id, credited_number, refund_id, issued_at, currency, seller_name, seller_address,
		seller_tax_id, buyer_name, lines, net_total, tax_total, total)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
		d.ID, d.Number, string(d.Kind), string(d.Region), d.Year, d.Seq, d.CaseID, d.PaymentID, d.CustomerID,
		d.CreditedInvoiceID, d.CreditedNumber, d.RefundID, d.IssuedAt.UTC(), d.Currency, d.Seller.Name,
		d.Seller.Address, d.Seller.TaxID, d.Buyer.Name, string(lines), d.Net, d.Tax, d.Total)
	if err != nil {
		return fmt.Errorf("insert %s: %w", d.Number, err)
	}
	return nil
}

const columns = `id, number, kind, region, year, seq, case_id, payment_id, customer_id, credited_invoice_id,
	credited_number, refund_id, issued_at, currency, seller_name, seller_address, seller_tax_id, buyer_name,
	lines, net_total, tax_total, total`

type scanner interface{ Scan(dest ...any) error }

func scan(r scanner) (Document, error) {
	var d Document
	var kind, region, lines string
	err := r.Scan(&d.ID, &d.Number, &kind, &region, &d.Year, &d.Seq, &d.CaseID, &d.PaymentID, &d.CustomerID,
		&d.CreditedInvoiceID, &d.CreditedNumber, &d.RefundID, &d.IssuedAt, &d.Currency, &d.Seller.Name,
		&d.Seller.Address, &d.Seller.TaxID, &d.Buyer.Name, &lines, &d.Net, &d.Tax, &d.Total)
	if err != nil {
		return Document{}, err
	}
	d.Kind, d.Region, d.IssuedAt = domain.Kind(kind), vocab.Region(region), d.IssuedAt.UTC()
	if err := json.Unmarshal([]byte(lines), &d.Lines); err != nil {
		return Document{}, fmt.Errorf("lines of %s: %w", d.Number, err)
	}
	return d, nil
}

// Invoice is the invoice of a payment; found is false when it has none
// yet.
func (s *Store) Invoice(ctx context.Context, q querier, paymentID string) (d Document, found bool, err error) {
	d, err = scan(q.QueryRowContext(ctx, `SELECT `+columns+` FROM invoices WHERE payment_id = $1 AND kind = $2`,
		paymentID, string(domain.Invoice)))
	if errors.Is(err, sql.ErrNoRows) {
		return Document{}, false, nil
	}
	if err != nil {
		return Document{}, false, fmt.Errorf("invoice of payment %s: %w", paymentID, err)
	}
	return d, true, nil
}

// Credited reports whether the refund has its credit note.
func (s *Store) Credited(ctx context.Context, q querier, refundID string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM invoices WHERE refund_id = $1 AND kind = $2`,
		refundID, string(domain.CreditNote)).Scan(&n); err != nil {
		return false, fmt.Errorf("credit note of refund %s: %w", refundID, err)
	}
	return n > 0, nil
}

// Credits sums the credit notes issued on an invoice (below zero).
func (s *Store) Credits(ctx context.Context, q querier, invoiceID string) (domain.Totals, error) {
	var t domain.Totals
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(net_total), 0), COALESCE(SUM(tax_total), 0),
		COALESCE(SUM(total), 0) FROM invoices WHERE credited_invoice_id = $1 AND kind = $2`,
		invoiceID, string(domain.CreditNote)).Scan(&t.Net, &t.Tax, &t.Total); err != nil {
		return domain.Totals{}, fmt.Errorf("credit notes of invoice %s: %w", invoiceID, err)
	}
	return t, nil
}

// Get is the document id; a NotFound fault when there is none.
func (s *Store) Get(ctx context.Context, id string) (Document, error) {
	if _, err := uuid.Parse(id); err != nil {
		return Document{}, fault.NotFound("invoice")
	}
	d, err := scan(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM invoices WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Document{}, fault.NotFound("invoice")
	}
	if err != nil {
		return Document{}, fmt.Errorf("invoice %s: %w", id, err)
	}
	return d, nil
}

// Pending is a refund waiting for its payment's invoice.
type Pending struct {
	RefundID, PaymentID string
	Amount              int64
	Currency            string
	ReceivedAt          time.Time
}

// Wait keeps a refund until its invoice is issued; a refund kept before
// is left as it is.
func (s *Store) Wait(ctx context.Context, tx *sql.Tx, p Pending) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO pending_refunds (refund_id, payment_id, amount, currency, received_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (refund_id) DO NOTHING`,
		p.RefundID, p.PaymentID, p.Amount, p.Currency, p.ReceivedAt.UTC()); err != nil {
		return fmt.Errorf("keep refund %s: %w", p.RefundID, err)
	}
	return nil
}

// Waiting lists the refunds of a payment that wait for its invoice, in
// the order they arrived.
func (s *Store) Waiting(ctx context.Context, q querier, paymentID string) ([]Pending, error) {
	rows, err := q.QueryContext(ctx, `SELECT refund_id, payment_id, amount, currency, received_at FROM pending_refunds
		WHERE payment_id = $1 ORDER BY received_at, refund_id`, paymentID)
	if err != nil {
		return nil, fmt.Errorf("refunds of payment %s: %w", paymentID, err)
	}
	defer rows.Close()
	var out []Pending
	for rows.Next() {
		var p Pending
		if err := rows.Scan(&p.RefundID, &p.PaymentID, &p.Amount, &p.Currency, &p.ReceivedAt); err != nil {
			return nil, fmt.Errorf("refunds of payment %s: %w", paymentID, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// IsWaiting reports whether a refund waits for its invoice.
func (s *Store) IsWaiting(ctx context.Context, q querier, refundID string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM pending_refunds WHERE refund_id = $1`, refundID).Scan(&n); err != nil {
		return false, fmt.Errorf("refund %s: %w", refundID, err)
	}
	return n > 0, nil
}

// Done drops a waiting refund, within the tx that issued its credit note.
func (s *Store) Done(ctx context.Context, tx *sql.Tx, refundID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM pending_refunds WHERE refund_id = $1`, refundID); err != nil {
		return fmt.Errorf("refund %s done: %w", refundID, err)
	}
	return nil
}

// Filter selects documents; empty fields select any.
type Filter struct {
	CustomerID, CaseID string
	Kind               domain.Kind
}

// List returns up to limit documents f selects, newest first, after the
// cursor, with the next page's cursor ("" on the last page).
func (s *Store) List(ctx context.Context, f Filter, after page.Cursor, limit int) ([]Document, string, error) {
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	q := `SELECT ` + columns + ` FROM invoices WHERE 1 = 1`
	if f.CustomerID != "" {
		q += ` AND customer_id = ` + arg(f.CustomerID)
	}
	if f.CaseID != "" {
		q += ` AND case_id = ` + arg(f.CaseID)
	}
	if f.Kind != "" {
		q += ` AND kind = ` + arg(string(f.Kind))
	}
	if after.ID != "" {
		if _, err := uuid.Parse(after.ID); err != nil {
			return nil, "", fault.Invalid(page.Field, "not a cursor returned by this API")
		}
		t := arg(after.Time.UTC())
		q += ` AND (issued_at < ` + t + ` OR (issued_at = ` + t + ` AND id < ` + arg(after.ID) + `))`
	}
	q += fmt.Sprintf(` ORDER BY issued_at DESC, id DESC LIMIT %d`, limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list invoices: %w", err)
	}
	defer rows.Close()
	var out []Document
	for rows.Next() {
		d, err := scan(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list invoices: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list invoices: %w", err)
	}
	if len(out) <= limit {
		return out, "", nil
	}
	last := out[limit-1]
	return out[:limit], page.Cursor{Time: last.IssuedAt, ID: last.ID}.Encode(), nil
}

// ForgetCustomer unlinks an erased patient's documents from their id.
// The documents themselves stay as issued (docs/retention.md).
func (s *Store) ForgetCustomer(ctx context.Context, tx *sql.Tx, customerID string) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE invoices SET customer_id = '' WHERE customer_id = $1`, customerID)
	if err != nil {
		return 0, fmt.Errorf("forget customer %s: %w", customerID, err)
	}
	return res.RowsAffected()
}

// ForgetCase unlinks an erased case's documents from its id.
func (s *Store) ForgetCase(ctx context.Context, tx *sql.Tx, caseID string) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE invoices SET case_id = '' WHERE case_id = $1`, caseID)
	if err != nil {
		return 0, fmt.Errorf("forget case %s: %w", caseID, err)
	}
	return res.RowsAffected()
}
