package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// Classify returns err as fault.Unavailable (503 with Retry-After) when it
// says the store is down or too slow, and as it is otherwise: the HTTP and
// gRPC edges pass every unclassified error through it, so no store has to
// recognise driver errors itself.
func Classify(err error) error {
	if err == nil || !outage(err) {
		return err
	}
	if _, ok := fault.As(err); ok {
		return err
	}
	// A lost connection or a passed deadline says the same of any
	// dependency a handler called, not only of a store: the answer names
	// none.
	return fault.Unavailable("a dependency", err)
}

// outage reports an error of a store that is down or too slow rather than
// of the query: no connection (refused, reset, dropped mid-answer, not
// accepted in time), a deadline passed, or a server that is shutting
// down, starting up, out of resources or cancelled a statement that ran
// past statement_timeout.
func outage(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return unavailableState(pg.Code)
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) ||
		// What pgconn returns when the server closed the connection.
		errors.Is(err, io.ErrUnexpectedEOF)
}

// unavailableState reports the SQLSTATEs of a server that cannot serve
// now: connection exceptions (08), insufficient resources (53), a
// statement cancelled (57014: statement_timeout), and shutdown, crash and
// start-up (57P01–57P03).
func unavailableState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"):
		return true
	}
	switch code {
	case "57014", "57P01", "57P02", "57P03":
		return true
	}
	return false
}

// quietConn is a PostgreSQL connection on which every read and write fails
// after idle without progress. A stopped or cut-off server never answers,
// and neither statement_timeout (the server's) nor a context (callers
// inside a transaction pass theirs, often without a deadline) would end
// the wait. pgx sets deadlines of its own when a context ends; the
// earlier of the two holds.
type quietConn struct {
	net.Conn
	idle time.Duration

	mu    sync.Mutex
	asked time.Time // the deadline pgx set; zero: none
	// expired is the timeout that ended the connection. It stays, as a
	// deadline in the past does: pgx reads once more after a timeout
	// before it closes the connection, and that read must not wait again.
	expired error
}

func (c *quietConn) Read(b []byte) (int, error) {
	if err := c.arm(c.Conn.SetReadDeadline); err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(b)
	return n, c.check(err)
}

func (c *quietConn) Write(b []byte) (int, error) {
	if err := c.arm(c.Conn.SetWriteDeadline); err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(b)
	return n, c.check(err)
}

// arm sets the deadline of the next read or write.
func (c *quietConn) arm(set func(time.Time) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expired != nil {
		return c.expired
	}
	d := time.Now().Add(c.idle)
	if !c.asked.IsZero() && c.asked.Before(d) {
		d = c.asked
	}
	return set(d)
}

// check records a timeout.
func (c *quietConn) check(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.mu.Lock()
		c.expired = err
		c.mu.Unlock()
	}
	return err
}

// SetDeadline records pgx's deadline and applies it at once, so that a
// read or write in progress ends by it.
func (c *quietConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = t
	if t.IsZero() {
		return nil // the next read or write arms its own
	}
	return c.Conn.SetDeadline(t)
}
