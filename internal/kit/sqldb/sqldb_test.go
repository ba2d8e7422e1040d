package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

func TestInTxAndUniqueViolation(t *testing.T) {
	testkit.ForEachEngine(t, "sqldb-test", func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE things (id TEXT PRIMARY KEY, n INTEGER NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO things VALUES ($1, $2)`, "a", 1); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx error = %v", err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM things`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("rolled back insert visible: n=%d err=%v", n, err)
		}
		insert := func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO things VALUES ($1, $2)`, "a", 1)
			return err
		}
		if err := db.InTx(ctx, insert); err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, insert); !sqldb.IsUniqueViolation(err) {
			t.Fatalf("duplicate insert: %v, want unique violation", err)
		}
	})
}

func TestRedactURL(t *testing.T) {
	got := sqldb.RedactURL("postgres://app:s3cret@db:5432/x")
	if got != "postgres://app:xxxxx@db:5432/x" {
		t.Fatalf("RedactURL = %q", got)
	}
}
