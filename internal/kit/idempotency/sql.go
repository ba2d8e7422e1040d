package idempotency

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrate creates the records' table in a service's store; it keeps its
// own migration history beside the service's.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	return db.Migrate(ctx, migrations, "migrations", "idempotency_goose_version")
}

const (
	// lease is how long a run holds its key without renewing it. A live
	// run renews it every lease/4, so only a dead run's reservation
	// lapses, and a retry after a crash waits at most this long.
	lease = 5 * time.Second
	// sweepEvery spaces the deletions of forgotten records; sweepBatch
	// bounds one, and a full batch lets the next reservation sweep again.
	sweepEvery = time.Minute
	sweepBatch = 1000
	// sweepTimeout bounds a sweep, which no request waits for.
	sweepTimeout = 30 * time.Second
)

// SQL is the Store in a service's own database, on either engine: records
// survive a crash, and replicas sharing one PostgreSQL database share them
// (Reserve is one conditional statement). A reserved run works under a
// context (hold) whose transactions in that database commit only while the
// run still holds its key, and mark it, in the same transaction, as having
// changed state. So a run that died before committing is run again on the
// next retry, and one that died after committing is never run twice: its
// retry is answered Lost.
//
// A run that dies holds its key until its lease lapses. On SQLite the
// database belongs to one process, so a reservation by another owner (an
// earlier process on the same file) is taken over at once. Taking over a
// live run by mistake is safe either way: its next commit is refused.
type SQL struct {
	db    *sqldb.DB
	owner string // this store instance; a restarted process is another
	lease time.Duration
	now   func() time.Time
	// nextSweep is when the next reservation deletes expired records, in
	// Unix nanoseconds.
	nextSweep atomic.Int64
}

// NewSQL keeps records in db, which Migrate has prepared.
func NewSQL(db *sqldb.DB) *SQL {
	return &SQL{db: db, owner: rand.Text(), lease: lease, now: time.Now}
}

func (s *SQL) clock() time.Time { return s.now().UTC() }

// exited is the SQL condition under which a pending reservation's run is
// known to be gone whatever its lease says; see SQL.
func (s *SQL) exited() string {
	if s.db.Engine == sqldb.SQLite {
		return `(state = 'pending' AND owner <> $4)`
	}
	return `FALSE`
}

func (s *SQL) Reserve(ctx context.Context, key string, rec Record) (Record, bool, error) {
	s.sweep(ctx)
	// A record deleted between the statements below is tried again.
	for range 3 {
		now := s.clock()
		held := now.Add(s.lease)
		ok, err := affected(s.db.ExecContext(ctx, `INSERT INTO idempotency_keys
			(key, fingerprint, token, owner, state, held_until, expires_at)
			VALUES ($1, $2, $3, $4, 'pending', $5, $5) ON CONFLICT (key) DO NOTHING`,
			key, rec.Fingerprint, rec.Token, s.owner, held))
		if err != nil || ok {
			return Record{}, ok, wrap("reserve idempotency key", err)
		}
		// The key exists: take it over if it is forgotten (expired) or
		// its run is gone.
		ok, err = affected(s.db.ExecContext(ctx, `UPDATE idempotency_keys
			SET fingerprint = $2, token = $3, owner = $4, state = 'pending', held_until = $5, expires_at = $5,
			    status = NULL, header = NULL, body = NULL
			WHERE key = $1 AND (expires_at <= $6 OR `+s.exited()+`)`,
			key, rec.Fingerprint, rec.Token, s.owner, held, now))
		if err != nil || ok {
			return Record{}, ok, wrap("take over idempotency key", err)
		}
		prev, found, err := s.read(ctx, key, now)
		if err != nil || found {
			return prev, false, wrap("read idempotency key", err)
		}
	}
	return Record{}, false, errors.New("reserve idempotency key: the record kept changing")
}

