package jobs

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// ownHandle opens a second handle on db's SQLite file for river's client,
// with one connection (see the package documentation for why). sqldb does
// not export its DSN, so the file is found from the open handle and the
// pragmas are sqldb's own, repeated here: busy_timeout and
// _txlock=immediate matter most, as the service's handle and this one
// write to the same file.
func ownHandle(ctx context.Context, db *sqldb.DB, conns int) (*sql.DB, error) {
	var path string
	if err := db.DB.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&path); err != nil {
		return nil, fmt.Errorf("find the store's file: %w", err)
	}
	if path == "" {
		return nil, fmt.Errorf("the store has no file (in-memory database)")
	}
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=secure_delete(1)&_txlock=immediate&_time_format=sqlite"
	h, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open a handle for river: %w", err)
	}
	h.SetMaxOpenConns(conns)
	h.SetMaxIdleConns(conns)
	h.SetConnMaxIdleTime(0)
	if err := h.PingContext(ctx); err != nil {
		h.Close()
		return nil, fmt.Errorf("open a handle for river: %w", err)
	}
	return h, nil
}
