package sqldb_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// A SQLite store is its owner's only: the folder it creates 0700, the
// database and the -wal and -shm files SQLite makes beside it 0600.
func TestSQLiteFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db := openSQLite(t, dir)
	if _, err := db.ExecContext(t.Context(), `CREATE TABLE t (x TEXT)`); err != nil {
		t.Fatal(err)
	}
	wantMode(t, dir, 0o700)
	for _, f := range []string{"files-test.db", "files-test.db-wal", "files-test.db-shm"} {
		wantMode(t, filepath.Join(dir, f), 0o600)
	}
}

// A store an earlier version left readable by others is narrowed when it
// is opened, with its -wal; the folder, which may be shared, is left.
func TestSQLiteFilesAreNarrowedAtOpen(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db := openSQLite(t, dir)
	if _, err := db.ExecContext(t.Context(), `CREATE TABLE t (x TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	path := filepath.Join(dir, "files-test.db")
	for _, f := range []string{path, path + "-wal"} {
		// A clean close removed the -wal: an empty one is what a crash leaves.
		file, err := os.OpenFile(f, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		file.Close()
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	openSQLite(t, dir)
	wantMode(t, path, 0o600)
	wantMode(t, path+"-wal", 0o600)
	wantMode(t, dir, 0o755)
}

func openSQLite(t *testing.T, dir string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(t.Context(), sqldb.Options{Service: "files-test", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %v, want %v", filepath.Base(path), got, want)
	}
}
