package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

func TestBodyLimit(t *testing.T) {
	ups := map[string]func(t *testing.T) Upstream{
		"in-process": func(t *testing.T) Upstream { return inProcess(t, patientIdentity, echo(patientIdentity), nil) },
		"network":    func(t *testing.T) Upstream { return remote(patientIdentity, serve(t, echo(patientIdentity))) },
	}
	for name, up := range ups {
		t.Run(name, func(t *testing.T) {
			url, _ := front(t, Config{MaxBody: 64}, up(t))
			// At the limit it passes.
			res := do(t, http.MethodPost, url+"/api/v1/patients", strings.NewReader(strings.Repeat("a", 64)), nil)
			if got := decode[seen](t, res); len(got.Body) != 64 {
				t.Fatalf("body of %d bytes arrived as %d", 64, len(got.Body))
			}
			// Declared over the limit: refused before forwarding.
			problemOf(t, do(t, http.MethodPost, url+"/api/v1/patients", strings.NewReader(strings.Repeat("a", 65)), nil),
				http.StatusRequestEntityTooLarge)
			// Streamed without a length: cut at the limit while forwarding.
			chunked := io.MultiReader(strings.NewReader(strings.Repeat("a", 40)), strings.NewReader(strings.Repeat("b", 40)))
			problemOf(t, do(t, http.MethodPost, url+"/api/v1/patients", chunked, nil), http.StatusRequestEntityTooLarge)
		})
	}
}

func TestUpstreamTimeoutIs504(t *testing.T) {
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	})
	url, _ := front(t, Config{Timeout: 50 * time.Millisecond}, remote(patientIdentity, serve(t, slow)))
	problemOf(t, do(t, http.MethodGet, url+"/api/v1/patients/p1", nil, nil), http.StatusGatewayTimeout)
}

func TestUnreachableUpstreamIs503(t *testing.T) {
	ln := testkit.Listen(t)
	closedURL := "http://" + ln.Addr().String()
	ln.Close()
	stopped := rpc.NewInProcess(echo(caseManagement))
	stopped.Close()
	url, _ := front(t, Config{},
		remote(patientIdentity, closedURL),
		Upstream{Target: caseManagement, URL: rpc.BaseURL, HTTP: stopped.Client(), Spec: fixtureSpec(caseManagement)})
	for _, path := range []string{"/api/v1/patients/p1", "/api/v1/cases/c1"} {
		res := do(t, http.MethodGet, url+path, nil, nil)
		problemOf(t, res, http.StatusServiceUnavailable)
		if res.Header.Get("Retry-After") == "" {
			t.Fatalf("%s: no Retry-After", path)
		}
	}
}

// hijack answers by closing the connection, after writing raw.
func hijack(raw string, hits *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		_, _ = buf.WriteString(raw)
		_ = buf.Flush()
		conn.Close()
	})
}

func TestBrokenUpstreamIs502(t *testing.T) {
	var hits atomic.Int32
	for name, raw := range map[string]string{"closed": "", "malformed": "HTTP/1.1 two hundred\r\n\r\n"} {
		t.Run(name, func(t *testing.T) {
			url, _ := front(t, Config{}, remote(patientIdentity, serve(t, hijack(raw, &hits))))
			problemOf(t, do(t, http.MethodPost, url+"/api/v1/patients", strings.NewReader("{}"), nil), http.StatusBadGateway)
		})
	}
}

func TestCircuitOpensOnTransportFailuresOnly(t *testing.T) {
	var hits atomic.Int32
	url, _ := front(t, Config{}, remote(patientIdentity, serve(t, hijack("", &hits))))
	for range breakerFailures {
		problemOf(t, do(t, http.MethodPost, url+"/api/v1/patients", strings.NewReader("{}"), nil), http.StatusBadGateway)
	}
	res := do(t, http.MethodPost, url+"/api/v1/patients", strings.NewReader("{}"), nil)
	problemOf(t, res, http.StatusServiceUnavailable)
	if res.Header.Get("Retry-After") != "10" {
		t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	if hits.Load() != breakerFailures {
		t.Fatalf("upstream called %d times, want %d: an open circuit must not call it", hits.Load(), breakerFailures)
	}

	var answered atomic.Int32
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answered.Add(1)
		http.NotFound(w, r)
	})
	url, _ = front(t, Config{}, remote(patientIdentity, serve(t, notFound)))
	for range 2 * breakerFailures {
		if res := do(t, http.MethodGet, url+"/api/v1/patients/p1", nil, nil); res.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d: a 4xx answer must pass through and never open the circuit", res.StatusCode)
		}
	}
	if answered.Load() != 2*breakerFailures {
		t.Fatalf("upstream answered %d times", answered.Load())
	}
}

// flakyDial refuses its first connection, then dials for real.
func flakyDial(dials *atomic.Int32) *http.Client {
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dials.Add(1) == 1 {
				return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
			}
			return d.DialContext(ctx, network, addr)
		},
	}}
}

func TestRetryOnceOnlyForIdempotentMethods(t *testing.T) {
	upURL := serve(t, echo(patientIdentity))

	var getDials atomic.Int32
	url, _ := front(t, Config{}, Upstream{Target: patientIdentity, URL: upURL, HTTP: flakyDial(&getDials), Spec: fixtureSpec(patientIdentity)})
	if res := do(t, http.MethodGet, url+"/api/v1/patients/p1", nil, nil); res.StatusCode != http.StatusOK {
		t.Fatalf("GET after one refused connection: status %d, want 200 from the retry", res.StatusCode)
	}
	if getDials.Load() != 2 {
		t.Fatalf("GET dialled %d times", getDials.Load())
	}

	var postDials atomic.Int32
	url, _ = front(t, Config{}, Upstream{Target: patientIdentity, URL: upURL, HTTP: flakyDial(&postDials), Spec: fixtureSpec(patientIdentity)})
	problemOf(t, do(t, http.MethodPost, url+"/api/v1/patients", strings.NewReader("{}"), nil), http.StatusServiceUnavailable)
	if postDials.Load() != 1 {
		t.Fatalf("POST dialled %d times: a non-idempotent request is never retried", postDials.Load())
	}
}

func TestConnFailedClassification(t *testing.T) {
	cases := map[error]bool{
		&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}: true,
		fmt.Errorf("dial: %w", rpc.ErrServerClosed):         true,
		&net.DNSError{Err: "no such host", Name: "x"}:       true,
		io.ErrUnexpectedEOF:                                 false,
	}
	for err, want := range cases {
		if got := connFailed(err); got != want {
			t.Errorf("connFailed(%v) = %v", err, got)
		}
	}
}

// A caller hanging up is nobody's failure: the gateway answers 499 for the
// record and the upstream's circuit stays closed.
func TestCallerHangUpIsNotAnUpstreamFailure(t *testing.T) {
	arrived := make(chan struct{}, 10)
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	})
	g, err := New(Config{}, []Upstream{remote(patientIdentity, serve(t, slow))})
	if err != nil {
		t.Fatal(err)
	}
	for range 8 { // more than the breaker tolerates
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/patients/0190a0a0-0000-7000-8000-000000000000", nil)
		rec := httptest.NewRecorder()
		go func() { <-arrived; cancel() }()
		g.Handler().ServeHTTP(rec, req)
		if rec.Code != 499 {
			t.Fatalf("status %d, want 499", rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	go func() { <-arrived }()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	g.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/patients/0190a0a0-0000-7000-8000-000000000000", nil))
	if rec.Code == http.StatusServiceUnavailable {
		t.Fatal("the circuit opened on callers hanging up")
	}
}
