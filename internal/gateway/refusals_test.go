package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

const cut = "<cut>"

func TestForwardedForKeepsTrustedHops(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		sent    []string
		want    string
	}{
		{"from a trusted proxy", loopback, []string{"198.51.100.4"}, "198.51.100.4, 127.0.0.1"},
		{"several hops over several lines", loopback, []string{"203.0.113.9, 198.51.100.4", "10.0.0.2"}, "203.0.113.9, 198.51.100.4, 10.0.0.2, 127.0.0.1"},
		{"a trusted peer that names nobody", loopback, nil, "127.0.0.1"},
		{"from an untrusted peer", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, []string{"198.51.100.4"}, "127.0.0.1"},
		{"nobody trusted", nil, []string{"198.51.100.4"}, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := front(t, Config{TrustedProxies: tc.trusted}, inProcess(t, patientIdentity, echo(patientIdentity), nil))
			req, err := http.NewRequest(http.MethodGet, url+"/api/v1/patients/p1", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tc.sent {
				req.Header.Add("X-Forwarded-For", v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if got := decode[seen](t, res).Header.Values("X-Forwarded-For"); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("upstream saw X-Forwarded-For %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHeaderSize(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/a?b", nil)
	r.Host = "h"
	r.Header = http.Header{"X": {"yy", "z"}}
	// :method GET, :path /a?b, :scheme https, :authority h twice (it goes
	// on as X-Forwarded-Host), then the fields, 32 bytes each on top.
	want := (7 + 3) + (5 + 4) + (7 + 5) + 2*(10+1) + 5*32 + (1 + 2 + 32) + (1 + 1 + 32)
	if got := headerSize(r); got != want {
		t.Fatalf("headerSize %d, want %d", got, want)
	}
}

func TestHeaderLimit(t *testing.T) {
	var hits atomic.Int32
	counting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		echo(patientIdentity).ServeHTTP(w, r)
	})
	g, err := New(Config{MaxHeaderBytes: 4096}, []Upstream{inProcess(t, patientIdentity, counting, nil)})
	if err != nil {
		t.Fatal(err)
	}
	at := func(mutate func(r *http.Request)) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/patients/p1", nil)
		mutate(r)
		return r
	}
	serveOne := func(r *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		g.Handler().ServeHTTP(rec, r)
		return rec
	}

	// Right at the limit it passes; one byte over, it is refused.
	fill := func(n int) func(r *http.Request) {
		return func(r *http.Request) {
			r.Header.Set("X-Fill", "")
			r.Header.Set("X-Fill", strings.Repeat("a", n-headerSize(r)))
		}
	}
	if rec := serveOne(at(fill(4096))); rec.Code != http.StatusOK {
		t.Fatalf("at the limit: status %d", rec.Code)
	}
	for name, mutate := range map[string]func(*http.Request){
		"one byte over": fill(4097),
		// Few bytes on the wire, many on the HTTP/2 hop: 32 bytes a field.
		"many small fields": func(r *http.Request) {
			for i := range 120 {
				r.Header.Set(fmt.Sprintf("X-%d", i), "a")
			}
		},
		"a long host, sent on twice": func(r *http.Request) { r.Host = strings.Repeat("a", 2000) + ".example" },
		"a long path":                func(r *http.Request) { r.URL.RawQuery = "q=" + strings.Repeat("a", 4000) },
	} {
		t.Run(name, func(t *testing.T) {
			before := hits.Load()
			rec := serveOne(at(mutate))
			if rec.Code != http.StatusRequestHeaderFieldsTooLarge || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
				t.Fatalf("status %d %q: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
			if hits.Load() != before {
				t.Fatal("an oversized request was forwarded")
			}
		})
	}
}

// rawRequest writes req on a fresh connection to addr and returns the
// status line of the answer, or what ended the connection. A request that
// ends in cut is cut there: the connection is half-closed.
func rawRequest(t *testing.T, addr, req string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req, cutOff := strings.CutSuffix(req, cut)
	if _, err := io.WriteString(conn, req); err != nil {
		return "write: " + err.Error()
	}
	if cutOff {
		_ = conn.(*net.TCPConn).CloseWrite()
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "read: " + err.Error()
	}
	return strings.TrimSpace(line)
}

// What the caller gets wrong never counts against the upstream: a burst
// of each kind, far more than the breaker tolerates, and the next good
// request is still forwarded. Both hops: HTTP/1.1 over the network, and
// HTTP/2 in process.
func TestRefusalsNeverOpenTheCircuit(t *testing.T) {
	ups := map[string]func(t *testing.T) Upstream{
		"in-process": func(t *testing.T) Upstream { return inProcess(t, patientIdentity, echo(patientIdentity), nil) },
		"network":    func(t *testing.T) Upstream { return remote(patientIdentity, serve(t, echo(patientIdentity))) },
	}
	const post = "POST /api/v1/patients HTTP/1.1\r\nHost: x\r\n"
	refusals := []struct {
		name, req, status string
	}{
		{"malformed trailer", post + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: a\x7fb\r\n\r\n", "400"},
		{"malformed chunk", post + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\nzz\r\n", "400"},
		// The server takes the end of the stream for the caller leaving.
		{"body cut off", post + "Content-Length: 50\r\n\r\n{\"a\":" + cut, "499"},
		{"body over the limit, streamed", post + "Transfer-Encoding: chunked\r\n\r\n80\r\n" + strings.Repeat("a", 128) + "\r\n0\r\n\r\n", "413"},
		{"body over the limit, declared", post + "Content-Length: 128\r\n\r\n" + strings.Repeat("a", 128), "413"},
		{"headers over the limit", post + "X-Big: " + strings.Repeat("a", 5000) + "\r\nContent-Length: 2\r\n\r\n{}", "431"},
		{"an upgrade no protocol can be", post + "Connection: Upgrade\r\nUpgrade: \xff\r\nContent-Length: 2\r\n\r\n{}", "400"},
	}
	for name, up := range ups {
		t.Run(name, func(t *testing.T) {
			url, _ := front(t, Config{MaxBody: 64, MaxHeaderBytes: 4096}, up(t))
			addr := strings.TrimPrefix(url, "http://")
			for _, rf := range refusals {
				for range 2 * breakerFailures {
					if line := rawRequest(t, addr, rf.req); !strings.HasPrefix(line, "HTTP/1.1 "+rf.status+" ") {
						t.Fatalf("%s: %q, want %s", rf.name, line, rf.status)
					}
				}
			}
			// An Upgrade the services cannot serve is ignored: the request
			// is served as it is.
			res := do(t, http.MethodGet, url+"/api/v1/patients/p1", nil, map[string]string{"Connection": "Upgrade", "Upgrade": "websocket"})
			if res.StatusCode != http.StatusOK {
				t.Fatalf("upgrade: status %d", res.StatusCode)
			}
			if got := decode[seen](t, res); got.Header.Get("Upgrade") != "" {
				t.Fatalf("upgrade forwarded: %v", got.Header)
			}
			if res := do(t, http.MethodPost, url+"/api/v1/patients", strings.NewReader("{}"), nil); res.StatusCode != http.StatusOK {
				t.Fatalf("a good request after the burst: status %d", res.StatusCode)
			}
		})
	}
}

// failingBody gives a few bytes, then fails as a caller's connection does.
type failingBody struct {
	sent bool
	err  error
}

func (b *failingBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, `{"a":`), nil
	}
	return 0, b.err
}

// A caller that is slow to send its body, or whose connection fails under
// it, is answered for what it did, and the circuit stays closed. A
// deadline that passes while the upstream sits on a complete request is
// the upstream's failure and counts.
func TestSlowCallersAreNotSlowUpstreams(t *testing.T) {
	var arrived atomic.Int32
	stall := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		_, _ = io.ReadAll(r.Body)
		<-r.Context().Done()
	})
	ups := map[string]func(t *testing.T, h http.Handler) Upstream{
		"in-process": func(t *testing.T, h http.Handler) Upstream { return inProcess(t, patientIdentity, h, nil) },
		"network":    func(t *testing.T, h http.Handler) Upstream { return remote(patientIdentity, serve(t, h)) },
	}
	post := func(g *Gateway, body io.Reader) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/patients", body)
		req.ContentLength = -1
		rec := httptest.NewRecorder()
		g.Handler().ServeHTTP(rec, req)
		return rec
	}
	for name, up := range ups {
		t.Run(name, func(t *testing.T) {
			g, err := New(Config{Timeout: 50 * time.Millisecond}, []Upstream{up(t, stall)})
			if err != nil {
				t.Fatal(err)
			}
			for range breakerFailures + 1 {
				// The body does not come before the deadline, which passes
				// waiting on the caller; the connection's read deadline
				// (HTTP_READ_TIMEOUT) ends the wait later.
				pr, pw := io.Pipe()
				readDeadline := time.AfterFunc(100*time.Millisecond, func() {
					pw.CloseWithError(&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded})
				})
				rec := post(g, pr)
				readDeadline.Stop()
				if rec.Code != http.StatusRequestTimeout {
					t.Fatalf("a body that never comes: status %d %s", rec.Code, rec.Body)
				}
				// The connection's read deadline passes (HTTP_READ_TIMEOUT).
				if rec := post(g, &failingBody{err: &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}}); rec.Code != http.StatusRequestTimeout {
					t.Fatalf("a read deadline: status %d %s", rec.Code, rec.Body)
				}
				// The caller's connection breaks mid-body.
				if rec := post(g, &failingBody{err: io.ErrUnexpectedEOF}); rec.Code != http.StatusBadRequest {
					t.Fatalf("a broken body: status %d %s", rec.Code, rec.Body)
				}
			}
			// A complete request the upstream sits on: 504, and counted.
			for range breakerFailures {
				if rec := post(g, strings.NewReader("{}")); rec.Code != http.StatusGatewayTimeout {
					t.Fatalf("a stalled upstream: status %d %s", rec.Code, rec.Body)
				}
			}
			before := arrived.Load()
			if rec := post(g, strings.NewReader("{}")); rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("after %d upstream timeouts: status %d, want the open circuit's 503", breakerFailures, rec.Code)
			}
			if arrived.Load() != before {
				t.Fatal("an open circuit called the upstream")
			}
		})
	}
}

