package sqldb_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

func TestClassify(t *testing.T) {
	refused := func() error {
		// A port nobody listens on: pgx's error for a server that is down.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := pgconn.Connect(ctx, "postgres://u@"+testkit.RefusingAddr(t)+"/db?sslmode=disable")
		if err == nil {
			t.Fatal("connected to a closed port")
		}
		return err
	}()
	for _, c := range []struct {
		name string
		err  error
		down bool
	}{
		{"connection refused", fmt.Errorf("read user: %w", refused), true},
		{"deadline", fmt.Errorf("read user: %w", context.DeadlineExceeded), true},
		{"socket timeout", &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, true},
		{"bad connection", driver.ErrBadConn, true},
		{"dropped mid-answer", io.ErrUnexpectedEOF, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"starting up", &pgconn.PgError{Code: "57P03"}, true},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"bad text", &pgconn.PgError{Code: "22021"}, false},
		{"no rows", sql.ErrNoRows, false},
		{"cancelled by the caller", context.Canceled, false},
		{"any other", errors.New("boom"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := sqldb.Classify(c.err)
			if !errors.Is(got, c.err) {
				t.Fatalf("Classify lost the cause: %v", got)
			}
			f, ok := fault.As(got)
			if !c.down {
				if ok {
					t.Fatalf("classified as kind %d, want unclassified", f.Kind)
				}
				return
			}
			if !ok || f.Kind != fault.KindUnavailable || f.RetryAfter <= 0 {
				t.Fatalf("Classify(%v) = %#v, want Unavailable with a Retry-After", c.err, got)
			}
			if strings.Contains(f.Detail, "SQLSTATE") || strings.Contains(f.Detail, "127.0.0.1") {
				t.Fatalf("the detail shown to callers names the cause: %q", f.Detail)
			}
		})
	}
	if sqldb.Classify(nil) != nil {
		t.Fatal("Classify(nil) != nil")
	}
	// A fault keeps its own kind, whatever its cause.
	limited := &fault.Error{Kind: fault.KindTooMany, Err: context.DeadlineExceeded}
	if got := sqldb.Classify(limited); got != error(limited) {
		t.Fatalf("Classify reclassified a fault: %v", got)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// Short bounds, so the tests take a second or two; the client gives up a
// second after the statement timeout.
const (
	connectTimeout   = 2 * time.Second // a loaded machine may take a while
	statementTimeout = 500 * time.Millisecond
	callBound        = statementTimeout + time.Second
)

// within runs call and fails the test unless it returns by limit, so a
// missing bound fails instead of hanging the test.
func within(t *testing.T, limit time.Duration, what string, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- call() }()
	select {
	case err := <-done:
		t.Logf("%s returned after %v: %v", what, time.Since(start).Round(time.Millisecond), err)
		return err
	case <-time.After(limit):
		t.Fatalf("%s still waiting after %v", what, limit)
		return nil
	}
}

