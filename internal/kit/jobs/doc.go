// Package jobs runs a service's durable background jobs — work with
// retries, timers and periodic sweeps — in the service's own store, on
// either engine, with river (github.com/riverqueue/river). It is a thin
// layer: river's types (river.Workers, river.Job, river.InsertOpts,
// river.PeriodicJob, rivertype.JobRow) are used as they are, and Client
// embeds river's client, so InsertTx, JobGet, JobList, JobRetry,
// JobCancel and JobDelete are river's.
//
// A service
//
//   - calls Migrate from its own Migrate: river's tables go into the
//     service's store (on PostgreSQL into its schema), idempotently;
//   - registers its workers (Register, or river.AddWorker for a worker
//     type with its own Timeout or NextRetry) and makes a Client with New;
//   - enqueues a job with InsertTx in the transaction of the state change
//     that needs it (sqldb.DB.InTx), so the job commits or rolls back with
//     it — as the outbox does for events. Args that implement
//     river.JobArgsWithInsertOpts with UniqueOpts{ByArgs: true} are
//     enqueued once, however often the event that asks for them is
//     delivered, while the earlier job is kept (CompletedRetention);
//   - runs it from Base.Go (Client.Run) and closes it (Close) after Run
//     returned.
//
// Job args are stored as JSON in plain text and kept after the job ends
// (completed for a day, dead until handled): they carry identifiers, never
// health data.
//
// Failures. A worker's error is retried with backoff (Options.RetryPolicy,
// river's attempt⁴ seconds by default) up to MaxAttempts (the job's
// InsertOpts, or Options.MaxAttempts, or river's 25 — about three weeks);
// then the job is discarded. Dead lists discarded and cancelled jobs for
// an admin, who retries one (JobRetry) or forgets it (JobDelete); they are
// kept until then (Options.DeadRetention).
//
// Stopping. Run stops when its context ends: no new job is fetched,
// running ones get Options.SoftStopTimeout to finish, then their contexts
// are cancelled. A job that returns its context's error then goes back to
// available without using up an attempt, and the next client started on
// the store works it. A job whose process died instead (SIGKILL, power
// loss) stays running in the store until the leader's rescuer makes it
// retryable, once it has run RescueStuckJobsAfter (river's default: the
// job timeout plus an hour; its rescuer looks every 30 s, and a dead
// leader holds its leadership up to about 15 s): set it a little above the
// longest attempt.
//
// Periodic jobs and maintenance (rescuing, scheduling retries, deleting
// old jobs) run on one client per store, the elected leader.
//
// # Engines and handles
//
// PostgreSQL: river's database/sql driver (riverdatabasesql) on the
// service's own *sql.DB (pgx's stdlib driver, ADR 0001), sharing its pool.
// River's tables are named in the client's schema (river's Config.Schema
// is sqldb.DB.Schema), which is also the search path sqldb gives every
// connection, so they land beside the service's tables. The driver has
// no LISTEN (it would need a pgx pool): the client is in poll-only mode,
// and a job inserted by another process or in a transaction is picked up
// within FetchPollInterval (1 s by default); leader elections are polled
// too. Migrate holds an advisory lock of the schema, as river's migrator
// takes none and replicas may start together.
//
// SQLite: river's SQLite driver (riversqlite) on a handle of the client's
// own, one connection, on the service's file, opened with sqldb's pragmas
// (busy_timeout, WAL, _txlock=immediate, ...). InsertTx needs no handle: it
// writes with the service's transaction. River's documentation asks for
// SetMaxOpenConns(1) because, on a handle without busy_timeout, its
// concurrent goroutines fail with SQLITE_BUSY — measured when this package
// was written (the measurement is in the history of handle_test.go): a handle
// of four connections with only journal_mode(WAL) failed the client's
// start with SQLITE_BUSY. With sqldb's pragmas every measured setting
// worked: eight goroutines inserting jobs in service transactions for 3 s
// (about 8,000–10,000 jobs) while ten workers each wrote to the store gave
// no SQLITE_BUSY, no failed transaction and the same throughput (about
// 3,000 inserts/s, 400–450 completions/s) with river on the service's
// handle of 16 connections, on its own of 1, or of 4. The handle of its
// own, of one connection (sqldb.DB.Sibling, with the store's settings), is
// the configuration river tests, and keeps river's goroutines (its
// notification poll every 50 ms, the elector, the completer, maintenance)
// off the service's pool; TestOwnSQLiteHandleMatchesTheStore checks it. River's notifications
// on SQLite are a table it polls, so a committed job starts within about
// 50 ms.
package jobs
