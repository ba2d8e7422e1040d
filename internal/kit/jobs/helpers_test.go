package jobs_test

import (
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/secondopinion/platform/internal/kit/jobs"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

const service = "jobs-test"

// store opens a fresh store of each engine with river's tables and a table
// of the service's own, notes, for the state changes jobs go with.
func forEachEngine(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	t.Helper()
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			fn(t, migrated(t, testkit.OpenDB(t, e, service)))
		})
	}
}

func migrated(t testing.TB, db *sqldb.DB) *sqldb.DB {
	t.Helper()
	ctx := context.Background()
	if err := jobs.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// logs collects the client's log records at warning level and above.
type logs struct {
	mu   sync.Mutex
	recs []string
}

func (l *logs) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	l.mu.Lock()
	l.recs = append(l.recs, b.String())
	l.mu.Unlock()
	return nil
}
func (l *logs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logs) WithGroup(string) slog.Handler      { return l }
func (l *logs) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.recs...)
}

// fast are options for tests: short polls, retries a few milliseconds
// apart, warnings kept for the test to show.
func fast(t testing.TB, w *river.Workers) jobs.Options {
	l := &logs{}
	t.Cleanup(func() {
		for _, r := range l.all() {
			t.Log("client log:", r)
		}
	})
	return jobs.WithTestOnly(jobs.Options{
		Workers:           w,
		FetchPollInterval: 50 * time.Millisecond,
		FetchCooldown:     5 * time.Millisecond,
		RetryPolicy:       quickRetry{},
		SoftStopTimeout:   2 * time.Second,
		Logger:            slog.New(l),
	})
}

// quickRetry retries 20 ms after each failure.
type quickRetry struct{}

func (quickRetry) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(20 * time.Millisecond)
}

func newClient(t testing.TB, db *sqldb.DB, o jobs.Options) *jobs.Client {
	t.Helper()
	c, err := jobs.New(context.Background(), db, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// run runs c until the test ends (or the returned stop is called).
func run(t testing.TB, c *jobs.Client) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually polls cond until it holds or 15 s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}

func job(t testing.TB, c *jobs.Client, id int64) *rivertype.JobRow {
	t.Helper()
	j, err := c.JobGet(context.Background(), id)
	if err != nil {
		t.Fatalf("job %d: %v", id, err)
	}
	return j
}

// insertWithNote writes a note and enqueues args in one transaction,
// committed when commit is true.
func insertWithNote(t testing.TB, db *sqldb.DB, c *jobs.Client, note string, args river.JobArgs, commit bool) *rivertype.JobInsertResult {
	t.Helper()
	var res *rivertype.JobInsertResult
	errRollback := sql.ErrTxDone
	err := db.InTx(context.Background(), func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(context.Background(), `INSERT INTO notes (id, body) VALUES ($1, 'x')`, note); err != nil {
			return err
		}
		var err error
		if res, err = c.InsertTx(context.Background(), tx, args, nil); err != nil {
			return err
		}
		if !commit {
			return errRollback
		}
		return nil
	})
	if commit && err != nil || !commit && err != errRollback {
		t.Fatalf("insert %s: %v", note, err)
	}
	return res
}