// proxied is the options of a PostgreSQL store reached through addr
// instead of the server of TEST_DATABASE_URL, with short bounds.
func proxied(t *testing.T, addr string, maxConns int) sqldb.Options {
	t.Helper()
	o := testkit.StoreOptions(t, sqldb.Postgres, "sqldb-outage")
	u, err := url.Parse(o.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	o.URL, o.MaxConns = u.String(), maxConns
	o.ConnectTimeout, o.StatementTimeout = connectTimeout, statementTimeout
	return o
}

// openVia opens a store reached through addr.
func openVia(t *testing.T, addr string, maxConns int) *sqldb.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, proxied(t, addr, maxConns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func wantUnavailable(t *testing.T, err error) {
	t.Helper()
	if !fault.Is(sqldb.Classify(err), fault.KindUnavailable) {
		t.Fatalf("error %v is not classified Unavailable", err)
	}
}

// A server that stops answering (SIGSTOP, a cut network) fails every call
// in bounded time, inside a transaction too, and the store works again
// once it answers.
func TestUnresponsiveServer(t *testing.T) {
	p := startProxy(t, serverAddr(t))
	db := openVia(t, p.addr(), 4)
	ctx := context.Background() // a request's context may have no deadline
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}

	t.Run("statement", func(t *testing.T) {
		p.freeze()
		defer p.thaw()
		wantUnavailable(t, within(t, callBound+500*time.Millisecond, "query", func() error {
			var n int
			return db.QueryRowContext(ctx, `SELECT 1`).Scan(&n)
		}))
	})
	t.Run("in a transaction", func(t *testing.T) {
		// Statements in a transaction run on its connection with the
		// caller's context: only the connection's own bound ends them.
		err := within(t, callBound+500*time.Millisecond, "transaction", func() error {
			return db.InTx(ctx, func(tx *sql.Tx) error {
				p.freeze()
				_, err := tx.ExecContext(ctx, `SELECT 1`)
				return err
			})
		})
		p.thaw()
		wantUnavailable(t, err)
	})
	t.Run("new connection", func(t *testing.T) {
		p.freeze()
		defer p.thaw()
		// The handshake gets no answer: the connect timeout ends it, well
		// before the client's bound on a silent server would.
		o := proxied(t, p.addr(), 1)
		o.ConnectTimeout, o.StatementTimeout = 500*time.Millisecond, 3*time.Second
		wantUnavailable(t, within(t, 2*time.Second, "connect", func() error {
			db, err := sqldb.Open(ctx, o)
			if err == nil {
				db.Close()
			}
			return err
		}))
	})
	recovers(t, db)
}

// A server that is gone (refusing connections, its connections dropped)
// fails calls at once as Unavailable, and the pool reconnects by itself
// when it is back.
func TestServerDown(t *testing.T) {
	p := startProxy(t, serverAddr(t))
	db := openVia(t, p.addr(), 4)
	ctx := context.Background()
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	p.down()
	for range 3 {
		wantUnavailable(t, within(t, callBound, "query", func() error {
			_, err := db.ExecContext(ctx, `SELECT 1`)
			return err
		}))
	}
	p.up(t)
	recovers(t, db)
}

// The server's statement_timeout ends a slow statement, naming the cause,
// before the client's own bound would.
func TestStatementTimeout(t *testing.T) {
	db := openVia(t, serverAddr(t), 2)
	err := within(t, callBound-200*time.Millisecond, "pg_sleep", func() error {
		_, err := db.ExecContext(context.Background(), `SELECT pg_sleep(3)`)
		return err
	})
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || pg.Code != "57014" {
		t.Fatalf("error %v, want the server's statement timeout (57014)", err)
	}
	wantUnavailable(t, err)
	// A caller's own deadline is left alone.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := db.ExecContext(ctx, `SELECT pg_sleep(1)`); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the caller's deadline", err)
	}
}

// A call that waits for a connection while every one is busy gives up at
// the call bound, through InTx too.
func TestPoolWaitIsBounded(t *testing.T) {
	db := openVia(t, serverAddr(t), 1)
	ctx := context.Background()
	held, release := make(chan struct{}), make(chan struct{})
	go db.InTx(ctx, func(*sql.Tx) error {
		close(held)
		<-release
		return nil
	})
	<-held
	defer close(release)
	wantUnavailable(t, within(t, callBound+500*time.Millisecond, "query", func() error {
		var n int
		return db.QueryRowContext(ctx, `SELECT 1`).Scan(&n)
	}))
	wantUnavailable(t, within(t, callBound+500*time.Millisecond, "transaction", func() error {
		return db.InTx(ctx, func(*sql.Tx) error { return nil })
	}))
}

// recovers waits until db answers again, which a pool that reconnects by
// itself does within a few calls.
func recovers(t *testing.T, db *sqldb.DB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := db.ExecContext(context.Background(), `SELECT 1`)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not recover: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func serverAddr(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(testkit.Env(t, "TEST_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Port() == "" {
		return u.Hostname() + ":5432"
	}
	return u.Host
}

// proxy forwards TCP to a PostgreSQL server and plays its faults: frozen,
// it accepts connections and reads what is sent but answers nothing, as
// a stopped server; down, it refuses connections and drops its open ones.
type proxy struct {
	target string
	ln     net.Listener

	mu     sync.Mutex
	frozen chan struct{} // closed while forwarding; nil: not frozen
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *proxy {
	p := &proxy{target: target, ln: testkit.Listen(t), frozen: closed()}
	go p.serve(p.ln)
	t.Cleanup(func() { p.thaw(); p.drop() })
	return p
}

func closed() chan struct{} { c := make(chan struct{}); close(c); return c }

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// pipe copies from src to dst, holding each chunk while frozen.
func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.frozen
			p.mu.Unlock()
			<-gate
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = make(chan struct{})
}

func (p *proxy) thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.frozen:
	default:
		close(p.frozen)
	}
}

func (p *proxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// down closes the listener (connections are refused) and every connection.
func (p *proxy) down() {
	p.ln.Close()
	p.drop()
}

// up listens again on the same address.
func (p *proxy) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	p.ln = ln
	go p.serve(ln)
}
