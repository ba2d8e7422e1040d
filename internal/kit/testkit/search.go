package testkit

import (
	"bytes"
	"context"
	"database/sql"
	"testing"

	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// Tables lists the tables of db's store: its own schema on PostgreSQL.
func Tables(t testing.TB, db *sqldb.DB) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if db.Engine == sqldb.Postgres {
		q = `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	rows, err := db.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatalf("tables: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatalf("tables: %v", err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("tables: %v", err)
	}
	return out
}

// CountContaining counts the rows of table in which any column, read as
// text or bytes, contains any of needles: how an erasure test looks for
// what must be gone, whatever the column.
func CountContaining(t testing.TB, db *sqldb.DB, table string, needles ...string) int {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT * FROM `+table)
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	n := 0
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		if containsAny(vals, needles) {
			n++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return n
}

func containsAny(vals []sql.RawBytes, needles []string) bool {
	for _, v := range vals {
		for _, s := range needles {
			if s != "" && bytes.Contains(v, []byte(s)) {
				return true
			}
		}
	}
	return false
}

// Search counts, per table of db's store, the rows holding any of
// needles; tables without any are left out.
func Search(t testing.TB, db *sqldb.DB, needles ...string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range Tables(t, db) {
		if n := CountContaining(t, db, table, needles...); n > 0 {
			out[table] = n
		}
	}
	return out
}
