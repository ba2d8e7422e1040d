package app

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

// The edge as clients meet it: the whole platform in all mode, reached
// over its listener. The test's own connections come from loopback, which
// TRUSTED_PROXIES trusts by default, so a client behind a proxy is
// simulated by the X-Forwarded-For that proxy would send.

const (
	edgeAdmin    = "admin@example.org"
	edgePassword = "an admin passphrase"
)

func edgeConfig(t *testing.T, env map[string]string) Config {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	env["ADMIN_EMAIL"], env["ADMIN_PASSWORD"] = edgeAdmin, edgePassword
	return testConfig(t, env)
}

// edgeCall sends one request; from, when set, is the client address a
// trusted proxy in front names in X-Forwarded-For.
func edgeCall(t *testing.T, method, url, from, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if from != "" {
		req.Header.Set("X-Forwarded-For", from)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, out
}

func loginBody(email, password string) string {
	return fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)
}

// edgeLogin logs in from the given address and returns the access token.
func edgeLogin(t *testing.T, base, from, email, password string) string {
	t.Helper()
	code, out := edgeCall(t, http.MethodPost, base+"/api/v1/auth/login", from, "", loginBody(email, password))
	if code != http.StatusOK {
		t.Fatalf("login of %s from %s: %d %s", email, from, code, out)
	}
	var tok struct{ AccessToken string }
	if err := json.Unmarshal(out, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("login answer %s: %v", out, err)
	}
	return tok.AccessToken
}

// failLogins fails n logins from one address, each for another unknown
// email, so that only the address's count grows.
func failLogins(t *testing.T, base string, n int, from func(i int) string) {
	t.Helper()
	for i := range n {
		code, out := edgeCall(t, http.MethodPost, base+"/api/v1/auth/login", from(i), "",
			loginBody(fmt.Sprintf("nobody-%d@example.org", i), "not the password"))
		if code != http.StatusUnauthorized {
			t.Fatalf("failed login %d: %d %s", i, code, out)
		}
	}
}

// addressFailures is how many failed logins lock an address (auth's
// address policy).
const addressFailures = 20

// readAuditedFrom registers a patient, reads the profile as the admin from
// the given address, and returns the address the audit trail recorded.
func readAuditedFrom(t *testing.T, base, admin, from string) string {
	t.Helper()
	email := fmt.Sprintf("reader-%d@example.org", time.Now().UnixNano())
	code, out := edgeCall(t, http.MethodPost, base+"/api/v1/patients", "", "", fmt.Sprintf(
		`{"firstName":"Ada","lastName":"Lovelace","dateOfBirth":"1985-12-10","email":%q,"password":"analytical engine"}`, email))
	if code != http.StatusCreated {
		t.Fatalf("register: %d %s", code, out)
	}
	var patient struct{ ID string }
	if err := json.Unmarshal(out, &patient); err != nil {
		t.Fatal(err)
	}
	if code, out := edgeCall(t, http.MethodGet, base+"/api/v1/patients/"+patient.ID, from, admin, ""); code != http.StatusOK {
		t.Fatalf("read: %d %s", code, out)
	}
	// The entry reaches the trail through the outbox and the bus.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, out := edgeCall(t, http.MethodGet, base+"/api/v1/audit?resourceId="+patient.ID, "", admin, "")
		if code != http.StatusOK {
			t.Fatalf("audit: %d %s", code, out)
		}
		var trail struct {
			Items []struct{ Action, ActorRole, ClientAddr string }
		}
		if err := json.Unmarshal(out, &trail); err != nil {
			t.Fatal(err)
		}
		for _, e := range trail.Items {
			if e.Action == "patient.read" && e.ActorRole == "admin" {
				return e.ClientAddr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit entry of the read: %s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Behind a trusted proxy, each client is its own address: one that fails
// logins is locked out alone, and the trail names who read what.
func TestClientAddressCrossesTheGateway(t *testing.T) {
	a := start(t, edgeConfig(t, nil), All)
	const attacker, user, reader = "198.51.100.7", "198.51.100.8", "198.51.100.9"

	failLogins(t, a.base, addressFailures, func(int) string { return attacker })
	if code, out := edgeCall(t, http.MethodPost, a.base+"/api/v1/auth/login", attacker, "", loginBody(edgeAdmin, edgePassword)); code != http.StatusTooManyRequests {
		t.Fatalf("the failing address after %d failures: %d %s", addressFailures, code, out)
	}
	admin := edgeLogin(t, a.base, user, edgeAdmin, edgePassword)

	if got := readAuditedFrom(t, a.base, admin, reader); got != reader {
		t.Fatalf("the audit entry names %q, want the reader's %s", got, reader)
	}
}

// From a peer that is not a trusted proxy, X-Forwarded-For is the
// client's own claim: it neither escapes throttling nor changes the trail,
// and the gateway does not pass it on, not even to the legacy monolith,
// which may believe it.
func TestForgedForwardedForIsNotBelieved(t *testing.T) {
	legacy := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Join(r.Header.Values("X-Forwarded-For"), "; "))
	}))
	legacy.Listener.Close()
	legacy.Listener = testkit.Listen(t)
	legacy.Start()
	t.Cleanup(legacy.Close)
	a := start(t, edgeConfig(t, map[string]string{"TRUSTED_PROXIES": "", "LEGACY_MONOLITH_URL": legacy.URL}), All)
	if code, out := edgeCall(t, http.MethodGet, a.base+"/api/v1/legacy-page", "203.0.113.9", "", ""); code != http.StatusOK || string(out) != "127.0.0.1" {
		t.Fatalf("the monolith saw X-Forwarded-For %q (%d), want only the peer", out, code)
	}
	admin := edgeLogin(t, a.base, "", edgeAdmin, edgePassword)

	if got := readAuditedFrom(t, a.base, admin, "203.0.113.9"); got != "127.0.0.1" {
		t.Fatalf("the audit entry names %q, want the peer 127.0.0.1", got)
	}
	failLogins(t, a.base, addressFailures, func(i int) string { return fmt.Sprintf("203.0.113.%d", i+10) })
	if code, out := edgeCall(t, http.MethodPost, a.base+"/api/v1/auth/login", "203.0.113.200", "", loginBody(edgeAdmin, edgePassword)); code != http.StatusTooManyRequests {
		t.Fatalf("a locked peer claiming another address: %d %s", code, out)
	}
}

