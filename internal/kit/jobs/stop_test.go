package jobs_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/secondopinion/platform/internal/kit/jobs"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// TestStopLetsRunningJobFinish: a stop waits for a job that finishes
// within SoftStopTimeout, and its completion is written before Run returns.
func TestStopLetsRunningJobFinish(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		started := make(chan struct{})
		w := river.NewWorkers()
		jobs.Register(w, func(ctx context.Context, j *river.Job[analyse]) error {
			close(started)
			select {
			case <-time.After(300 * time.Millisecond):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		c := newClient(t, db, fast(t, w))
		stop := run(t, c)
		res := insertWithNote(t, db, c, "n1", analyse{CaseID: "c1"}, true)
		<-started
		stop()
		if s := job(t, c, res.Job.ID).State; s != rivertype.JobStateCompleted {
			t.Fatalf("after the stop the job is %s, want completed", s)
		}
	})
}

// TestStopMidJobCompletesAfterRestart: a job still running when the soft
// stop times out has its context cancelled; it goes back to available
// without using up an attempt, and a new client on the same store — the
// restarted service — completes it.
func TestStopMidJobCompletesAfterRestart(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		started := make(chan struct{})
		w1 := river.NewWorkers()
		jobs.Register(w1, func(ctx context.Context, j *river.Job[analyse]) error {
			close(started)
			<-ctx.Done() // a long analysis, interrupted
			return ctx.Err()
		})
		o1 := fast(t, w1)
		o1.SoftStopTimeout = 100 * time.Millisecond
		c1 := newClient(t, db, o1)
		stop := run(t, c1)
		res := insertWithNote(t, db, c1, "n1", analyse{CaseID: "c1"}, true)
		<-started
		stop()
		j := job(t, c1, res.Job.ID)
		if j.State != rivertype.JobStateAvailable || j.Attempt != 0 {
			t.Fatalf("after the stop the job is %s at attempt %d, want available at 0", j.State, j.Attempt)
		}
		c1.Close()

		w2, ran := counting(succeed)
		c2 := newClient(t, db, fast(t, w2))
		run(t, c2)
		eventually(t, "the restarted client completed the job", func() bool {
			return job(t, c2, res.Job.ID).State == rivertype.JobStateCompleted
		})
		if j := job(t, c2, res.Job.ID); ran.Load() != 1 || j.Attempt != 1 || len(j.Errors) != 0 {
			t.Fatalf("ran %d times after the restart, attempt %d, errors %v", ran.Load(), j.Attempt, j.Errors)
		}
	})
}

const childEnv = "JOBS_TEST_KILLED_CHILD"

// TestKilledMidJobIsRescued: a process killed (SIGKILL) mid-job leaves it
// running in the store; a client started afterwards rescues it once it has
// run longer than RescueStuckJobsAfter and completes it.
func TestKilledMidJobIsRescued(t *testing.T) {
	t.Parallel()
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			t.Parallel()
			o := testkit.StoreOptions(t, e, service)
			db, err := sqldb.Open(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			migrated(t, db)
			insert := newClient(t, db, jobs.Options{})
			res := insertWithNote(t, db, insert, "n1", analyse{CaseID: "c1"}, true)

			cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWorkerChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"=1", "JOBS_TEST_DATADIR="+o.DataDir,
				"JOBS_TEST_URL="+o.URL, "JOBS_TEST_SCHEMA="+o.Schema)
			p, err := testkit.StartProcess(cmd, fmt.Sprintf("working %d", res.Job.ID), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			p.Stop(syscall.SIGKILL, 0)
			j := job(t, insert, res.Job.ID)
			if j.State != rivertype.JobStateRunning || j.AttemptedAt == nil {
				t.Fatalf("after the kill the job is %s, want running:\n%s", j.State, p.Output)
			}

			const rescueAfter = time.Second
			time.Sleep(time.Until(j.AttemptedAt.Add(rescueAfter + 100*time.Millisecond)))
			w, ran := counting(succeed)
			opts := fast(t, w)
			opts.JobTimeout = 500 * time.Millisecond
			opts.RescueStuckJobsAfter = rescueAfter
			c := newClient(t, db, opts)
			run(t, c)
			eventually(t, "the rescued job completed", func() bool {
				return job(t, c, res.Job.ID).State == rivertype.JobStateCompleted
			})
			if n := ran.Load(); n != 1 {
				t.Fatalf("ran %d times after the rescue", n)
			}
		})
	}
}

// TestKilledWorkerChild is the process TestKilledMidJobIsRescued kills: a
// replica that never leads, whose worker says which job it works and
// then hangs.
func TestKilledWorkerChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("the child process of TestKilledMidJobIsRescued")
	}
	ctx := context.Background()
	db, err := sqldb.Open(ctx, sqldb.Options{Service: service, DataDir: os.Getenv("JOBS_TEST_DATADIR"),
		URL: os.Getenv("JOBS_TEST_URL"), Schema: os.Getenv("JOBS_TEST_SCHEMA")})
	if err != nil {
		t.Fatal(err)
	}
	var working atomic.Bool
	w := river.NewWorkers()
	jobs.Register(w, func(ctx context.Context, j *river.Job[analyse]) error {
		working.Store(true)
		fmt.Printf("working %d\n", j.ID)
		select {} // killed while it works
	})
	o := fast(t, w)
	o.JobTimeout = -1
	c, err := jobs.New(ctx, db, jobs.WithoutLeaderElection(o))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
}
