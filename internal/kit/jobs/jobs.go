package jobs

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/secondopinion/platform/internal/kit/sqldb"
)

// Defaults of Options.
const (
	DefaultMaxWorkers      = 10
	DefaultSoftStopTimeout = 10 * time.Second
	// stopGrace is what Run waits beyond SoftStopTimeout for cancelled jobs
	// to return and their state to be written.
	stopGrace = 5 * time.Second
)

// Options tune a Client. Zero values take river's defaults unless said
// otherwise.
type Options struct {
	// Workers work the jobs; nil makes an insert-only client, which cannot
	// Start.
	Workers *river.Workers
	// Queues to work; default: river.QueueDefault with DefaultMaxWorkers.
	Queues map[string]river.QueueConfig
	// PeriodicJobs are enqueued by the elected leader among the clients of
	// the store (one per SQLite file, one of the replicas on PostgreSQL).
	PeriodicJobs []*river.PeriodicJob
	// MaxAttempts is the default for jobs whose InsertOpts do not set one
	// (river's: 25, with attempt⁴ seconds between attempts ≈ 3 weeks).
	MaxAttempts int
	// RetryPolicy spaces the attempts (river's: attempt⁴ s plus jitter).
	RetryPolicy river.ClientRetryPolicy
	// JobTimeout bounds one attempt (river's: 1 minute; -1: none); a Worker
	// may set its own with Timeout.
	JobTimeout time.Duration
	// RescueStuckJobsAfter is how long a job may stay running before the
	// leader assumes its process died and makes it retryable (river's:
	// JobTimeout + 1 hour). It must exceed the longest attempt.
	RescueStuckJobsAfter time.Duration
	// SoftStopTimeout is how long a stop lets running jobs finish before
	// cancelling their contexts; a job that then returns the context's
	// error is made available again without using up an attempt. Default
	// DefaultSoftStopTimeout.
	SoftStopTimeout time.Duration
	// DeadRetention is how long dead jobs (see Dead) are kept; default -1:
	// until an admin retries or deletes them, as the outbox keeps its dead
	// letters (river's own: 7 days for discarded, 1 day for cancelled).
	DeadRetention time.Duration
	// CompletedRetention is how long completed jobs are kept (river's: 24
	// hours), and with them a unique job's claim on its args.
	CompletedRetention time.Duration
	// FetchPollInterval is how often idle producers look for new jobs
	// (river's: 1 s); FetchCooldown the least time between two fetches
	// (river's: 100 ms). Tests shorten both.
	FetchPollInterval time.Duration
	FetchCooldown     time.Duration
	Logger            *slog.Logger // default slog.Default()

	// leaderElectionDisabled keeps a client from maintenance and periodic
	// jobs; only tests set it (see export_test.go).
	leaderElectionDisabled bool
	// testOnly is river's TestOnly: the leader's maintenance services start
	// at once instead of after a random pause of up to a second each.
	testOnly bool
}

// Client inserts jobs into a service's store and, when started, works them.
// River's own client is embedded: InsertTx, JobGet, JobList, JobRetry,
// JobCancel, JobDelete, Subscribe and the rest are river's, with *sql.Tx as
// the transaction type.
type Client struct {
	*river.Client[*sql.Tx]
	db  *sqldb.DB
	own *sql.DB // SQLite: the client's own handle on the store's file
	log *slog.Logger
	o   Options
}

// New makes a client of db's jobs. On SQLite it opens a handle of its own
// on db's file (see the package documentation); Close closes it.
func New(ctx context.Context, db *sqldb.DB, o Options) (*Client, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SoftStopTimeout == 0 {
		o.SoftStopTimeout = DefaultSoftStopTimeout
	}
	if o.DeadRetention == 0 {
		o.DeadRetention = -1
	}
	if o.Workers != nil && len(o.Queues) == 0 {
		o.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: DefaultMaxWorkers}}
	}
	c := &Client{db: db, log: o.Logger, o: o}
	var drv riverdriver.Driver[*sql.Tx]
	switch db.Engine {
	case sqldb.SQLite:
		own, err := db.Sibling(ctx, 1)
		if err != nil {
			return nil, fmt.Errorf("jobs %s: %w", db.Service, err)
		}
		c.own = own
		drv = riversqlite.New(own)
	case sqldb.Postgres:
		drv = riverdatabasesql.New(db.DB)
	default:
		return nil, fmt.Errorf("jobs %s: unknown engine %q", db.Service, db.Engine)
	}
	rc, err := river.NewClient(drv, &river.Config{
		Workers:                     o.Workers,
		Queues:                      o.Queues,
		PeriodicJobs:                o.PeriodicJobs,
		MaxAttempts:                 o.MaxAttempts,
		RetryPolicy:                 o.RetryPolicy,
		JobTimeout:                  o.JobTimeout,
		RescueStuckJobsAfter:        o.RescueStuckJobsAfter,
		SoftStopTimeout:             o.SoftStopTimeout,
		DiscardedJobRetentionPeriod: o.DeadRetention,
		CancelledJobRetentionPeriod: o.DeadRetention,
		CompletedJobRetentionPeriod: o.CompletedRetention,
		FetchPollInterval:           o.FetchPollInterval,
		FetchCooldown:               o.FetchCooldown,
		LeaderElectionDisabled:      o.leaderElectionDisabled,
		TestOnly:                    o.testOnly,
		Logger:                      o.Logger,
		Schema:                      db.Schema, // "" on SQLite: the main database
	})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("jobs %s: %w", db.Service, err)
	}
	c.Client = rc
	return c, nil
}