// rawExchange writes req on a fresh connection and reads the answer; a
// request ending in cutHere is half-closed there.
func rawExchange(t *testing.T, addr, req string) (*http.Response, []byte, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req, cut := strings.CutSuffix(req, cutHere)
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, nil, err
	}
	if cut {
		_ = conn.(*net.TCPConn).CloseWrite()
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res, body, err
}

const cutHere = "<cut>"

// breakerBurst is more refusals of each kind than auth's circuit breaker
// tolerates failures (five).
const breakerBurst = 8

// What the edge refuses is answered there, as a problem where the gateway
// answers, and never counts as auth failing: after bursts of each kind, a
// login still succeeds.
func TestRefusedRequestsLeaveLoginUp(t *testing.T) {
	a := start(t, edgeConfig(t, nil), All)
	addr := strings.TrimPrefix(a.base, "http://")
	limit := a.cfg.HTTPMaxHeaderBytes
	login := loginBody("nobody@example.org", "not the password")
	post := "POST /api/v1/auth/login HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\n"
	withBody := func(headers string) string {
		return post + headers + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(login)) + login
	}
	smallFields := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "X-%d: a\r\n", i)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, req string
		status    int
		problem   bool // answered by the gateway; else by net/http itself
	}{
		{"one header over the limit", withBody("X-Big: " + strings.Repeat("a", limit) + "\r\n"), 431, true},
		{"a megabyte of headers", withBody("X-Big: " + strings.Repeat("a", 1_000_000) + "\r\n"), 431, true},
		{"many small headers", withBody(smallFields(limit / 30)), 431, true},
		// Over net/http's own 1 MiB, it stops reading and answers alone.
		{"far over the limit", withBody("X-Big: " + strings.Repeat("a", http.DefaultMaxHeaderBytes+8<<10) + "\r\n"), 431, false},
		{"malformed trailer", post + "Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n", len(login), login) +
			"0\r\nX-T: a\x7fb\r\n\r\n", 400, true},
		{"malformed chunk", post + "Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n", len(login), login) + "zz\r\n", 400, true},
		{"an upgrade no protocol can be", withBody("Connection: Upgrade\r\nUpgrade: \xff\r\n"), 400, true},
		{"a malformed header", withBody("X-A: a\x01b\r\n"), 400, false},
		{"a malformed request line", "POST /api/v1/auth/login HTTP/9\r\nHost: edge\r\n\r\n", 400, false},
		{"a body over the limit", post + "Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n", 1<<20+1) + strings.Repeat("a", 1<<20+1) + "\r\n0\r\n\r\n", 413, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range breakerBurst {
				res, body, err := rawExchange(t, addr, tc.req)
				if err != nil {
					t.Fatal(err)
				}
				if res.StatusCode != tc.status {
					t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
				}
				ct := res.Header.Get("Content-Type")
				if tc.problem != strings.HasPrefix(ct, "application/problem+json") {
					t.Fatalf("content type %q: %s", ct, body)
				}
			}
		})
	}
	// Upgrades the services cannot serve are ignored, and the body cut
	// off is the caller leaving: neither counts against auth.
	for i := range breakerBurst {
		login := loginBody(fmt.Sprintf("upgrade-%d@example.org", i), "not the password")
		upgrade := post + fmt.Sprintf("Connection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: %d\r\n\r\n", len(login)) + login
		if res, body, err := rawExchange(t, addr, upgrade); err != nil || res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a login asking for an upgrade: %v %v %s", res, err, body)
		}
		_, _, _ = rawExchange(t, addr, post+"Content-Length: 100\r\n\r\n{\"email\":"+cutHere)
	}
	edgeLogin(t, a.base, "198.51.100.50", edgeAdmin, edgePassword)
}

