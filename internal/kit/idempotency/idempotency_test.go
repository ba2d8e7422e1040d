package idempotency_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/idempotency"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// variant is a store the middleware suite runs on.
type variant struct {
	name string
	open func(t *testing.T) idempotency.Store
}

// variants are every store: those that need nothing (memory, SQLite)
// always, PostgreSQL and Redis when TEST_DATABASE_URL and TEST_REDIS_URL
// are set — a missing one skips only its own subtest.
func variants() []variant {
	return []variant{
		{"memory", func(*testing.T) idempotency.Store { return idempotency.NewMemory() }},
		{"sqlite", func(t *testing.T) idempotency.Store { return idempotency.NewSQL(migrated(t, sqldb.SQLite)) }},
		{"postgres", func(t *testing.T) idempotency.Store { return idempotency.NewSQL(migrated(t, sqldb.Postgres)) }},
		{"redis", func(t *testing.T) idempotency.Store {
			opt, err := redis.ParseURL(testkit.Env(t, "TEST_REDIS_URL"))
			if err != nil {
				t.Fatal(err)
			}
			c := redis.NewClient(opt)
			t.Cleanup(func() { c.Close() })
			return idempotency.NewRedis(c)
		}},
	}
}

// migrated is a fresh store on engine e with the records' table.
func migrated(t *testing.T, e sqldb.Engine) *sqldb.DB {
	t.Helper()
	db := testkit.OpenDB(t, e, "idempotency-test")
	if err := idempotency.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	return db
}

