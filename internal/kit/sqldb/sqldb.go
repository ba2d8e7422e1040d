// Package sqldb opens a service's relational store on either engine —
// SQLite (embedded default) or PostgreSQL (production) — behind
// database/sql, applies its embedded migrations, and runs transactions.
// Services write one set of queries with $n placeholders; where the engines
// differ they branch on DB.Engine in their own store.
//
// On PostgreSQL every call is bounded (see Options.StatementTimeout), and
// Classify tells the edges which errors mean the store is down or too slow.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Engine names a storage engine.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// DB is one service's store.
type DB struct {
	*sql.DB
	Engine  Engine
	Service string // the target name, e.g. "patient-identity"
	Schema  string // PostgreSQL schema holding the service's tables
	// callTimeout bounds a call whose context has no deadline; zero: none.
	callTimeout time.Duration
	// path is the SQLite file, "" on PostgreSQL.
	path string
}

// Options says where a service's store lives.
type Options struct {
	Service string // target name
	// URL is a postgres:// URL. Empty means the embedded SQLite file
	// DataDir/<service>.db.
	URL     string
	DataDir string
	// Schema overrides the PostgreSQL schema (default: service name with
	// underscores). Tests use it to isolate runs.
	Schema   string
	MaxConns int // default 16
	// ConnectTimeout bounds opening a PostgreSQL connection, handshake
	// included (a URL's own connect_timeout wins). Zero: no bound of its own.
	ConnectTimeout time.Duration
	// StatementTimeout bounds every PostgreSQL call. The server cancels a
	// statement that runs longer (statement_timeout, unless the URL sets
	// it); and since a server that is stopped or cut off never answers at
	// all, the client gives up too, this long plus callGrace after it last
	// heard from the server, and bounds a call whose context has no deadline
	// (waiting for a pooled connection included) by the same. Zero: no bound.
	// SQLite waits for its lock by busy_timeout instead.
	StatementTimeout time.Duration
}

// callGrace is what the client adds to the statement timeout, so that the
// server's own timeout, which names the cause, normally fires first.
const callGrace = time.Second

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// SchemaFor is the default PostgreSQL schema of a service.
func SchemaFor(service string) string { return strings.ReplaceAll(service, "-", "_") }

// Open opens and pings the store. The caller closes it.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.MaxConns == 0 {
		o.MaxConns = 16
	}
	if o.URL == "" {
		return openSQLite(ctx, o)
	}
	return openPostgres(ctx, o)
}

func openSQLite(ctx context.Context, o Options) (*DB, error) {
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("open %s store: create data dir: %w", o.Service, err)
	}
	path := filepath.Join(o.DataDir, o.Service+".db")
	if err := privateFiles(path); err != nil {
		return nil, fmt.Errorf("open %s store: %w", o.Service, err)
	}
	db, err := openSQLiteFile(ctx, path, o.MaxConns)
	if err != nil {
		return nil, fmt.Errorf("open %s store %s: %w", o.Service, path, err)
	}
	return &DB{DB: db, Engine: SQLite, Service: o.Service, path: path}, nil
}

// openSQLiteFile opens a handle of conns connections on the SQLite file at
// path. _txlock=immediate takes the write lock at BEGIN, so concurrent
// read-then-write transactions queue on busy_timeout instead of failing
// with SQLITE_BUSY at their first write. secure_delete zeroes what a
// DELETE frees: an erased patient's data must not linger in free pages of
// the file (GDPR Art. 17; test/e2e TestRights reads the bytes).
func openSQLiteFile(ctx context.Context, path string, conns int) (*sql.DB, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=secure_delete(1)&_txlock=immediate&_time_format=sqlite"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Sibling opens another handle of conns connections on the store's SQLite
// file, with the store's settings, for a component that must keep its
// connections off the service's pool (kit/jobs' river client). The caller
// closes it. On PostgreSQL there is none: share the pool.
func (db *DB) Sibling(ctx context.Context, conns int) (*sql.DB, error) {
	if db.Engine != SQLite || db.path == "" {
		return nil, fmt.Errorf("%s store: a sibling handle is for SQLite files", db.Service)
	}
	h, err := openSQLiteFile(ctx, db.path, conns)
	if err != nil {
		return nil, fmt.Errorf("%s store: open a sibling handle: %w", db.Service, err)
	}
	return h, nil
}

func openPostgres(ctx context.Context, o Options) (*DB, error) {
	schema := o.Schema
	if schema == "" {
		schema = SchemaFor(o.Service)
	}
	if !schemaName.MatchString(schema) {
		return nil, fmt.Errorf("open %s store: bad schema name %q", o.Service, schema)
	}
	cfg, err := pgx.ParseConfig(o.URL)
	if err != nil {
		return nil, fmt.Errorf("open %s store: parse database URL: %w", o.Service, redact(err))
	}
	cfg.RuntimeParams["search_path"] = schema
	cfg.RuntimeParams["timezone"] = "UTC"
	if cfg.ConnectTimeout == 0 && o.ConnectTimeout > 0 {
		// pgx bounds the whole connect by ConnectTimeout; the dialer's
		// timeout, which the URL's connect_timeout also sets, only the dial.
		cfg.ConnectTimeout = o.ConnectTimeout
	}
	var call time.Duration
	if o.StatementTimeout > 0 {
		if _, ok := cfg.RuntimeParams["statement_timeout"]; !ok {
			cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(o.StatementTimeout.Milliseconds(), 10)
		}
		call = o.StatementTimeout + callGrace
		dial := cfg.DialFunc
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &quietConn{Conn: c, idle: call}, nil
		}
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(o.MaxConns)
	db.SetMaxIdleConns(o.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := db.ExecContext(pctx, `CREATE SCHEMA IF NOT EXISTS `+schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s store: create schema %s: %w", o.Service, schema, err)
	}
	return &DB{DB: db, Engine: Postgres, Service: o.Service, Schema: schema, callTimeout: call}, nil
}

// redact drops a URL (which may hold a password) from a parse error.
func redact(err error) error {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return errors.New("invalid connection string")
	}
	return err
}

// RedactURL hides the password of a URL for printing.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// bound gives ctx the call deadline unless it has a deadline of its own.
func (db *DB) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || db.callTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, db.callTimeout)
}

