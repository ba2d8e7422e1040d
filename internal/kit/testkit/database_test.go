package testkit_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

// Each migrated database is a copy of one migration run: it has what the
// migration made, and what a test writes into it stays there.
func TestMigratedDatabase(t *testing.T) {
	server := testkit.Env(t, "TEST_DATABASE_URL")
	runs := 0
	migrate := func(ctx context.Context, url string) error {
		runs++
		db, err := sql.Open("pgx", url)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.ExecContext(ctx, `CREATE TABLE made (n int); INSERT INTO made VALUES (1)`)
		return err
	}
	a, b := testkit.MigratedDatabase(t, server, migrate), testkit.MigratedDatabase(t, server, migrate)
	if a == b || runs > 1 {
		t.Fatalf("two databases %q and %q from %d migration runs", a, b, runs)
	}
	count := func(url string) int {
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM made`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	db, err := sql.Open("pgx", a)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO made VALUES (2)`); err != nil {
		t.Fatal(err)
	}
	if count(a) != 2 || count(b) != 1 {
		t.Errorf("rows: %d in a, %d in b; want 2 and 1", count(a), count(b))
	}
}