// An upstream's own answers, 5xx included, pass through and never open
// the circuit: otherwise one input that makes one endpoint fail would let
// anyone take the whole service off the air.
func TestUpstreamAnswersNeverOpenTheCircuit(t *testing.T) {
	var answered atomic.Int32
	failing := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answered.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	})
	url, _ := front(t, Config{}, remote(patientIdentity, serve(t, failing)))
	for range 2 * breakerFailures {
		if res := do(t, http.MethodGet, url+"/api/v1/patients/p1", nil, nil); res.StatusCode != http.StatusInternalServerError {
			t.Fatalf("status %d: the upstream's answer must pass through", res.StatusCode)
		}
	}
	if answered.Load() != 2*breakerFailures {
		t.Fatalf("upstream answered %d times", answered.Load())
	}
}

// An upstream advertising a smaller header limit than the gateway's: the
// HTTP/2 transport refuses to send, which is the request's size, not the
// upstream's health.
func TestUpstreamHeaderLimitIs431(t *testing.T) {
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: echo(patientIdentity), Protocols: rpc.Protocols(), MaxHeaderBytes: 1024}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	url, _ := front(t, Config{}, Upstream{Target: patientIdentity, URL: "http://" + ln.Addr().String(), HTTP: rpc.RemoteClient(),
		Spec: fixtureSpec(patientIdentity)})
	// The first request learns the upstream's settings.
	if res := do(t, http.MethodGet, url+"/api/v1/patients/p1", nil, nil); res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	for range 2 * breakerFailures {
		problemOf(t, do(t, http.MethodGet, url+"/api/v1/patients/p1", nil, map[string]string{"X-Big": strings.Repeat("a", 4000)}),
			http.StatusRequestHeaderFieldsTooLarge)
	}
	if res := do(t, http.MethodGet, url+"/api/v1/patients/p1", nil, nil); res.StatusCode != http.StatusOK {
		t.Fatalf("after the refusals: status %d", res.StatusCode)
	}
}

