// Package store keeps reporting's facts — cases, assignments, escalations,
// AI requests, opinions, payments and refunds, by id — with one set of
// queries for SQLite and PostgreSQL, and reads a window's facts back for
// the KPIs (package domain computes them).
//
// Every write is an upsert keyed by the id of what it is about, merged
// column by column so that the order and the number of times events are
// applied do not change the result: the earliest time of a step wins, the
// latest status wins (by time, then by event id), and what one event
// tells of a row another leaves unknown (an AI request's tokens, its
// cost) stays once known. A rebuild may thus run
// beside the live consumer.
package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"strings"
	"time"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/platform/reporting/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades reporting's tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// Store is reporting's facts.
type Store struct{ db *sqldb.DB }

// New returns the facts over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// Case is what an event tells of a case; empty fields and zero times
// tell nothing.
type Case struct {
	ID, Number           string
	Specialty, Urgency   string
	Submitted, Completed time.Time
	// Status is the status a case.status_changed moved it to, ordered
	// among the others by StatusAt and then StatusEvent (the event's id).
	Status      string
	StatusAt    time.Time
	StatusEvent string
}

// later is true when the row being written carries a later status than
// the stored one.
const later = `(excluded.status_at > cases.status_at OR
	(excluded.status_at = cases.status_at AND excluded.status_event > cases.status_event))`

// UpsertCase merges c into the case's row.
func (s *Store) UpsertCase(ctx context.Context, tx *sql.Tx, c Case) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO cases (case_id, case_number, specialty, urgency, submitted_at,
		completed_at, status, status_at, status_event) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (case_id) DO UPDATE SET
		case_number = `+firstSet("cases.case_number")+`,
		specialty = `+firstSet("cases.specialty")+`,
		urgency = `+firstSet("cases.urgency")+`,
		submitted_at = `+earliest("cases.submitted_at")+`,
		completed_at = `+earliest("cases.completed_at")+`,
		status = CASE WHEN `+later+` THEN excluded.status ELSE cases.status END,
		status_event = CASE WHEN `+later+` THEN excluded.status_event ELSE cases.status_event END,
		status_at = CASE WHEN `+later+` THEN excluded.status_at ELSE cases.status_at END`,
		c.ID, c.Number, c.Specialty, c.Urgency, millis(c.Submitted), millis(c.Completed),
		c.Status, millisOr0(c.StatusAt), c.StatusEvent)
	if err != nil {
		return fmt.Errorf("case %s: %w", c.ID, err)
	}
	return nil
}

// Assignment is what an event tells of an assignment.
type Assignment struct {
	ID, CaseID       string
	Claimed, Expired time.Time
}

// UpsertAssignment merges a into the assignment's row.
func (s *Store) UpsertAssignment(ctx context.Context, tx *sql.Tx, a Assignment) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO assignments (assignment_id, case_id, claimed_at, expired_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (assignment_id) DO UPDATE SET
		claimed_at = `+earliest("assignments.claimed_at")+`,
		expired_at = `+earliest("assignments.expired_at"),
		a.ID, a.CaseID, millis(a.Claimed), millis(a.Expired))
	if err != nil {
		return fmt.Errorf("assignment %s: %w", a.ID, err)
	}
	return nil
}

