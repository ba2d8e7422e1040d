// Package store keeps ai-usage's ledger of AI requests and the budget
// alerts it raised, with one set of queries for SQLite and PostgreSQL.
package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/ai/ai-usage/domain"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the ledger's tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// Request is one request to an AI provider, as the ledger keeps it.
type Request struct {
	ID           string
	CaseID       string // "" for none, or once the case was erased
	Provider     string
	Model        string
	Failed       bool
	Error        string
	InputTokens  int64
	OutputTokens int64
	LatencyMs    int64
	Cost         domain.Micros
	Priced       bool
	At           time.Time
}

// Month is the ledger's month of t: its UTC year and month.
func Month(t time.Time) string { return t.UTC().Format("2006-01") }

// Store is the ledger.
type Store struct{ db *sqldb.DB }

// New returns the ledger over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// Record adds r within tx; added is false when a request of that id was
// recorded before (a redelivered event), which changes nothing.
func (s *Store) Record(ctx context.Context, tx *sql.Tx, r Request) (added bool, err error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO ai_requests (request_id, case_id, provider, model, failed, error,
		input_tokens, output_tokens, latency_ms, cost_micros, priced, month, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (request_id) DO NOTHING`,
		r.ID, r.CaseID, r.Provider, r.Model, r.Failed, r.Error, r.InputTokens, r.OutputTokens, r.LatencyMs,
		r.Cost, r.Priced, Month(r.At), r.At.UTC())
	if err != nil {
		return false, fmt.Errorf("record AI request %s: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record AI request %s: %w", r.ID, err)
	}
	return n == 1, nil
}

// Spent is what month's requests cost, of provider or, for
// domain.Total, of every provider.
func (s *Store) Spent(ctx context.Context, tx *sql.Tx, month, scope string) (domain.Micros, error) {
	q := `SELECT COALESCE(SUM(cost_micros), 0) FROM ai_requests WHERE month = $1`
	args := []any{month}
	if scope != domain.Total {
		q += ` AND provider = $2`
		args = append(args, scope)
	}
	var spent domain.Micros
	if err := tx.QueryRowContext(ctx, q, args...).Scan(&spent); err != nil {
		return 0, fmt.Errorf("spending of %s in %s: %w", scope, month, err)
	}
	return spent, nil
}

// Alert records that month's budget of scope is spent; first is false
// when it was recorded before, so each budget is reported once a month.
func (s *Store) Alert(ctx context.Context, tx *sql.Tx, month, scope string, limit, spent domain.Micros, at time.Time) (first bool, err error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO budget_alerts (month, scope, limit_micros, spent_micros, at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (month, scope) DO NOTHING`, month, scope, limit, spent, at.UTC())
	if err != nil {
		return false, fmt.Errorf("budget alert %s %s: %w", month, scope, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("budget alert %s %s: %w", month, scope, err)
	}
	return n == 1, nil
}

// Alerted lists the scopes whose budget month has spent.
func (s *Store) Alerted(ctx context.Context, month string) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT scope FROM budget_alerts WHERE month = $1`, month)
	if err != nil {
		return nil, fmt.Errorf("budget alerts of %s: %w", month, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var scope string
		if err := rows.Scan(&scope); err != nil {
			return nil, fmt.Errorf("budget alerts of %s: %w", month, err)
		}
		out[scope] = true
	}
	return out, rows.Err()
}

// Forget unlinks the requests of an erased case from it: what they cost
// stays in the totals, which case they were for does not.
func (s *Store) Forget(ctx context.Context, tx *sql.Tx, caseID string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE ai_requests SET case_id = '' WHERE case_id = $1`, caseID); err != nil {
		return fmt.Errorf("forget case %s: %w", caseID, err)
	}
	return nil
}

// Totals sums a set of requests.
type Totals struct {
	Requests, Failed, Unpriced int64
	InputTokens, OutputTokens  int64
	Cost                       domain.Micros
	LatencyMs                  int64 // the mean
}

// Group is the totals of the requests of one provider and model.
type Group struct {
	Provider, Model string
	Totals
}

// Usage is the requests of month (or, with caseID, of that case in any
// month) by provider and model, in order.
func (s *Store) Usage(ctx context.Context, month, caseID string) ([]Group, error) {
	where, arg := `month = $1`, month
	if caseID != "" {
		where, arg = `case_id = $1`, caseID
	}
	rows, err := s.db.QueryContext(ctx, `SELECT provider, model, COUNT(*),
		SUM(CASE WHEN failed THEN 1 ELSE 0 END), SUM(CASE WHEN priced THEN 0 ELSE 1 END),
		SUM(input_tokens), SUM(output_tokens), SUM(cost_micros), SUM(latency_ms)
		FROM ai_requests WHERE `+where+` GROUP BY provider, model ORDER BY provider, model`, arg)
	if err != nil {
		return nil, fmt.Errorf("AI usage: %w", err)
	}
	defer rows.Close()
	var out []Group
	for rows.Next() {
		var g Group
		var latency int64
		if err := rows.Scan(&g.Provider, &g.Model, &g.Requests, &g.Failed, &g.Unpriced,
			&g.InputTokens, &g.OutputTokens, &g.Cost, &latency); err != nil {
			return nil, fmt.Errorf("AI usage: %w", err)
		}
		g.LatencyMs = latency / g.Requests
		out = append(out, g)
	}
	return out, rows.Err()
}
