package idempotency_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/idempotency"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// replicas opens n handles on one fresh store of engine e, as n processes
// sharing a database would, with the records' table and a table "things"
// standing for a service's state.
func replicas(t *testing.T, e sqldb.Engine, n int) []*sqldb.DB {
	t.Helper()
	o := testkit.StoreOptions(t, e, "idempotency-test")
	var dbs []*sqldb.DB
	for range n {
		db, err := sqldb.Open(t.Context(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	if err := idempotency.Migrate(t.Context(), dbs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := dbs[0].ExecContext(t.Context(), `CREATE TABLE things (id TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return dbs
}

func things(t *testing.T, db *sqldb.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM things`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// addThing is a service's state change: one transaction in its store.
func addThing(ctx context.Context, db *sqldb.DB, id string) error {
	return db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO things (id) VALUES ($1)`, id)
		return err
	})
}

// offset is a clock running d ahead of the real one.
func offset(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(d) } }

// Concurrent reservations of one key, from one process and, on
// PostgreSQL, from two replicas sharing the database: exactly one wins.
func TestSQLReserveIsAtomic(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			// On SQLite the database is one process's: another owner's
			// reservation counts as a dead process's (see SQL).
			n := 2
			if e == sqldb.SQLite {
				n = 1
			}
			var stores []*idempotency.SQL
			for _, db := range replicas(t, e, n) {
				stores = append(stores, idempotency.NewSQL(db))
			}
			var won atomic.Int64
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Go(func() {
					_, ok, err := stores[i%n].Reserve(t.Context(), "k", idempotency.Record{Fingerprint: "f", Token: string(rune('a' + i))})
					if err != nil {
						t.Error(err)
					}
					if ok {
						won.Add(1)
					}
				})
			}
			wg.Wait()
			if won.Load() != 1 {
				t.Fatalf("%d reservations of one key won", won.Load())
			}
		})
	}
}

// A run that died before committing is run again by a retry (at once on
// SQLite, after its lease on PostgreSQL); one that died after committing
// is not: the retry learns its answer was lost. A live run's reservation
// is renewed, so it outlasts its lease.
func TestSQLRecoversFromDeadRuns(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			dbs := replicas(t, e, 1)
			ctx := t.Context()
			dead := idempotency.NewSQL(dbs[0])
			if _, ok, err := dead.Reserve(ctx, "before", idempotency.Record{Fingerprint: "f", Token: "t1"}); !ok || err != nil {
				t.Fatalf("reserve: %v %v", ok, err)
			}
			if _, ok, err := dead.Reserve(ctx, "after", idempotency.Record{Fingerprint: "f", Token: "t2"}); !ok || err != nil {
				t.Fatalf("reserve: %v %v", ok, err)
			}
			held, end := idempotency.Hold(dead, ctx, "after", "t2")
			if err := addThing(held, dbs[0], "x"); err != nil {
				t.Fatal(err)
			}
			end() // renewal of "after" stops, as in a dead process
			live := idempotency.NewSQL(dbs[0])
			live.SetLease(400 * time.Millisecond)
			if _, ok, err := live.Reserve(ctx, "live", idempotency.Record{Fingerprint: "f", Token: "t3"}); !ok || err != nil {
				t.Fatalf("reserve: %v %v", ok, err)
			}
			_, endLive := idempotency.Hold(live, ctx, "live", "t3")
			defer endLive()
			time.Sleep(time.Second)
			// Renewed past its 400 ms lease, the live run still holds its
			// key.
			if rec, ok, err := live.Reserve(ctx, "live", idempotency.Record{Fingerprint: "f", Token: "t6"}); ok || err != nil || rec.Lost {
				t.Fatalf("a live run's key was taken: %+v %v %v", rec, ok, err)
			}

			// The restarted process: a new owner on the same database.
			next := idempotency.NewSQL(dbs[0])
			if e == sqldb.Postgres {
				// A replica cannot tell a dead run from a live one
				// before its lease lapses.
				rec, ok, err := next.Reserve(ctx, "before", idempotency.Record{Fingerprint: "f", Token: "t4"})
				if ok || err != nil || rec.Done || rec.Lost {
					t.Fatalf("lease not lapsed yet: %+v %v %v", rec, ok, err)
				}
				next.SetClock(offset(idempotency.Lease))
			}
			if _, ok, err := next.Reserve(ctx, "before", idempotency.Record{Fingerprint: "f", Token: "t4"}); !ok || err != nil {
				t.Fatalf("a run that died before committing blocks its retry: %v %v", ok, err)
			}
			rec, ok, err := next.Reserve(ctx, "after", idempotency.Record{Fingerprint: "f", Token: "t5"})
			if ok || err != nil || !rec.Lost {
				t.Fatalf("a run that died after committing is run again: %+v %v %v", rec, ok, err)
			}
		})
	}
}

// A run whose key a retry took over can commit nothing more, and can
// neither complete nor release the retry's record.
func TestSQLFencesTakenOverRun(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			dbs := replicas(t, e, 1)
			ctx := t.Context()
			slow := idempotency.NewSQL(dbs[0])
			if _, ok, err := slow.Reserve(ctx, "k", idempotency.Record{Fingerprint: "f", Token: "slow"}); !ok || err != nil {
				t.Fatalf("reserve: %v %v", ok, err)
			}
			held, end := idempotency.Hold(slow, ctx, "k", "slow")
			defer end()
			// The slow run stalls past its lease: the retry sees it
			// lapsed, as it would after a pause of the whole process.
			retry := idempotency.NewSQL(dbs[0])
			retry.SetClock(offset(idempotency.Lease + time.Second))
			if _, ok, err := retry.Reserve(ctx, "k", idempotency.Record{Fingerprint: "f", Token: "retry"}); !ok || err != nil {
				t.Fatalf("take over: %v %v", ok, err)
			}
			err := addThing(held, dbs[0], "late")
			if f, ok := fault.As(err); !ok || f.Kind != fault.KindConflict || things(t, dbs[0]) != 0 {
				t.Fatalf("the taken-over run committed: %v, %d rows", err, things(t, dbs[0]))
			}
			if err := slow.Complete(ctx, "k", idempotency.Record{Fingerprint: "f", Token: "slow", Done: true, Status: 201}); err == nil {
				t.Fatal("the taken-over run completed the retry's record")
			}
			if err := slow.Release(ctx, "k", "slow"); err != nil {
				t.Fatal(err)
			}
			retried, endRetry := idempotency.Hold(retry, ctx, "k", "retry")
			defer endRetry()
			if err := addThing(retried, dbs[0], "x"); err != nil {
				t.Fatal(err)
			}
			if err := retry.Complete(ctx, "k", idempotency.Record{Fingerprint: "f", Token: "retry", Done: true, Status: 201, Body: []byte("x")}); err != nil {
				t.Fatal(err)
			}
			rec, ok, err := retry.Reserve(ctx, "k", idempotency.Record{Fingerprint: "f", Token: "third"})
			if ok || err != nil || !rec.Done || rec.Status != 201 || string(rec.Body) != "x" || things(t, dbs[0]) != 1 {
				t.Fatalf("replay: %+v %v %v, %d rows", rec, ok, err, things(t, dbs[0]))
			}
		})
	}
}

// A completed record is replayed for TTL, then forgotten: the key is free
// again, and the row is deleted.
func TestSQLExpires(t *testing.T) {
	testkit.ForEachEngine(t, "idempotency-test", func(t *testing.T, db *sqldb.DB) {
		ctx := t.Context()
		if err := idempotency.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		s := idempotency.NewSQL(db)
		for _, k := range []string{"a", "b"} {
			if _, ok, err := s.Reserve(ctx, k, idempotency.Record{Fingerprint: "f", Token: k}); !ok || err != nil {
				t.Fatalf("reserve: %v %v", ok, err)
			}
			if err := s.Complete(ctx, k, idempotency.Record{Fingerprint: "f", Token: k, Done: true, Status: 200}); err != nil {
				t.Fatal(err)
			}
		}
		later := idempotency.NewSQL(db)
		later.SetClock(offset(idempotency.TTL + time.Minute))
		if _, ok, err := later.Reserve(ctx, "a", idempotency.Record{Fingerprint: "g", Token: "a2"}); !ok || err != nil {
			t.Fatalf("reserve after expiry: %v %v", ok, err)
		}
		// The sweep runs beside the reservation that found it due.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var n int
			err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM idempotency_keys`).Scan(&n)
			if err == nil && n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rows after the sweep: %d %v (want only the new reservation)", n, err)
			}
		}
	})
}

// Through the middleware: a request whose handler committed its change
// and never answered, then a restart: the retry does not run the handler
// again, and says the answer was lost.
func TestMiddlewareAfterCrashOnSQLite(t *testing.T) {
	db := replicas(t, sqldb.SQLite, 1)[0]
	var runs atomic.Int64
	hang := make(chan struct{})
	defer close(hang)
	serve := func() string {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := addThing(r.Context(), db, rand.Text()); err != nil {
				httpapi.WriteProblem(w, r, err)
				return
			}
			if runs.Add(1) == 1 {
				<-hang // the process "dies" here, after its commit
			}
			w.WriteHeader(http.StatusCreated)
		})
		tokens := testkit.Tokens{"a": {Subject: "11111111-1111-1111-1111-111111111111", Role: authn.RolePatient}}
		srv := httptest.NewServer(httpapi.Wrap(h, httpapi.Options{Service: "things", Verifier: tokens, Idempotency: idempotency.NewSQL(db)}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	first := serve()
	go func() {
		req, _ := http.NewRequest(http.MethodPost, first+"/things", strings.NewReader("x"))
		req.Header.Set("Authorization", "Bearer a")
		req.Header.Set(idempotency.Header, "k")
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	for deadline := time.Now().Add(5 * time.Second); runs.Load() == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first request never ran")
		}
	}
	res, body := post(t, serve(), "a", "k", "x")
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, "already carried out") || runs.Load() != 1 || things(t, db) != 1 {
		t.Fatalf("retry after the crash: %d %s, runs %d, rows %d", res.StatusCode, body, runs.Load(), things(t, db))
	}
}