// AddEscalation records an escalation, keyed by its event's id.
func (s *Store) AddEscalation(ctx context.Context, tx *sql.Tx, eventID, caseID string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO escalations (event_id, case_id, at) VALUES ($1, $2, $3)
		ON CONFLICT (event_id) DO NOTHING`, eventID, caseID, at.UnixMilli())
	if err != nil {
		return fmt.Errorf("escalation %s: %w", eventID, err)
	}
	return nil
}

// AIRequest is what an event tells of a request to an AI provider:
// ai.request.completed or failed its tokens, ai.request.priced its cost
// in millionths of a US dollar.
type AIRequest struct {
	ID, CaseID                string
	Failed                    bool
	InputTokens, OutputTokens int64
	CostMicros                int64
	At                        time.Time
}

// AddAIRequest merges the tokens of r into the request's row; its cost
// stays as ai.request.priced left it, or unknown.
func (s *Store) AddAIRequest(ctx context.Context, tx *sql.Tx, r AIRequest) error {
	return s.upsertAIRequest(ctx, tx, r, r.InputTokens, r.OutputTokens, nil)
}

// PriceAIRequest merges the cost of r into the request's row; its tokens
// stay as ai.request.completed or failed left them, or unknown.
func (s *Store) PriceAIRequest(ctx context.Context, tx *sql.Tx, r AIRequest) error {
	return s.upsertAIRequest(ctx, tx, r, nil, nil, r.CostMicros)
}

// upsertAIRequest writes a request's row, NULL for what the event does not
// tell: a value once known stays, so both events, in either order and as
// often as delivered, make the same row.
func (s *Store) upsertAIRequest(ctx context.Context, tx *sql.Tx, r AIRequest, in, out, cost any) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO ai_requests (request_id, case_id, failed, input_tokens, output_tokens,
		cost_micros, at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_id) DO UPDATE SET
		case_id = `+firstSet("ai_requests.case_id")+`,
		failed = ai_requests.failed OR excluded.failed,
		input_tokens = `+known("ai_requests.input_tokens")+`,
		output_tokens = `+known("ai_requests.output_tokens")+`,
		cost_micros = `+known("ai_requests.cost_micros")+`,
		at = `+earliest("ai_requests.at"),
		r.ID, r.CaseID, r.Failed, in, out, cost, r.At.UnixMilli())
	if err != nil {
		return fmt.Errorf("AI request %s: %w", r.ID, err)
	}
	return nil
}

// Opinion is what an event tells of an opinion.
type Opinion struct {
	ID, CaseID, ProfessionalID string
	Submitted, Approved        time.Time
}

// UpsertOpinion merges o into the opinion's row: its first submission and
// its approval.
func (s *Store) UpsertOpinion(ctx context.Context, tx *sql.Tx, o Opinion) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO opinions (opinion_id, case_id, professional_id, submitted_at, approved_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (opinion_id) DO UPDATE SET
		submitted_at = `+earliest("opinions.submitted_at")+`,
		approved_at = `+earliest("opinions.approved_at"),
		o.ID, o.CaseID, o.ProfessionalID, millis(o.Submitted), millis(o.Approved))
	if err != nil {
		return fmt.Errorf("opinion %s: %w", o.ID, err)
	}
	return nil
}

// Money is a payment or a refund, in minor units of Currency. Specialty
// is a payment's; a refund takes its payment's.
type Money struct {
	ID, PaymentID, CaseID string
	Specialty             string
	Amount                int64
	Currency              string
	At                    time.Time
}

// AddPayment records a payment once.
func (s *Store) AddPayment(ctx context.Context, tx *sql.Tx, m Money) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO payments (payment_id, case_id, specialty, amount, currency, at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (payment_id) DO NOTHING`,
		m.ID, m.CaseID, m.Specialty, m.Amount, m.Currency, m.At.UnixMilli())
	if err != nil {
		return fmt.Errorf("payment %s: %w", m.ID, err)
	}
	return nil
}

// AddRefund records a refund once.
func (s *Store) AddRefund(ctx context.Context, tx *sql.Tx, m Money) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refunds (refund_id, payment_id, case_id, amount, currency, at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (refund_id) DO NOTHING`,
		m.ID, m.PaymentID, m.CaseID, m.Amount, m.Currency, m.At.UnixMilli())
	if err != nil {
		return fmt.Errorf("refund %s: %w", m.ID, err)
	}
	return nil
}

// tables are every table of facts, erased_cases included: a rebuild
// empties them all and the replayed erasures fill erased_cases again.
var tables = []string{"cases", "assignments", "escalations", "ai_requests", "opinions", "payments", "refunds", "erased_cases"}

// caseTables are the tables whose rows name a case.
var caseTables = []string{"cases", "assignments", "escalations", "ai_requests", "opinions", "payments", "refunds"}

// Reset empties every table of facts, before a rebuild.
func (s *Store) Reset(ctx context.Context) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, t := range tables {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
				return fmt.Errorf("empty %s: %w", t, err)
			}
		}
		return nil
	})
}

// CaseKey is the id the facts of case id are filed under: its pseudonym
// once the case was erased, else id itself.
func (s *Store) CaseKey(ctx context.Context, tx *sql.Tx, id string) (string, error) {
	if id == "" || domain.IsPseudonym(id) {
		return id, nil
	}
	p := domain.Pseudonym(id)
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM erased_cases WHERE pseudonym = $1`, p).Scan(&n); err != nil {
		return "", fmt.Errorf("erased case: %w", err)
	}
	if n > 0 {
		return p, nil
	}
	return id, nil
}