// Connections are timed out: a client that is slow to send its body, an
// idle keep-alive connection and a silent one are cut off after their
// limits, an answer that takes longer than the write limit is abandoned,
// and the server keeps answering everyone else meanwhile.
func TestSlowAndIdleClientsAreCutOff(t *testing.T) {
	const readLimit, idleLimit, writeLimit = time.Second, 300 * time.Millisecond, 500 * time.Millisecond
	slowLegacy := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * writeLimit)
		_, _ = io.WriteString(w, "late")
	}))
	slowLegacy.Listener.Close()
	slowLegacy.Listener = testkit.Listen(t)
	slowLegacy.Start()
	t.Cleanup(slowLegacy.Close)
	a := start(t, edgeConfig(t, map[string]string{
		"HTTP_READ_TIMEOUT": readLimit.String(), "HTTP_IDLE_TIMEOUT": idleLimit.String(), "HTTP_WRITE_TIMEOUT": writeLimit.String(),
		"LEGACY_MONOLITH_URL": slowLegacy.URL,
	}), All)
	addr := strings.TrimPrefix(a.base, "http://")
	const clients = 20

	type ending struct {
		kind  string
		after time.Duration
		first string // the answer's status line, if any came
	}
	ended := make(chan ending, 3*clients)
	var wg sync.WaitGroup
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Error(err)
			return nil
		}
		_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
		return conn
	}
	// waitEnd reads until the server closes the connection.
	waitEnd := func(kind string, conn net.Conn, since time.Time) {
		r := bufio.NewReader(conn)
		first, _ := r.ReadString('\n')
		_, _ = io.Copy(io.Discard, r)
		ended <- ending{kind, time.Since(since), strings.TrimSpace(first)}
	}
	for range clients {
		// A body of 100 bytes sent a byte every 100 ms: 10 s if let be.
		wg.Go(func() {
			conn := dial()
			if conn == nil {
				return
			}
			defer conn.Close()
			since := time.Now()
			_, _ = io.WriteString(conn, "POST /api/v1/auth/login HTTP/1.1\r\nHost: edge\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
			go func() {
				for range 100 {
					if _, err := conn.Write([]byte(" ")); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
			waitEnd("slow body", conn, since)
		})
		// One request answered, then nothing.
		wg.Go(func() {
			conn := dial()
			if conn == nil {
				return
			}
			defer conn.Close()
			_, _ = io.WriteString(conn, "GET /api/health HTTP/1.1\r\nHost: edge\r\n\r\n")
			r := bufio.NewReader(conn)
			res, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Errorf("idle client's request: %v", err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			since := time.Now()
			_, _ = io.Copy(io.Discard, r)
			ended <- ending{"idle", time.Since(since), res.Status}
		})
		// Connected, and never a byte.
		wg.Go(func() {
			conn := dial()
			if conn == nil {
				return
			}
			defer conn.Close()
			waitEnd("silent", conn, time.Now())
		})
	}
	// Meanwhile everyone else is served at once.
	for range 10 {
		began := time.Now()
		if code, body := get(t, a.base+"/api/health"); code != http.StatusOK || time.Since(began) > readLimit {
			t.Fatalf("health during the slow clients: %d in %v: %s", code, time.Since(began), body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	close(ended)
	for e := range ended {
		switch e.kind {
		case "slow body":
			// Cut at the read limit, told why when it still listens.
			if e.after > readLimit+time.Second || (e.first != "" && !strings.HasPrefix(e.first, "HTTP/1.1 408 ")) {
				t.Errorf("slow body: ended after %v with %q", e.after, e.first)
			}
		case "idle":
			if e.after > idleLimit+400*time.Millisecond {
				t.Errorf("idle keep-alive connection: closed after %v, want about %v", e.after, idleLimit)
			}
		case "silent":
			if e.after > readLimit+time.Second || e.first != "" {
				t.Errorf("silent connection: ended after %v with %q", e.after, e.first)
			}
		}
	}

	// An answer later than the write limit is abandoned, not sent.
	began := time.Now()
	// A connection of its own: a client retries a GET that failed on a
	// reused one.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := fresh.Get(a.base + "/api/v1/legacy-report")
	if err == nil {
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		t.Fatalf("an answer after the write limit was sent: %d %s", res.StatusCode, body)
	}
	if time.Since(began) > 4*writeLimit {
		t.Fatalf("the abandoned answer took %v", time.Since(began))
	}
}
