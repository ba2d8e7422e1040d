package app

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

// series counts the series in reg, one per label set of each family.
func series(t *testing.T, reg *prometheus.Registry) int {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		n += len(f.GetMetric())
	}
	return n
}

// scrape GETs url from the operations listener within a bound: a
// listener that is bound but not served would hold the request forever.
func scrape(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// sentToken is the shape of the made-up methods and path segments.
var sentToken = regexp.MustCompile(`Z[0-9]{9}`)

// Made-up methods and paths, anonymous, add a bounded number of series
// (the review grew RSS from 60 to 149 MB with 20,000 made-up methods),
// and no label carries what the client sent. /metrics is served on the
// operations listener only.
func TestAnonymousRequestsAddBoundedSeries(t *testing.T) {
	prev := slog.Default() // the middleware logs there: 20,000 access log lines
	slog.SetDefault(quiet)
	t.Cleanup(func() { slog.SetDefault(prev) })
	for _, target := range []string{All, "auth"} {
		t.Run(target, func(t *testing.T) {
			a := start(t, testConfig(t, authAlone(t, nil)), target)
			if code, body := get(t, a.base+"/metrics"); code != http.StatusNotFound || strings.Contains(body, "http_request_duration_seconds") {
				t.Fatalf("the public port serves /metrics: %d %.200s", code, body)
			}

			seed := rand.Uint64()
			rnd := rand.New(rand.NewPCG(seed, seed))
			token := func() string { return fmt.Sprintf("Z%09d", rnd.IntN(1e9)) }
			shapes := []string{"/api/v1/cases/%s", "/api/v1/patients/%s/access-log", "/api/v1/auth/%s", "/api/%s", "/%s", "/api/v1/%s/%s"}
			before := series(t, a.metrics.Registry)
			const n = 10_000
			for i := range n {
				method := token()
				if i%3 == 0 {
					method = []string{http.MethodGet, http.MethodPost, http.MethodDelete}[rnd.IntN(3)]
				}
				path := fmt.Sprintf(shapes[rnd.IntN(len(shapes))], token(), token())
				path, _, _ = strings.Cut(path, "%!") // shapes with one verb drop the extra token
				a.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, path+"?q="+token(), nil))
			}
			after := series(t, a.metrics.Registry)
			t.Logf("%d requests (seed %d): %d → %d series", n, seed, before, after)
			if after-before > 100 {
				t.Errorf("%d made-up methods and paths added %d series", n, after-before)
			}
			families, _ := a.metrics.Registry.Gather()
			for _, f := range families {
				for _, m := range f.GetMetric() {
					for _, l := range m.GetLabel() {
						if sentToken.MatchString(l.GetValue()) {
							t.Fatalf("%s{%s=%q}: a label from the request", f.GetName(), l.GetName(), l.GetValue())
						}
					}
				}
			}

			code, body := scrape(t, a.ops+"/metrics")
			if code != http.StatusOK || !strings.Contains(body, `method="OTHER"`) {
				t.Fatalf("operations /metrics: %d %.300s", code, body)
			}
			if code, body := scrape(t, a.ops+"/api/ready"); code != http.StatusOK {
				t.Fatalf("operations /api/ready: %d %s", code, body)
			}
		})
	}
}

func TestMetricsAddr(t *testing.T) {
	for _, tc := range []struct {
		set     string
		targets int
		want    string
	}{
		{"", len(Names()), "127.0.0.1:9090"},
		{"", 2, "127.0.0.1:9090"},
		{"", 1, ":9090"},
		{"10.1.2.3:9100", 1, "10.1.2.3:9100"},
		{MetricsOff, 5, MetricsOff},
	} {
		cfg := testConfig(t, map[string]string{"METRICS_LISTEN": tc.set})
		if got := metricsAddr(cfg, tc.targets); got != tc.want {
			t.Errorf("METRICS_LISTEN=%q, %d targets: %q, want %q", tc.set, tc.targets, got, tc.want)
		}
	}
	if _, err := LoadConfig(env(map[string]string{"METRICS_LISTEN": "9090"})); err == nil || !strings.Contains(err.Error(), "METRICS_LISTEN") {
		t.Errorf("METRICS_LISTEN=9090: %v, want an error naming it", err)
	}
}

// Without a listener handed over, the operations listener binds
// METRICS_LISTEN, unless it is off; a test that hands over only the
// public listener binds none.
// Profiles are served on the operations listener only.
func TestProfilesOnTheOperationsListener(t *testing.T) {
	a := start(t, testConfig(t, nil), "patient-consent")
	for path, want := range map[string]int{"/debug/pprof/": 200, "/debug/pprof/heap?debug=1": 200, "/debug/pprof/profile?seconds=1": 200} {
		if code, _ := get(t, a.ops+path); code != want {
			t.Errorf("operations listener %s: %d, want %d", path, code, want)
		}
		if code, _ := get(t, a.base+path); code == http.StatusOK {
			t.Errorf("the public port serves %s", path)
		}
	}
}

func TestListenOps(t *testing.T) {
	taken := testkit.Listen(t).Addr().String()
	for _, tc := range []struct {
		name    string
		set     string
		opts    Options
		wantErr bool
	}{
		{"binds METRICS_LISTEN", taken, Options{}, true},
		{"off", MetricsOff, Options{}, false},
		{"public listener handed over", taken, Options{Listener: testkit.Listen(t)}, false},
	} {
		a := &App{cfg: testConfig(t, map[string]string{"METRICS_LISTEN": tc.set}), opts: tc.opts}
		err := a.listenOps(1)
		if tc.wantErr != (err != nil) || a.ops != nil {
			t.Errorf("%s: %v, operations listener %v", tc.name, err, a.ops)
		}
		if err != nil && !strings.Contains(err.Error(), "METRICS_LISTEN") {
			t.Errorf("%s: %v does not name METRICS_LISTEN", tc.name, err)
		}
	}
}