// Run works jobs until ctx ends, then stops as Stop does, waiting at most
// SoftStopTimeout and a few seconds more. It fits service.Base.Go:
//
//	b.Go(func(ctx context.Context) { _ = s.jobs.Run(ctx) })
//
// Errors are logged as well as returned.
func (c *Client) Run(ctx context.Context) error {
	if err := c.Start(ctx); err != nil {
		c.log.Error("jobs: start", "service", c.db.Service, "err", err)
		return fmt.Errorf("jobs %s: start: %w", c.db.Service, err)
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.o.SoftStopTimeout+stopGrace)
	defer cancel()
	if err := c.Stop(sctx); err != nil {
		c.log.Error("jobs: stop", "service", c.db.Service, "err", err)
		return err
	}
	return nil
}

// Stop stops fetching jobs, lets running ones finish for up to
// Options.SoftStopTimeout, then cancels their contexts and waits for them
// to return, until ctx ends. No job is lost: one that ends by its
// context's error is made available again for the next start, and one
// still running when the process dies is rescued after
// RescueStuckJobsAfter.
func (c *Client) Stop(ctx context.Context) error {
	if err := c.Client.Stop(ctx); err != nil {
		return fmt.Errorf("jobs %s: stop: %w", c.db.Service, err)
	}
	return nil
}

// Close closes the handle the client opened (SQLite). Call it once the
// client has stopped and nothing inserts through it any more.
func (c *Client) Close() error {
	if c.own == nil {
		return nil
	}
	return c.own.Close()
}

// Dead lists the jobs that will not run again by themselves — discarded
// after their last attempt, or cancelled (their worker returned
// river.JobCancel, or someone called JobCancel) — of kind ("" for every
// kind), the latest first. JobRetry makes one available again for another
// attempt; JobDelete forgets it.
func (c *Client) Dead(ctx context.Context, kind string, limit int) ([]*rivertype.JobRow, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	p := river.NewJobListParams().
		States(rivertype.JobStateDiscarded, rivertype.JobStateCancelled).
		OrderBy(river.JobListOrderByFinalizedAt, river.SortOrderDesc).
		First(limit)
	if kind != "" {
		p = p.Kinds(kind)
	}
	res, err := c.JobList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("jobs %s: list dead jobs: %w", c.db.Service, err)
	}
	return res.Jobs, nil
}

// Register adds fn as the worker of T's kind: river.AddWorker with a
// function. A worker that needs Timeout or NextRetry implements
// river.Worker itself and is added with river.AddWorker.
func Register[T river.JobArgs](w *river.Workers, fn func(ctx context.Context, job *river.Job[T]) error) {
	river.AddWorker(w, river.WorkFunc(fn))
}

// Migrate creates or updates river's tables in db (in its schema on
// PostgreSQL). A service calls it from its own Migrate; it is idempotent,
// and on PostgreSQL replicas that start together take turns.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	var drv riverdriver.Driver[*sql.Tx]
	switch db.Engine {
	case sqldb.SQLite:
		drv = riversqlite.New(db.DB)
	case sqldb.Postgres:
		drv = riverdatabasesql.New(db.DB)
	default:
		return fmt.Errorf("migrate %s jobs: unknown engine %q", db.Service, db.Engine)
	}
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Schema: db.Schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("migrate %s jobs: %w", db.Service, err)
	}
	unlock, err := migrationLock(ctx, db)
	if err != nil {
		return fmt.Errorf("migrate %s jobs: %w", db.Service, err)
	}
	defer unlock()
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate %s jobs: %w", db.Service, err)
	}
	return nil
}

// migrationLock serialises Migrate among the processes sharing a
// PostgreSQL schema: river's migrator takes no lock of its own, and two
// replicas creating its tables at once would fail one of them. A session
// lock, held on a connection of its own, as the migrator runs its
// statements on other connections of the pool. SQLite needs none: one
// process owns the file.
func migrationLock(ctx context.Context, db *sqldb.DB) (func(), error) {
	if db.Engine != sqldb.Postgres {
		return func() {}, nil
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	const key = `hashtext(current_schema()), hashtext('river_migrate')`
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+key+`)`); err != nil {
		conn.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock(`+key+`)`); err != nil {
			// Drop the connection instead of pooling it: ending the session
			// ends its lock.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}, nil
}
