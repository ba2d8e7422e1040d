package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/auth"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func redisClient(t *testing.T) (*redis.Client, string) {
	opt, err := redis.ParseURL(testkit.Env(t, "TEST_REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c, "test-" + uuid.NewString() + ":"
}

func throttles(t *testing.T) map[string]auth.Throttle {
	out := map[string]auth.Throttle{"memory": auth.NewMemoryThrottle()}
	if os.Getenv("TEST_REDIS_URL") != "" || os.Getenv(testkit.RequireServicesEnv) == "1" {
		c, prefix := redisClient(t)
		out["redis"] = auth.NewRedisThrottle(c, prefix)
	}
	return out
}

func TestThrottle(t *testing.T) {
	ctx := context.Background()
	p := auth.Policy{Threshold: 5, Base: time.Minute, Max: 4 * time.Minute, Forget: time.Hour}
	for name, th := range throttles(t) {
		t.Run(name, func(t *testing.T) {
			for i := 1; i <= 4; i++ {
				if n, lock, err := th.Fail(ctx, "k", p, t0); err != nil || n != i || lock != 0 {
					t.Fatalf("failure %d: %d %v %v", i, n, lock, err)
				}
			}
			// Growing delays from the fifth failure, capped at Max.
			for _, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute} {
				if _, lock, _ := th.Fail(ctx, "k", p, t0); lock != want {
					t.Fatalf("lock %v, want %v", lock, want)
				}
			}
			if d, _ := th.Locked(ctx, "k", t0.Add(time.Minute)); d != 3*time.Minute {
				t.Fatalf("locked for %v", d)
			}
			if d, _ := th.Locked(ctx, "other", t0); d != 0 {
				t.Fatalf("another key is locked: %v", d)
			}
			if d, _ := th.Locked(ctx, "k", t0.Add(5*time.Minute)); d != 0 {
				t.Fatalf("still locked after the delay: %v", d)
			}
			if err := th.Clear(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			if n, _, _ := th.Fail(ctx, "k", p, t0); n != 1 {
				t.Fatalf("after Clear: %d failures", n)
			}
		})
	}
}

func TestRedisSessions(t *testing.T) {
	ctx := context.Background()
	c, prefix := redisClient(t)
	s := auth.NewRedisSessions(c, prefix)
	if err := s.Start(ctx, auth.Session{ID: "s1", UserID: "u1", Role: authn.RolePatient, LastSeen: t0}); err != nil {
		t.Fatal(err)
	}
	se, err := s.Touch(ctx, "s1", t0.Add(15*time.Minute))
	if err != nil || se.UserID != "u1" || se.Role != authn.RolePatient {
		t.Fatalf("touch: %+v %v", se, err)
	}
	if _, err := s.Touch(ctx, "s1", t0.Add(30*time.Minute+time.Millisecond)); !errors.Is(err, auth.ErrSessionEnded) {
		t.Fatalf("idle: %v", err)
	}
	if err := s.Start(ctx, auth.Session{ID: "s2", UserID: "u1", Role: authn.RolePatient, LastSeen: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.End(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Touch(ctx, "s2", t0); !errors.Is(err, auth.ErrSessionEnded) {
		t.Fatalf("ended: %v", err)
	}
}

// Without a Redis of its own, the service keeps sessions in the app's
// (REDIS_URL), and is not ready without it.
func TestSessionsInTheAppsRedis(t *testing.T) {
	c, prefix := redisClient(t)
	ctx := context.Background()
	db := testkit.OpenDB(t, sqldb.SQLite, auth.Name)
	if err := auth.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	svc, err := auth.New(auth.Config{BcryptCost: bcrypt.MinCost, RedisPrefix: prefix, Mailer: &sentBox{}},
		service.Deps{DB: db, Bus: inproc.New(), DataDir: t.TempDir(), Redis: c})
	if err != nil {
		t.Fatal(err)
	}
	if check := svc.Checks()["redis"]; check == nil || check(ctx) != nil {
		t.Fatal("no redis readiness check")
	}
	if _, err := svc.CreateAdmin(ctx, "root@example.org", password); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.Wrap(svc.Handler(), httpapi.Options{Service: auth.Name, Verifier: svc.Verifier()}))
	t.Cleanup(srv.Close)
	res, err := http.Post(srv.URL+"/api/v1/auth/login", "application/json",
		strings.NewReader(`{"email":"root@example.org","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	keys, err := c.Keys(ctx, prefix+"session:*").Result()
	if res.StatusCode != http.StatusOK || err != nil || len(keys) != 1 {
		t.Fatalf("login %d: sessions in redis %v %v", res.StatusCode, keys, err)
	}
	t.Cleanup(func() { c.Del(context.Background(), keys...) })
}