// Erase files the facts of case id under pseudonym, within tx, and
// forgets the case's number, which it returns ("" when unknown). The
// figures do not change. id may already be the pseudonym (a replayed
// erasure), which only remembers it.
func (s *Store) Erase(ctx context.Context, tx *sql.Tx, id, pseudonym string) (number string, err error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO erased_cases (pseudonym) VALUES ($1) ON CONFLICT (pseudonym) DO NOTHING`,
		pseudonym); err != nil {
		return "", fmt.Errorf("erase case: %w", err)
	}
	err = tx.QueryRowContext(ctx, `SELECT case_number FROM cases WHERE case_id = $1`, id).Scan(&number)
	if err != nil && err != sql.ErrNoRows {
		return "", fmt.Errorf("erase case: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE cases SET case_number = '' WHERE case_id = $1`, id); err != nil {
		return "", fmt.Errorf("erase case: %w", err)
	}
	if id == pseudonym {
		return number, nil
	}
	for _, t := range caseTables {
		if _, err := tx.ExecContext(ctx, `UPDATE `+t+` SET case_id = $2 WHERE case_id = $1`, id, pseudonym); err != nil {
			return "", fmt.Errorf("erase case from %s: %w", t, err)
		}
	}
	return number, nil
}

// Facts reads the facts of the window [from, to), each with the specialty
// of its case, in the order of their times (then ids), so that equal
// facts read equal.
func (s *Store) Facts(ctx context.Context, from, to time.Time) (domain.Facts, error) {
	var f domain.Facts
	a, b := from.UnixMilli(), to.UnixMilli()
	err := s.each(ctx, `SELECT c.specialty, c.status, c.submitted_at, c.completed_at,
		(SELECT MIN(a.claimed_at) FROM assignments a WHERE a.case_id = c.case_id),
		(SELECT MIN(o.submitted_at) FROM opinions o WHERE o.case_id = c.case_id)
		FROM cases c WHERE c.submitted_at >= $1 AND c.submitted_at < $2 ORDER BY c.submitted_at, c.case_id`, []any{a, b}, func(rows *sql.Rows) error {
		var c domain.Case
		var submitted int64
		var completed, claimed, opinion sql.NullInt64
		if err := rows.Scan(&c.Specialty, &c.Status, &submitted, &completed, &claimed, &opinion); err != nil {
			return err
		}
		c.At, c.Completed, c.Claimed, c.Opinion = time.UnixMilli(submitted).UTC(), at(completed), at(claimed), at(opinion)
		f.Cases = append(f.Cases, c)
		return nil
	})
	if err != nil {
		return f, err
	}
	for _, q := range []struct {
		into *[]domain.Fact
		sql  string
	}{
		{&f.Claims, `SELECT ` + specialtyOf("a") + `, a.claimed_at FROM assignments a WHERE a.claimed_at >= $1 AND a.claimed_at < $2
			ORDER BY a.claimed_at, a.assignment_id`},
		{&f.Breaches, `SELECT ` + specialtyOf("a") + `, a.expired_at FROM assignments a WHERE a.expired_at >= $1 AND a.expired_at < $2
			ORDER BY a.expired_at, a.assignment_id`},
		{&f.Escalations, `SELECT ` + specialtyOf("e") + `, e.at FROM escalations e WHERE e.at >= $1 AND e.at < $2 ORDER BY e.at, e.event_id`},
	} {
		if err := s.each(ctx, q.sql, []any{a, b}, func(rows *sql.Rows) error {
			x, err := scanFact(rows)
			*q.into = append(*q.into, x)
			return err
		}); err != nil {
			return f, err
		}
	}
	if err := s.each(ctx, `SELECT `+specialtyOf("r")+`, r.at, r.case_id, r.failed, COALESCE(r.input_tokens, 0),
		COALESCE(r.output_tokens, 0), COALESCE(r.cost_micros, 0)
		FROM ai_requests r WHERE r.at >= $1 AND r.at < $2 ORDER BY r.at, r.request_id`, []any{a, b}, func(rows *sql.Rows) error {
		var r domain.AIRequest
		var ms int64
		err := rows.Scan(&r.Specialty, &ms, &r.CaseID, &r.Failed, &r.InputTokens, &r.OutputTokens, &r.CostMicros)
		r.At = time.UnixMilli(ms).UTC()
		f.AI = append(f.AI, r)
		return err
	}); err != nil {
		return f, err
	}
	for _, q := range []struct {
		into   *[]domain.Opinion
		column string
	}{{&f.Submitted, "o.submitted_at"}, {&f.Approved, "o.approved_at"}} {
		if err := s.each(ctx, `SELECT `+specialtyOf("o")+`, `+q.column+`, o.professional_id FROM opinions o
			WHERE `+q.column+` >= $1 AND `+q.column+` < $2 ORDER BY `+q.column+`, o.opinion_id`, []any{a, b}, func(rows *sql.Rows) error {
			var o domain.Opinion
			var ms int64
			err := rows.Scan(&o.Specialty, &ms, &o.ProfessionalID)
			o.At = time.UnixMilli(ms).UTC()
			*q.into = append(*q.into, o)
			return err
		}); err != nil {
			return f, err
		}
	}
	for _, q := range []struct {
		into *[]domain.Money
		sql  string
	}{
		{&f.Payments, `SELECT p.specialty, p.at, p.currency, p.amount FROM payments p WHERE p.at >= $1 AND p.at < $2
			ORDER BY p.at, p.payment_id`},
		{&f.Refunds, `SELECT COALESCE(p.specialty, ''), r.at, r.currency, r.amount FROM refunds r
			LEFT JOIN payments p ON p.payment_id = r.payment_id WHERE r.at >= $1 AND r.at < $2
			ORDER BY r.at, r.refund_id`},
	} {
		if err := s.each(ctx, q.sql, []any{a, b}, func(rows *sql.Rows) error {
			var m domain.Money
			var ms int64
			err := rows.Scan(&m.Specialty, &ms, &m.Currency, &m.Amount)
			m.At = time.UnixMilli(ms).UTC()
			*q.into = append(*q.into, m)
			return err
		}); err != nil {
			return f, err
		}
	}
	return f, nil
}

