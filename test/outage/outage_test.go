// Package outage holds the platform to its promise when its database
// fails: with PostgreSQL stopped or hung, authenticated requests and
// logins are answered 503 with Retry-After within seconds — never 401
// (a client would log its user out), 500, or a hang — and the platform
// serves again by itself once the database is back.
package outage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/app"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/test/journey"
)

// bound is the longest an answer may take while the database is down:
// DATABASE_STATEMENT_TIMEOUT (1 s here) plus the client's second, for
// the first failing call, with room for a loaded machine.
const bound = 5 * time.Second

func TestDatabaseOutage(t *testing.T) {
	pg := startPostgres(t)
	// The middleware logs every dependency failure to the default logger:
	// kept, and shown when the test fails.
	logs := &testkit.Buffer{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(logs, nil)))
	t.Cleanup(func() {
		slog.SetDefault(prev)
		if t.Failed() {
			t.Logf("platform log:\n%s", logs.String())
		}
	})

	env := map[string]string{
		"DATA_DIR": t.TempDir(), "DATABASE_URL": pg.URL(), "AUTH_BCRYPT_COST": "4",
		"DATABASE_STATEMENT_TIMEOUT": "1s",
	}
	cfg, err := app.LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), cfg, []string{app.All}, app.Options{Listener: testkit.Listen(t), Log: slog.Default()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		<-done
	})
	base := "http://" + a.Addr().String()
	ada := journey.Platform{Base: base}.RegisterPatient(t)
	c := client{base: base, ada: ada}
	c.serves(t, "at first")

	// (a) The server is stopped at once, under traffic, and stays down.
	load := c.traffic(4)
	time.Sleep(300 * time.Millisecond)
	pg.stop(t)
	down := time.Now()
	time.Sleep(3 * time.Second)
	load.check(t, "stopped", down, time.Now())

	// (b) Back again: the platform serves without a restart.
	pg.start(t)
	c.recovers(t, "after the restart")

	// (c) The server hangs (SIGSTOP): answers come within the bound, not
	// after the gateway's 30 s.
	load = c.traffic(4)
	time.Sleep(300 * time.Millisecond)
	pg.freeze(t)
	frozen := time.Now()
	// A hung call takes up to two statement timeouts (the session's read
	// and its touch): long enough for each worker to send a few.
	time.Sleep(7 * time.Second)
	load.check(t, "hung", frozen, time.Now())
	pg.thaw(t)
	c.recovers(t, "after SIGCONT")
}

// client is a patient's traffic through the gateway.
type client struct {
	base string
	ada  journey.Account
}

// answer is what one request got, and when.
type answer struct {
	what                string // "read" or "login"
	start, end          time.Time
	status              int
	retryAfter, problem bool
	err                 error
	body                string
}

var httpClient = &http.Client{Timeout: 40 * time.Second} // longer than the gateway's 30 s: a hang shows

func (c client) do(what string) answer {
	var req *http.Request
	if what == "read" {
		req, _ = http.NewRequest(http.MethodGet, c.base+"/api/v1/patients/me", nil)
		req.Header.Set("Authorization", "Bearer "+c.ada.Token)
	} else {
		b, _ := json.Marshal(map[string]string{"email": c.ada.Email, "password": c.ada.Password})
		req, _ = http.NewRequest(http.MethodPost, c.base+"/api/v1/auth/login", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
	}
	a := answer{what: what, start: time.Now()}
	res, err := httpClient.Do(req)
	a.end = time.Now()
	if err != nil {
		a.err = err
		return a
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 2000))
	a.status, a.body = res.StatusCode, string(body)
	a.retryAfter = res.Header.Get("Retry-After") != ""
	a.problem = res.Header.Get("Content-Type") == "application/problem+json"
	return a
}

// serves checks that reads and logins succeed.
func (c client) serves(t *testing.T, when string) {
	t.Helper()
	for _, what := range []string{"read", "login", "read", "read", "login", "read"} {
		if a := c.do(what); a.err != nil || a.status != http.StatusOK {
			t.Fatalf("%s %s: %d %v %s", when, what, a.status, a.err, a.body)
		}
	}
}

// recovers waits until reads and logins succeed again, then checks that
// they keep succeeding.
func (c client) recovers(t *testing.T, when string) {
	t.Helper()
	start := time.Now()
	for {
		r, l := c.do("read"), c.do("login")
		if r.status == http.StatusOK && l.status == http.StatusOK {
			break
		}
		for _, a := range []answer{r, l} {
			if a.err != nil || (a.status != http.StatusOK && a.status != http.StatusServiceUnavailable) {
				t.Fatalf("%s, while recovering, %s: %d %v %s", when, a.what, a.status, a.err, a.body)
			}
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("%s: not serving after 20 s: read %d, login %d %s", when, r.status, l.status, l.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%s: serving again after %v", when, time.Since(start).Round(10*time.Millisecond))
	c.serves(t, when)
}

// load is traffic running until check stops it.
type load struct {
	stop    context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	answers []answer
}

// traffic starts workers, each reading and logging in by turns.
func (c client) traffic(workers int) *load {
	ctx, stop := context.WithCancel(context.Background())
	l := &load{stop: stop}
	for i := range workers {
		l.wg.Go(func() {
			for n := i; ctx.Err() == nil; n++ {
				what := "read"
				if n%2 == 1 {
					what = "login"
				}
				a := c.do(what)
				l.mu.Lock()
				l.answers = append(l.answers, a)
				l.mu.Unlock()
			}
		})
	}
	return l
}

// check stops the traffic and holds its answers to the promise: a request
// sent while the database was down (from faulted to restored) got 503
// with Retry-After as problem+json, within bound; none at all got
// anything but 200 or that 503.
func (l *load) check(t *testing.T, phase string, faulted, restored time.Time) {
	t.Helper()
	l.stop()
	l.wg.Wait()
	var during, unavailable, reads, logins int
	var slowest time.Duration
	for _, a := range l.answers {
		took := a.end.Sub(a.start)
		desc := fmt.Sprintf("%s: %s sent %v after the fault, answered after %v: %d %v %s",
			phase, a.what, a.start.Sub(faulted).Round(time.Millisecond), took.Round(time.Millisecond), a.status, a.err, strings.TrimSpace(a.body))
		switch {
		case a.err != nil:
			t.Errorf("%s", desc)
			continue
		case a.status != http.StatusOK && a.status != http.StatusServiceUnavailable:
			t.Errorf("%s", desc)
			continue
		case a.status == http.StatusServiceUnavailable && (!a.retryAfter || !a.problem):
			t.Errorf("503 without Retry-After or problem+json: %s", desc)
		}
		if took > bound {
			t.Errorf("slower than %v: %s", bound, desc)
		}
		if a.status == http.StatusServiceUnavailable {
			unavailable++
		}
		if a.start.After(faulted) && a.end.Before(restored) {
			during++
			slowest = max(slowest, took)
			if a.status != http.StatusServiceUnavailable {
				t.Errorf("%s", desc)
			}
			if a.what == "read" {
				reads++
			} else {
				logins++
			}
		}
	}
	t.Logf("%s: %d answers, %d sent while down (%d reads, %d logins), %d answered 503; slowest while down %v",
		phase, len(l.answers), during, reads, logins, unavailable, slowest.Round(time.Millisecond))
	if reads == 0 || logins == 0 {
		t.Errorf("%s: no read or no login was sent and answered while the database was down", phase)
	}
}
