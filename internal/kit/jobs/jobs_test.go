package jobs_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/secondopinion/platform/internal/kit/jobs"
	"github.com/secondopinion/platform/internal/kit/sqldb"
)

type analyse struct {
	CaseID string `json:"case_id"`
}

func (analyse) Kind() string { return "analyse" }

// counting registers a worker of analyse that counts its runs and returns
// what fail says.
func counting(fail func(j *river.Job[analyse]) error) (*river.Workers, *atomic.Int32) {
	var ran atomic.Int32
	w := river.NewWorkers()
	jobs.Register(w, func(ctx context.Context, j *river.Job[analyse]) error {
		ran.Add(1)
		return fail(j)
	})
	return w, &ran
}

func succeed(*river.Job[analyse]) error { return nil }

func TestCommittedJobRuns(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		w, ran := counting(succeed)
		c := newClient(t, db, fast(t, w))
		run(t, c)
		res := insertWithNote(t, db, c, "n1", analyse{CaseID: "c1"}, true)
		eventually(t, "the job completed", func() bool { return job(t, c, res.Job.ID).State == rivertype.JobStateCompleted })
		if n := ran.Load(); n != 1 {
			t.Fatalf("ran %d times", n)
		}
	})
}

func TestRolledBackJobNeverRuns(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		var ran []string
		ranCh := make(chan string, 10)
		w := river.NewWorkers()
		jobs.Register(w, func(ctx context.Context, j *river.Job[analyse]) error {
			ranCh <- j.Args.CaseID
			return nil
		})
		c := newClient(t, db, fast(t, w))
		run(t, c)
		insertWithNote(t, db, c, "gone", analyse{CaseID: "rolled-back"}, false)
		// A job committed after it: once it ran, the rolled-back one would
		// have run too, had it been left in the store.
		insertWithNote(t, db, c, "kept", analyse{CaseID: "committed"}, true)
		eventually(t, "the committed job ran", func() bool {
			select {
			case id := <-ranCh:
				ran = append(ran, id)
			default:
			}
			return len(ran) > 0
		})
		time.Sleep(200 * time.Millisecond)
		close(ranCh)
		for id := range ranCh {
			ran = append(ran, id)
		}
		if len(ran) != 1 || ran[0] != "committed" {
			t.Fatalf("ran %v, want only the committed job", ran)
		}
		var n int
		if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM river_job`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("%d jobs in the store, want the committed one", n)
		}
		if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM notes WHERE id = 'gone'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("rolled-back note: %d, %v", n, err)
		}
	})
}

var errAnalysis = errors.New("provider unavailable")

func TestFailingJobRetriesThenIsDiscarded(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		var healed atomic.Bool
		w, ran := counting(func(*river.Job[analyse]) error {
			if healed.Load() {
				return nil
			}
			return errAnalysis
		})
		o := fast(t, w)
		o.MaxAttempts = 3
		c := newClient(t, db, o)
		run(t, c)
		res := insertWithNote(t, db, c, "n1", analyse{CaseID: "c1"}, true)
		eventually(t, "the job was discarded", func() bool { return job(t, c, res.Job.ID).State == rivertype.JobStateDiscarded })
		j := job(t, c, res.Job.ID)
		if n := ran.Load(); n != 3 || j.Attempt != 3 || len(j.Errors) != 3 {
			t.Fatalf("ran %d times, attempt %d, %d errors; want 3 of each", n, j.Attempt, len(j.Errors))
		}
		if j.Errors[2].Error != errAnalysis.Error() {
			t.Fatalf("last error %q", j.Errors[2].Error)
		}
		dead, err := c.Dead(context.Background(), "analyse", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != 1 || dead[0].ID != res.Job.ID {
			t.Fatalf("dead: %v", dead)
		}
		if other, err := c.Dead(context.Background(), "other", 10); err != nil || len(other) != 0 {
			t.Fatalf("dead of another kind: %v, %v", other, err)
		}
		// An admin retries it once the cause is fixed.
		healed.Store(true)
		if _, err := c.JobRetry(context.Background(), res.Job.ID); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the retried job completed", func() bool { return job(t, c, res.Job.ID).State == rivertype.JobStateCompleted })
		if dead, err := c.Dead(context.Background(), "", 10); err != nil || len(dead) != 0 {
			t.Fatalf("dead after the retry: %v, %v", dead, err)
		}
	})
}

// TestCancelledJobIsDead: a worker that gives up for good (river.JobCancel)
// is not retried, and its job is listed as dead.
func TestCancelledJobIsDead(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		w, ran := counting(func(*river.Job[analyse]) error { return river.JobCancel(errAnalysis) })
		c := newClient(t, db, fast(t, w))
		run(t, c)
		res := insertWithNote(t, db, c, "n1", analyse{CaseID: "c1"}, true)
		eventually(t, "the job was cancelled", func() bool { return job(t, c, res.Job.ID).State == rivertype.JobStateCancelled })
		dead, err := c.Dead(context.Background(), "", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != 1 || dead[0].ID != res.Job.ID || ran.Load() != 1 {
			t.Fatalf("dead %v after %d runs", dead, ran.Load())
		}
	})
}

// analyseOnce is an analysis enqueued by an event that may be delivered
// again: unique by its args.
type analyseOnce struct {
	CaseID string `json:"case_id"`
}

func (analyseOnce) Kind() string { return "analyse_once" }
func (analyseOnce) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

func TestUniqueJobInsertedTwiceRunsOnce(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		var ran atomic.Int32
		w := river.NewWorkers()
		jobs.Register(w, func(ctx context.Context, j *river.Job[analyseOnce]) error {
			ran.Add(1)
			return nil
		})
		c := newClient(t, db, fast(t, w))
		first := insertWithNote(t, db, c, "n1", analyseOnce{CaseID: "c1"}, true)
		again := insertWithNote(t, db, c, "n2", analyseOnce{CaseID: "c1"}, true)
		if first.UniqueSkippedAsDuplicate || !again.UniqueSkippedAsDuplicate || again.Job.ID != first.Job.ID {
			t.Fatalf("first %+v, again %+v: want the second skipped as the first's duplicate", first, again)
		}
		other := insertWithNote(t, db, c, "n3", analyseOnce{CaseID: "c2"}, true)
		if other.UniqueSkippedAsDuplicate {
			t.Fatal("a job with other args was skipped")
		}
		run(t, c)
		eventually(t, "both jobs completed", func() bool {
			return job(t, c, first.Job.ID).State == rivertype.JobStateCompleted && job(t, c, other.Job.ID).State == rivertype.JobStateCompleted
		})
		// Delivered once more after it ran: still a duplicate, while the
		// completed job is kept (Options.CompletedRetention).
		late := insertWithNote(t, db, c, "n4", analyseOnce{CaseID: "c1"}, true)
		if !late.UniqueSkippedAsDuplicate {
			t.Fatal("a duplicate of a completed job was enqueued")
		}
		time.Sleep(200 * time.Millisecond)
		if n := ran.Load(); n != 2 {
			t.Fatalf("ran %d times, want 2 (c1 once, c2 once)", n)
		}
	})
}

type sweep struct{}

func (sweep) Kind() string { return "sweep" }

func TestPeriodicJobRuns(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, db *sqldb.DB) {
		var ran atomic.Int32
		w := river.NewWorkers()
		jobs.Register(w, func(ctx context.Context, j *river.Job[sweep]) error {
			ran.Add(1)
			return nil
		})
		o := fast(t, w)
		o.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(
			river.PeriodicInterval(300*time.Millisecond),
			func() (river.JobArgs, *river.InsertOpts) { return sweep{}, nil },
			nil)}
		c := newClient(t, db, o)
		run(t, c)
		eventually(t, "the sweep ran twice", func() bool { return ran.Load() >= 2 })
	})
}