// specialtyOf is the specialty of the case of the row alias t names, ""
// while the case's submission is unknown.
func specialtyOf(t string) string {
	return `COALESCE((SELECT c.specialty FROM cases c WHERE c.case_id = ` + t + `.case_id), '')`
}

func scanFact(rows *sql.Rows) (domain.Fact, error) {
	var x domain.Fact
	var ms int64
	err := rows.Scan(&x.Specialty, &ms)
	x.At = time.UnixMilli(ms).UTC()
	return x, err
}

// each runs query and calls scan on each row.
func (s *Store) each(ctx context.Context, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("reporting facts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("reporting facts: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reporting facts: %w", err)
	}
	return nil
}

// earliest merges a time column: the earlier of the stored and the new
// value, either of which may be NULL.
func earliest(column string) string {
	return `CASE WHEN excluded.` + name(column) + ` IS NULL THEN ` + column +
		` WHEN ` + column + ` IS NULL OR excluded.` + name(column) + ` < ` + column + ` THEN excluded.` + name(column) +
		` ELSE ` + column + ` END`
}

// known merges a column each event either tells (the same value) or
// leaves NULL: the stored value once it is known.
func known(column string) string {
	return `COALESCE(` + column + `, excluded.` + name(column) + `)`
}

// firstSet merges a text column: the stored value once it is not empty.
func firstSet(column string) string {
	return `CASE WHEN ` + column + ` = '' THEN excluded.` + name(column) + ` ELSE ` + column + ` END`
}

// name is a qualified column's name: "submitted_at" of "cases.submitted_at".
func name(column string) string { return column[strings.LastIndexByte(column, '.')+1:] }

// millis is t in Unix milliseconds, or NULL for the zero time.
func millis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func millisOr0(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func at(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64).UTC()
}