// ExecContext is sql.DB's, under the call deadline.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return db.DB.ExecContext(ctx, query, args...)
}

// QueryContext is sql.DB's, under the call deadline, which also ends
// reading the rows. Closing the rows cannot cancel the deadline's timer,
// so it lives on until the deadline, a few seconds.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, cancel := db.bound(ctx)
	rows, err := db.DB.QueryContext(ctx, query, args...)
	if err != nil {
		cancel()
	}
	return rows, err
}

// QueryRowContext is sql.DB's, under the call deadline (its timer lives on
// as QueryContext's does).
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx, _ = db.bound(ctx)
	return db.DB.QueryRowContext(ctx, query, args...)
}

// PingContext is sql.DB's, under the call deadline.
func (db *DB) PingContext(ctx context.Context) error {
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return db.DB.PingContext(ctx)
}

// InTx runs fn in a transaction, committing when it returns nil. A check
// that ctx carries for db (WithCommitCheck) runs last, inside it.
// Getting a connection is bounded by the call deadline; the transaction
// itself is not, as callers such as event handlers run many statements in
// one, but each of its statements is (see Options.StatementTimeout).
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	cctx, cancel := db.bound(ctx)
	conn, err := db.Conn(cctx)
	cancel()
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if c, ok := ctx.Value(commitCheckKey{}).(commitCheck); ok && c.db == db {
		if err := c.fn(ctx, tx); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

type commitCheckKey struct{}

type commitCheck struct {
	db *DB
	fn func(context.Context, *sql.Tx) error
}

// WithCommitCheck returns ctx under which every InTx on db runs fn inside
// its transaction, after the work and before the commit; an error from fn
// rolls the transaction back and is InTx's. Transactions on other stores
// are left alone. The idempotency store uses it to tie a request's writes
// to the reservation of its Idempotency-Key in the same transaction.
func WithCommitCheck(ctx context.Context, db *DB, fn func(context.Context, *sql.Tx) error) context.Context {
	return context.WithValue(ctx, commitCheckKey{}, commitCheck{db: db, fn: fn})
}

// LockKey holds a lock on key within tx until it ends, for writes that
// must exclude each other although no row exists yet to lock (a patient's
// first record, a consent given while they are being erased). On
// PostgreSQL it is a transaction-scoped advisory lock of the service's
// schema; SQLite needs none: its transactions take the write lock of the
// whole database as they begin (_txlock=immediate).
func (db *DB) LockKey(ctx context.Context, tx *sql.Tx, key string) error {
	if db.Engine != Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext(current_schema()), hashtext($1))`, key); err != nil {
		return fmt.Errorf("lock %s: %w", key, err)
	}
	return nil
}

// Migrate applies the embedded migrations under dir in fsys (dir holds one
// folder per engine: sqlite/, postgres/) and records them in table, so that
// kit packages and the service keep separate version histories in one store.
func (db *DB) Migrate(ctx context.Context, fsys fs.FS, dir, table string) error {
	sub, err := fs.Sub(fsys, dir+"/"+string(db.Engine))
	if err != nil {
		return fmt.Errorf("migrate %s: %w", db.Service, err)
	}
	dialect := database.DialectSQLite3
	if db.Engine == Postgres {
		dialect = database.DialectPostgres
	}
	store, err := database.NewStore(dialect, table)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", db.Service, err)
	}
	p, err := goose.NewProvider("", db.DB, sub, goose.WithStore(store), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate %s (%s): %w", db.Service, table, err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s (%s): %w", db.Service, table, err)
	}
	return nil
}

// IsUniqueViolation reports whether err is a unique-constraint violation on
// either engine.
func IsUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
