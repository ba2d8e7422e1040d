package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/secondopinion/platform/internal/kit/httpapi"
)

// MetricsOff is the METRICS_LISTEN value that opens no operations
// listener: for processes nobody scrapes, such as several single targets
// on one host (bench/run.sh).
const MetricsOff = "off"

// metricsAddr is where the operations listener binds: METRICS_LISTEN, or
// by default
//   - 127.0.0.1:9090 for several targets (all): the embedded mode, often on
//     a host that faces the network itself, scraped by an agent beside it;
//   - :9090 for a single target: one Kubernetes Deployment per service
//     (ADR 0003), where Prometheus scrapes the pod's IP, which loopback
//     would hide; the Service and ingress in front of the pod expose only
//     the public port, so the public never reaches this one.
func metricsAddr(cfg Config, targets int) string {
	switch {
	case cfg.MetricsListen != "":
		return cfg.MetricsListen
	case targets == 1:
		return ":9090"
	default:
		return "127.0.0.1:9090"
	}
}

// opsServer is the operations listener: /metrics, which the public port
// does not serve, and the probes again, for an agent that reaches only
// this address. The plan's probes stay on the public port, where they
// prove that the port taking traffic serves.
type opsServer struct {
	server *http.Server
	ln     net.Listener
}

// listenOps binds the operations listener. Call it once the targets are
// built: the probes check them.
func (a *App) listenOps(targets int) error {
	ln := a.opts.MetricsListener
	if ln == nil {
		addr := metricsAddr(a.cfg, targets)
		// A test that hands over its public listener gets an operations
		// listener only by handing one over too: otherwise tests running
		// side by side would contend for the default port.
		if addr == MetricsOff || a.opts.Listener != nil {
			return nil
		}
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("listen on %s (METRICS_LISTEN): %w", addr, err)
		}
	}
	mux := http.NewServeMux()
	httpapi.Ops(mux, a.metrics.Registry, a.checks())
	// Profiles, for the next performance question: here, never on the
	// public port. A CPU profile is asked for within the write timeout:
	// go tool pprof 'http://127.0.0.1:9090/debug/pprof/profile?seconds=20'.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	// A scrape is a small GET answered within Prometheus' scrape timeout
	// (10 s by default); the scraper keeps its connection between scrapes.
	a.ops = &opsServer{ln: ln, server: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}}
	return nil
}

// serve serves the operations listener until close; a failure ends Run
// as the public server's does.
func (o *opsServer) serve(log *slog.Logger, failed chan<- error) {
	if o == nil {
		return
	}
	go func() {
		if err := o.server.Serve(o.ln); !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("serve operations: %w", err)
		}
	}()
	log.Info("operations listening", "addr", o.ln.Addr().String())
}

// close stops the operations listener. Run closes it only once the
// public server and the services have stopped, so that the metrics can be
// read while they drain.
func (o *opsServer) close() error {
	if o == nil {
		return nil
	}
	err := o.server.Close()
	if cerr := o.ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = errors.Join(err, fmt.Errorf("close operations listener: %w", cerr))
	}
	return err
}
