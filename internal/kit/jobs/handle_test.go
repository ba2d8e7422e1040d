package jobs_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/secondopinion/platform/internal/kit/jobs"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

var measure = flag.Bool("jobs.measure", false, "measure river's SQLite handle choices under load (slow)")

type note struct {
	ID string `json:"id"`
}

func (note) Kind() string { return "note" }

// TestMeasureSQLiteHandles is the measurement behind the package's choice
// of a handle on SQLite (see the package documentation for the results):
// service transactions insert jobs while the client works them, each
// worker writing to the service's store, with river's client on the
// service's handle (16 connections) or on a handle of its own of 1 or 4
// (and, for comparison, PostgreSQL, where it shares the service's pool).
//
//	go test -run TestMeasureSQLiteHandles -v ./internal/kit/jobs/ -args -jobs.measure
func TestMeasureSQLiteHandles(t *testing.T) {
	if !*measure {
		t.Skip("run with -jobs.measure")
	}
	type variant struct {
		e     sqldb.Engine
		conns int
	}
	for _, v := range []variant{{sqldb.SQLite, -1}, {sqldb.SQLite, 1}, {sqldb.SQLite, 4}, {sqldb.Postgres, 0}} {
		conns := v.conns
		t.Run(fmt.Sprint(v.e, " conns=", conns), func(t *testing.T) {
			db := migrated(t, testkit.OpenDB(t, v.e, service))
			var workErrs atomic.Int64
			w := river.NewWorkers()
			jobs.Register(w, func(ctx context.Context, j *river.Job[note]) error {
				err := db.InTx(ctx, func(tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, `UPDATE notes SET body = 'done' WHERE id = $1`, j.Args.ID)
					return err
				})
				if err != nil {
					workErrs.Add(1)
				}
				return err
			})
			o := fast(t, w)
			o.FetchPollInterval = 200 * time.Millisecond
			o.FetchCooldown = 20 * time.Millisecond
			l := o.Logger.Handler().(*logs)
			c := newClient(t, db, jobs.WithSQLiteConns(o, conns))
			stop := run(t, c)
			var inserted, insertErrs atomic.Int64
			var firstErr atomic.Value
			var wg sync.WaitGroup
			var latMu sync.Mutex
			var lats []time.Duration
			start := time.Now()
			var peak atomic.Int64
			sampling := make(chan struct{})
			go func() {
				for {
					select {
					case <-sampling:
						return
					case <-time.After(time.Millisecond):
					}
					if n := int64(db.Stats().InUse); n > peak.Load() {
						peak.Store(n)
					}
				}
			}()
			for g := range 8 {
				wg.Go(func() {
					for i := 0; time.Since(start) < 3*time.Second; i++ {
						id := fmt.Sprintf("%d-%d", g, i)
						t0 := time.Now()
						err := db.InTx(context.Background(), func(tx *sql.Tx) error {
							if _, err := tx.ExecContext(context.Background(), `INSERT INTO notes (id, body) VALUES ($1, 'x')`, id); err != nil {
								return err
							}
							_, err := c.InsertTx(context.Background(), tx, note{ID: id}, nil)
							return err
						})
						latMu.Lock()
						lats = append(lats, time.Since(t0))
						latMu.Unlock()
						if err != nil {
							insertErrs.Add(1)
							firstErr.CompareAndSwap(nil, err)
							continue
						}
						inserted.Add(1)
					}
				})
			}
			wg.Wait()
			drainStart := time.Now()
			var done int
			for time.Since(drainStart) < 60*time.Second {
				if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM river_job WHERE state = 'completed'`).Scan(&done); err != nil {
					t.Fatal(err)
				}
				if int64(done) == inserted.Load() {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			drain := time.Since(drainStart)
			close(sampling)
			stats := db.Stats()
			stop()
			slices.Sort(lats)
			p99 := lats[len(lats)*99/100]
			var retried int
			_ = db.QueryRowContext(context.Background(), `SELECT count(*) FROM river_job WHERE attempt > 1`).Scan(&retried)
			busy := 0
			for _, r := range l.all() {
				if strings.Contains(r, "SQLITE_BUSY") || strings.Contains(r, "locked") {
					busy++
				}
			}
			t.Logf("%s conns=%d: inserted %d (%.0f/s), insert errors %d (%v), completed %d, drain %v, worker errors %d, retried jobs %d, client warnings %d (busy %d); service tx p99 %v, waits for a service connection %d (%v), peak service connections in use %d",
				v.e, conns, inserted.Load(), float64(inserted.Load())/3, insertErrs.Load(), firstErr.Load(), done, drain.Round(time.Millisecond),
				workErrs.Load(), retried, len(l.all()), busy, p99.Round(time.Microsecond), stats.WaitCount, stats.WaitDuration.Round(time.Millisecond), peak.Load())
		})
	}
}