// server counts how often the handler really ran; the handler answers 201
// with a fresh id, 500 when the body says "fail", and blocks while the body
// says "slow" until release is closed.
func server(t *testing.T, s idempotency.Store, runs *atomic.Int64, release chan struct{}) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := runs.Add(1)
		b, _ := io.ReadAll(r.Body)
		switch string(b) {
		case "fail":
			w.WriteHeader(http.StatusInternalServerError)
			return
		case "slow":
			<-release
		case "secret":
			w.Header().Set("Cache-Control", "no-store")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", fmt.Sprintf("/things/%d", n))
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%d}`, n)
	})
	tokens := testkit.Tokens{
		"a": {Subject: "11111111-1111-1111-1111-111111111111", Role: authn.RolePatient},
		"b": {Subject: "22222222-2222-2222-2222-222222222222", Role: authn.RolePatient},
	}
	// A unique service name per test keeps Redis keys of runs apart.
	svc := "test-" + rand.Text()
	wrapped := httpapi.Wrap(h, httpapi.Options{Service: svc, Verifier: tokens, Idempotency: s})
	srv := httptest.NewServer(wrapped)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, token, key, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/things", strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set(idempotency.Header, key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func TestMiddleware(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			s := v.open(t)
			var runs atomic.Int64
			release := make(chan struct{})
			srv := server(t, s, &runs, release)

			first, body1 := post(t, srv.URL, "a", "k1", "x")
			again, body2 := post(t, srv.URL, "a", "k1", "x")
			if first.StatusCode != 201 || again.StatusCode != 201 || body1 != body2 || runs.Load() != 1 {
				t.Fatalf("replay: %d %q / %d %q, runs %d", first.StatusCode, body1, again.StatusCode, body2, runs.Load())
			}
			if again.Header.Get("Idempotent-Replayed") != "true" || again.Header.Get("Location") != first.Header.Get("Location") {
				t.Fatalf("replayed headers: %v", again.Header)
			}

			if res, b := post(t, srv.URL, "a", "k1", "y"); res.StatusCode != 422 || !strings.Contains(b, "Idempotency-Key") {
				t.Fatalf("same key, other body: %d %s", res.StatusCode, b)
			}
			// Another caller's identical key is another request.
			if res, _ := post(t, srv.URL, "b", "k1", "x"); res.StatusCode != 201 || runs.Load() != 2 {
				t.Fatalf("other caller: %d runs %d", res.StatusCode, runs.Load())
			}
			// Without a key nothing is deduplicated.
			post(t, srv.URL, "a", "", "x")
			post(t, srv.URL, "a", "", "x")
			if runs.Load() != 4 {
				t.Fatalf("no key: runs %d", runs.Load())
			}
			// A failed request frees its key.
			if res, _ := post(t, srv.URL, "a", "k2", "fail"); res.StatusCode != 500 {
				t.Fatalf("fail: %d", res.StatusCode)
			}
			if res, _ := post(t, srv.URL, "a", "k2", "fail"); res.StatusCode != 500 || runs.Load() != 6 {
				t.Fatalf("retry after failure: %d runs %d", res.StatusCode, runs.Load())
			}
			if res, b := post(t, srv.URL, "a", "bad key with spaces", "x"); res.StatusCode != 422 {
				t.Fatalf("bad key: %d %s", res.StatusCode, b)
			}
			// An answer marked no-store carries a secret: it is not kept,
			// so a retry runs again instead of replaying it.
			_, s1 := post(t, srv.URL, "a", "k4", "secret")
			_, s2 := post(t, srv.URL, "a", "k4", "secret")
			if s1 == s2 || runs.Load() != 8 {
				t.Fatalf("no-store answer replayed: %s %s runs %d", s1, s2, runs.Load())
			}

			// A retry while the first is in flight is told to wait.
			done := make(chan struct{})
			go func() {
				defer close(done)
				post(t, srv.URL, "a", "k3", "slow")
			}()
			deadline := time.Now().Add(5 * time.Second)
			for runs.Load() != 9 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			res, _ := post(t, srv.URL, "a", "k3", "slow")
			close(release)
			<-done
			if res.StatusCode != 409 || res.Header.Get("Retry-After") == "" {
				t.Fatalf("in flight: %d %v", res.StatusCode, res.Header)
			}
		})
	}
}

func TestMemoryExpires(t *testing.T) {
	m := idempotency.NewMemory()
	now := time.Now()
	m.SetClock(func() time.Time { return now })
	ctx := context.Background()
	if _, ok, _ := m.Reserve(ctx, "k", idempotency.Record{}); !ok {
		t.Fatal("first reserve refused")
	}
	if _, ok, _ := m.Reserve(ctx, "k", idempotency.Record{}); ok {
		t.Fatal("second reserve accepted before expiry")
	}
	now = now.Add(idempotency.InFlightTTL + time.Millisecond)
	if _, ok, _ := m.Reserve(ctx, "k", idempotency.Record{}); !ok {
		t.Fatal("reserve after expiry refused")
	}
}

// A run whose reservation was released and taken by another run can
// neither complete nor release the key any more, on every store: its
// answer is not the key's, and dropping the key would let a third run
// repeat the work.
func TestOnlyTheReservingRunEndsItsKey(t *testing.T) {
	for _, v := range variants() {
		t.Run(v.name, func(t *testing.T) {
			s := v.open(t)
			ctx := context.Background()
			key := "fence-" + uuid.NewString()
			if _, ok, err := s.Reserve(ctx, key, idempotency.Record{Fingerprint: "f", Token: "first"}); err != nil || !ok {
				t.Fatalf("reserve: %v %v", ok, err)
			}
			if err := s.Release(ctx, key, "first"); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := s.Reserve(ctx, key, idempotency.Record{Fingerprint: "f", Token: "second"}); err != nil || !ok {
				t.Fatalf("reserve after release: %v %v", ok, err)
			}
			if err := s.Complete(ctx, key, idempotency.Record{Fingerprint: "f", Token: "first", Done: true, Status: 201}); err == nil {
				t.Error("the first run completed a key the second holds")
			}
			if err := s.Release(ctx, key, "first"); err != nil {
				t.Fatal(err)
			}
			prev, ok, err := s.Reserve(ctx, key, idempotency.Record{Fingerprint: "f", Token: "third"})
			if err != nil || ok || prev.Done {
				t.Fatalf("after the first run's release and completion: reserved %v, holder %+v, %v", ok, prev, err)
			}
			if err := s.Complete(ctx, key, idempotency.Record{Fingerprint: "f", Token: "second", Done: true, Status: 201}); err != nil {
				t.Fatalf("the holder's completion: %v", err)
			}
		})
	}
}