// net/http exports none of the errors its HTTP/2 transport gives for a
// request it refuses to send: these are its real errors, so that a Go
// release that rewords them fails here rather than opening circuits.
func TestRefusedRequestsAreRecognised(t *testing.T) {
	mem := rpc.NewInProcess(echo(patientIdentity))
	t.Cleanup(func() { mem.Close() })
	client := mem.Client()
	send := func(mutate func(r *http.Request)) (*http.Request, error) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, rpc.BaseURL+"/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		mutate(req)
		res, err := client.Transport.RoundTrip(req)
		if err == nil {
			res.Body.Close()
		}
		return req, err
	}
	// Warm the connection, so the server's settings are known.
	if _, err := send(func(*http.Request) {}); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*http.Request){
		"header list over the peer's limit": func(r *http.Request) { r.Header.Set("X-Big", strings.Repeat("a", 2<<20)) },
		"an upgrade":                        func(r *http.Request) { r.Header.Set("Upgrade", "websocket") },
		"a connection header":               func(r *http.Request) { r.Header.Set("Connection", "X-Hop") },
		"an invalid header value":           func(r *http.Request) { r.Header.Set("X-A", "a\x01b") },
		"an invalid path":                   func(r *http.Request) { r.URL.Opaque = "x" },
		"an invalid trailer":                func(r *http.Request) { r.Trailer = http.Header{"X-T": {"a\x01b"}} },
	} {
		req, err := send(mutate)
		if err == nil {
			t.Errorf("%s: sent", name)
			continue
		}
		if !causedByCaller(req, err) {
			t.Errorf("%s: %v not recognised as the request's fault", name, err)
		}
	}
	mem.Close()
	req, err := send(func(*http.Request) {})
	if err == nil || causedByCaller(req, err) {
		t.Errorf("a closed upstream (%v) taken for the request's fault", err)
	}
}
