package jobs_test

import (
	"context"
	"sync"
	"testing"

	"github.com/secondopinion/platform/internal/kit/jobs"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// TestMigrateIsIdempotentInTheServiceStore: river's tables land in the
// service's own store (its schema on PostgreSQL), and migrating again
// changes nothing.
func TestMigrateIsIdempotentInTheServiceStore(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := jobs.Migrate(ctx, db); err != nil {
			t.Fatalf("second migration: %v", err)
		}
		var n int
		q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('river_job', 'river_leader', 'river_migration', 'river_queue')`
		if db.Engine == sqldb.Postgres {
			q = `SELECT count(*) FROM information_schema.tables WHERE table_schema = '` + db.Schema + `'
			     AND table_name IN ('river_job', 'river_leader', 'river_migration', 'river_queue')`
		}
		if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 4 {
			t.Fatalf("%d of river's tables in the service's store, want 4", n)
		}
	})
}

// TestConcurrentMigrationsOnPostgres: replicas starting together on an
// empty schema all migrate without error.
func TestConcurrentMigrationsOnPostgres(t *testing.T) {
	t.Parallel()
	o := testkit.StoreOptions(t, sqldb.Postgres, service)
	var wg sync.WaitGroup
	for range 4 {
		db, err := sqldb.Open(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		wg.Go(func() {
			if err := jobs.Migrate(context.Background(), db); err != nil {
				t.Errorf("migrate: %v", err)
			}
		})
	}
	wg.Wait()
}

// TestOwnSQLiteHandleMatchesTheStore: the client's own handle on the file
// (sqldb.DB.Sibling) must wait for the write lock as the service's does,
// or river's start fails with SQLITE_BUSY.
func TestOwnSQLiteHandleMatchesTheStore(t *testing.T) {
	t.Parallel()
	db := migrated(t, testkit.OpenDB(t, sqldb.SQLite, service))
	c := newClient(t, db, jobs.Options{})
	own := jobs.OwnHandle(c)
	if own == nil {
		t.Fatal("no handle of its own on SQLite")
	}
	if n := own.Stats().MaxOpenConnections; n != 1 {
		t.Fatalf("own handle has %d connections, want 1", n)
	}
	for _, p := range []string{"busy_timeout", "journal_mode", "foreign_keys", "synchronous", "secure_delete"} {
		var want, got string
		if err := db.QueryRowContext(context.Background(), "PRAGMA "+p).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if err := own.QueryRowContext(context.Background(), "PRAGMA "+p).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s: the client's handle has %s, the store's %s", p, got, want)
		}
	}
	var file, ownFile string
	q := `SELECT file FROM pragma_database_list WHERE name = 'main'`
	if err := db.QueryRowContext(context.Background(), q).Scan(&file); err != nil {
		t.Fatal(err)
	}
	if err := own.QueryRowContext(context.Background(), q).Scan(&ownFile); err != nil {
		t.Fatal(err)
	}
	if file != ownFile {
		t.Fatalf("client's handle on %s, store on %s", ownFile, file)
	}
}
