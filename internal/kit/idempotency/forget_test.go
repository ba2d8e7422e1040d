package idempotency_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/idempotency"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// forgetter is a store the erasure suite runs on: forget is how a service
// keeping its records there forgets ids, and keys lists the records left.
type forgetter struct {
	name  string
	open  func(t *testing.T, service string) (idempotency.Store, func(ids ...string) error, func() []string)
	redis bool
}

func forgetters() []forgetter {
	var out []forgetter
	for _, e := range []sqldb.Engine{sqldb.SQLite, sqldb.Postgres} {
		out = append(out, forgetter{name: string(e), open: func(t *testing.T, _ string) (idempotency.Store, func(...string) error, func() []string) {
			db := migrated(t, e)
			forget := func(ids ...string) error {
				return db.InTx(t.Context(), func(tx *sql.Tx) error {
					return idempotency.ForgetSQL(t.Context(), tx, db.Engine, ids...)
				})
			}
			keys := func() []string {
				rows, err := db.QueryContext(t.Context(), `SELECT key FROM idempotency_keys`)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var out []string
				for rows.Next() {
					var k string
					if err := rows.Scan(&k); err != nil {
						t.Fatal(err)
					}
					out = append(out, k)
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				return out
			}
			return idempotency.NewSQL(db), forget, keys
		}})
	}
	out = append(out, forgetter{name: "redis", redis: true, open: func(t *testing.T, service string) (idempotency.Store, func(...string) error, func() []string) {
		c := redisClient(t)
		s := idempotency.NewRedis(c)
		forget := func(ids ...string) error { return s.Forget(t.Context(), service, ids...) }
		// Every service's keys of this test: their names are unique.
		keys := func() []string {
			var out []string
			iter := c.Scan(t.Context(), 0, "idem:"+service+"*", 500).Iterator()
			for iter.Next(t.Context()) {
				out = append(out, iter.Val())
			}
			if err := iter.Err(); err != nil {
				t.Fatal(err)
			}
			return out
		}
		t.Cleanup(func() {
			ctx := context.Background()
			iter := c.Scan(ctx, 0, "idem:"+service+"*", 500).Iterator()
			for iter.Next(ctx) {
				c.Del(ctx, iter.Val())
			}
		})
		return s, forget, keys
	}})
	return out
}

func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(testkit.Env(t, "TEST_REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// scoped is the key the middleware of service stores a caller's request
// under.
func scoped(service string, role authn.Role, subject, key string) string {
	return strings.Join([]string{"idem", service, string(role), subject, key}, ":")
}

// record stores a record under key: done with body as its answer, or
// still pending when body is nil.
func record(t *testing.T, s idempotency.Store, key string, body []byte) {
	t.Helper()
	token := rand.Text()
	if _, ok, err := s.Reserve(t.Context(), key, idempotency.Record{Fingerprint: "f", Token: token}); !ok || err != nil {
		t.Fatalf("reserve %s: %v %v", key, ok, err)
	}
	if body == nil {
		return
	}
	rec := idempotency.Record{Fingerprint: "f", Token: token, Done: true, Status: 201,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
	if err := s.Complete(t.Context(), key, rec); err != nil {
		t.Fatalf("complete %s: %v", key, err)
	}
}

// Forgetting a person deletes the records of the calls they made and
// those whose answer names them, and nothing else: not another's whose
// id overlaps theirs, not everything when an id holds LIKE wildcards, not
// another service's.
func TestForget(t *testing.T) {
	for _, f := range forgetters() {
		t.Run(f.name, func(t *testing.T) {
			svc := "forget-" + strings.ToLower(rand.Text())
			s, forget, keys := f.open(t, svc)
			id := uuid.NewString()
			other := uuid.NewString()
			third := uuid.NewString()
			underscored := strings.ReplaceAll(id, "-", "_") // LIKE's '_' matches the '-'
			patient, professional := authn.RolePatient, authn.Role("professional")
			type rec struct {
				key  string
				body []byte // nil: pending
				gone bool   // forgotten with id (and third)
			}
			recs := []rec{
				{scoped(svc, patient, id, "k1"), []byte(`{"ok":true}`), true},
				{scoped(svc, patient, id, "pending"), nil, true},
				{scoped(svc, professional, id, "k2"), []byte(`{}`), true},
				{scoped(svc, professional, other, "about"), []byte(`{"patient":"` + id + `","note":"x"}`), true},
				{scoped(svc, "", "", "registration"), []byte(`{"id":"` + id + `"}`), true},
				{scoped(svc, patient, third, "k"), []byte(`{}`), true},
				{scoped(svc, patient, other, "k1"), []byte(`{"ok":true}`), false},
				{scoped(svc, patient, other, "pending"), nil, false},
				{scoped(svc, professional, other, "k3"), []byte(`{"patient":"` + other + `"}`), false},
				// Ids overlapping the forgotten one are other people's.
				{scoped(svc, patient, id[:len(id)-1], "prefix"), []byte(`{"id":"` + id[:len(id)-1] + `"}`), false},
				{scoped(svc, patient, id[1:], "suffix"), []byte(`{"id":"` + id[1:] + `"}`), false},
				{scoped(svc, patient, id+"0", "longer"), []byte(`{}`), false},
				{scoped(svc, patient, "0"+id, "longer"), []byte(`{}`), false},
				{scoped(svc, patient, underscored, "k"), []byte(`{}`), false},
				{scoped(svc, patient, "%", "k"), []byte(`{"pct":"100%"}`), false},
				{scoped(svc, patient, "_", "k"), []byte(`{"a_b":1}`), false},
			}
			if f.redis {
				// Another service's records, even those of id, are its own
				// to forget, including one whose name begins with svc's.
				recs = append(recs,
					rec{scoped(svc+"x", patient, id, "k1"), []byte(`{"id":"` + id + `"}`), false},
					rec{scoped(svc+"x", patient, other, "k1"), []byte(`{"id":"` + id + `"}`), false},
				)
			}
			for _, r := range recs {
				record(t, s, r.key, r.body)
			}
			var all []string
			for _, r := range recs {
				all = append(all, r.key)
			}
			expect := func(t *testing.T, want []string) {
				t.Helper()
				got := keys()
				slices.Sort(got)
				want = slices.Sorted(slices.Values(want))
				if !slices.Equal(got, want) {
					t.Fatalf("records left:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
			expect(t, all)

			// No ids, or an empty one, forget nothing.
			if err := forget(); err != nil {
				t.Fatal(err)
			}
			if err := forget(""); err != nil {
				t.Fatal(err)
			}
			expect(t, all)

			// The escape character is escaped too: "!%" is not "%".
			if err := forget("!%", "!_", "!"); err != nil {
				t.Fatal(err)
			}
			expect(t, all)

			// LIKE wildcards are matched as themselves: "%" and "_" forget
			// only records that hold them, and an id spelt with '_' for
			// '-' is not id.
			if err := forget("%", "_", "%%", underscored); err != nil {
				t.Fatal(err)
			}
			var left []string
			for _, r := range recs {
				if !strings.Contains(r.key, ":%:") && !strings.Contains(r.key, ":_:") && !strings.Contains(r.key, ":"+underscored+":") &&
					!strings.ContainsAny(string(r.body), "%_") {
					left = append(left, r.key)
				}
			}
			if !slices.Contains(left, recs[0].key) {
				t.Fatal("test setup: the records of id must survive the wildcards")
			}
			expect(t, left)

			if err := forget(id, third); err != nil {
				t.Fatal(err)
			}
			var survivors []string
			for _, r := range recs {
				if !r.gone && slices.Contains(left, r.key) {
					survivors = append(survivors, r.key)
				}
			}
			expect(t, survivors)
			// Forgetting is idempotent itself.
			if err := forget(id, third); err != nil {
				t.Fatal(err)
			}
			expect(t, survivors)
		})
	}
}

// Through the middleware, as a service sees it: after a person is
// forgotten, neither their own keyed requests nor those whose answer
// named them are replayed; the others' still are.
func TestForgetThroughMiddleware(t *testing.T) {
	for _, f := range forgetters() {
		t.Run(f.name, func(t *testing.T) {
			svc := "forget-" + strings.ToLower(rand.Text())
			s, forget, _ := f.open(t, svc)
			id, other := uuid.NewString(), uuid.NewString()
			var runs atomic.Int64
			// The handler answers with what it was sent and a run number.
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				fmt.Fprintf(w, `{"run":%d,"sent":%q}`, runs.Add(1), b)
			})
			tokens := testkit.Tokens{
				"forgotten": {Subject: id, Role: authn.RolePatient},
				"other":     {Subject: other, Role: authn.RolePatient},
			}
			srv := httptest.NewServer(httpapi.Wrap(h, httpapi.Options{Service: svc, Verifier: tokens, Idempotency: s}))
			t.Cleanup(srv.Close)

			calls := []struct {
				token, key, body string
				forgotten        bool
			}{
				{"forgotten", "k1", "mine", true},
				{"other", "k1", "about " + id, true},
				{"other", "k2", "about " + other, false},
			}
			first := make([]string, len(calls))
			for i, c := range calls {
				_, first[i] = post(t, srv.URL, c.token, c.key, c.body)
				if _, again := post(t, srv.URL, c.token, c.key, c.body); again != first[i] {
					t.Fatalf("call %d not replayed: %s then %s", i, first[i], again)
				}
			}
			if err := forget(id); err != nil {
				t.Fatal(err)
			}
			for i, c := range calls {
				_, again := post(t, srv.URL, c.token, c.key, c.body)
				if replayed := again == first[i]; replayed == c.forgotten {
					t.Errorf("call %d (%s %s): replayed %v after forgetting: %s then %s", i, c.token, c.key, replayed, first[i], again)
				}
			}
		})
	}
}
