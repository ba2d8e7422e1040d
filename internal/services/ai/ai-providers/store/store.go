// Package store keeps what ai-providers must remember across restarts:
// the monthly AI budgets found spent.
package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/secondopinion/platform/internal/kit/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates or upgrades the service's tables.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "goose_db_version")
}

// Store keeps the spent budgets.
type Store struct{ db *sqldb.DB }

// New returns the store over a migrated db.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// Spend records within tx that month's budget of scope is spent.
func (s *Store) Spend(ctx context.Context, tx *sql.Tx, month, scope string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO spent_budgets (month, scope, at) VALUES ($1, $2, $3)
		ON CONFLICT (month, scope) DO NOTHING`, month, scope, at.UTC()); err != nil {
		return fmt.Errorf("budget %s of %s spent: %w", scope, month, err)
	}
	return nil
}

// Spent lists the scopes whose budget month has spent.
func (s *Store) Spent(ctx context.Context, month string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT scope FROM spent_budgets WHERE month = $1 ORDER BY scope`, month)
	if err != nil {
		return nil, fmt.Errorf("spent budgets of %s: %w", month, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var scope string
		if err := rows.Scan(&scope); err != nil {
			return nil, fmt.Errorf("spent budgets of %s: %w", month, err)
		}
		out = append(out, scope)
	}
	return out, rows.Err()
}