// read returns the record of key as a retry sees it.
func (s *SQL) read(ctx context.Context, key string, now time.Time) (Record, bool, error) {
	var (
		rec          Record
		owner, state string
		heldUntil    time.Time
		status       sql.NullInt64
		header       sql.NullString
	)
	err := s.db.QueryRowContext(ctx, `SELECT fingerprint, owner, state, held_until, status, header, body
		FROM idempotency_keys WHERE key = $1`, key).
		Scan(&rec.Fingerprint, &owner, &state, &heldUntil, &status, &header, &rec.Body)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, err
	}
	switch state {
	case "done":
		rec.Done, rec.Status = true, int(status.Int64)
		if header.Valid {
			if err := json.Unmarshal([]byte(header.String), &rec.Header); err != nil {
				return Record{}, false, err
			}
		}
	case "committed":
		rec.Lost = !heldUntil.After(now) || (s.db.Engine == sqldb.SQLite && owner != s.owner)
	}
	return rec, true, nil
}

func (s *SQL) Complete(ctx context.Context, key string, rec Record) error {
	header, err := json.Marshal(rec.Header)
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	ok, err := affected(s.db.ExecContext(ctx, `UPDATE idempotency_keys
		SET state = 'done', status = $3, header = $4, body = $5, expires_at = $6
		WHERE key = $1 AND token = $2`,
		key, rec.Token, rec.Status, string(header), rec.Body, s.clock().Add(TTL)))
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	if !ok {
		return fmt.Errorf("complete idempotency key: %w", errTakenOver)
	}
	return nil
}

func (s *SQL) Release(ctx context.Context, key, token string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE key = $1 AND token = $2`, key, token); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

func (s *SQL) hold(ctx context.Context, key, token string) (context.Context, func()) {
	var ended atomic.Bool
	ctx = sqldb.WithCommitCheck(ctx, s.db, func(ctx context.Context, tx *sql.Tx) error {
		// Work the run leaves behind after answering is no longer its
		// request's: the record is complete or released by then.
		if ended.Load() {
			return nil
		}
		ok, err := affected(tx.ExecContext(ctx, `UPDATE idempotency_keys SET state = 'committed', expires_at = $3
			WHERE key = $1 AND token = $2`, key, token, s.clock().Add(TTL)))
		if err != nil {
			return fmt.Errorf("mark idempotency key: %w", err)
		}
		if !ok {
			return &fault.Error{Kind: fault.KindConflict, Title: "Request taken over",
				Detail: "a retry with this Idempotency-Key took over this request"}
		}
		return nil
	})
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(s.lease / 4)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				s.renew(key, token)
			}
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			ended.Store(true)
			close(stop)
			<-stopped
		})
	}
}

// renew extends a live run's lease. A failure is not fatal: if the lease
// lapses, a retry may take the key over, and the run's commits are then
// refused rather than repeated.
func (s *SQL) renew(key, token string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.lease)
	defer cancel()
	_, _ = s.db.ExecContext(ctx, `UPDATE idempotency_keys
		SET held_until = $3, expires_at = CASE WHEN state = 'pending' THEN $3 ELSE expires_at END
		WHERE key = $1 AND token = $2`, key, token, s.clock().Add(s.lease))
}

// sweep deletes expired records, at most once per sweepEvery, beside
// the reservation that found it due rather than in its way. Expired
// records count as absent either way, so a failed sweep only leaves rows
// for the next one.
func (s *SQL) sweep(ctx context.Context) {
	now := s.clock()
	next := s.nextSweep.Load()
	if now.UnixNano() < next || !s.nextSweep.CompareAndSwap(next, now.Add(sweepEvery).UnixNano()) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sweepTimeout)
		defer cancel()
		// The outer condition is checked again on each row as it is
		// deleted: a reservation that took over an expired key meanwhile
		// (PostgreSQL re-reads the row it waited for) is not swept away.
		n, err := rows(s.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE key IN
			(SELECT key FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2) AND expires_at <= $1`, now, sweepBatch))
		if err == nil && n == sweepBatch {
			s.nextSweep.Store(0)
		}
	}()
}

func rows(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// affected reports whether a statement changed a row.
func affected(res sql.Result, err error) (bool, error) {
	n, err := rows(res, err)
	return n > 0, err
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
