package httpapi

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness check: nil means ready.
type Check func(ctx context.Context) error

// Ops mounts what the operations listener serves: the probes and
// GET /metrics. The metrics stay off the public port: they describe the
// platform to its operators, not to whoever reaches the API.
func Ops(mux *http.ServeMux, reg *prometheus.Registry, checks map[string]Check) {
	Probes(mux, checks)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
}

// Probes mounts the endpoints the plan's probes use: GET /api/health
// (liveness: the process serves) and GET /api/ready (readiness: every
// named check passes within 2 s).
func Probes(mux *http.ServeMux, checks map[string]Check) {
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, "application/json", http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /api/ready", func(w http.ResponseWriter, r *http.Request) {
		res, ok := runChecks(r.Context(), checks)
		status := http.StatusOK
		if !ok {
			status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "5")
		}
		writeJSON(w, "application/json", status, res)
	})
}

// Readiness is the body of /api/ready.
type Readiness struct {
	Status string            `json:"status"` // "ready" or "not ready"
	Checks map[string]string `json:"checks"` // name → "ok" or the failure
}

func runChecks(ctx context.Context, checks map[string]Check) (Readiness, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	names := make([]string, 0, len(checks))
	for n := range checks {
		names = append(names, n)
	}
	sort.Strings(names)
	res := Readiness{Status: "ready", Checks: make(map[string]string, len(checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := true
	for _, n := range names {
		wg.Go(func() {
			err := checks[n](ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				// Check errors name a dependency, never data.
				res.Checks[n], ok = err.Error(), false
				return
			}
			res.Checks[n] = "ok"
		})
	}
	wg.Wait()
	if !ok {
		res.Status = "not ready"
	}
	return res, ok
}
