package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

func testConfig(t *testing.T, env map[string]string) Config {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["DATA_DIR"]; !ok {
		env["DATA_DIR"] = t.TempDir()
	}
	// Logins hash at bcrypt's lowest cost in tests.
	if _, ok := env["AUTH_BCRYPT_COST"]; !ok {
		env["AUTH_BCRYPT_COST"] = "4"
	}
	cfg, err := LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// started is an App running in the background of a test.
type started struct {
	*App
	base string
	ops  string // the operations listener
	stop context.CancelFunc
	done chan error
}

func start(t *testing.T, cfg Config, targets ...string) *started {
	t.Helper()
	ops := testkit.Listen(t)
	a, err := New(t.Context(), cfg, targets, Options{Listener: testkit.Listen(t), MetricsListener: ops, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &started{App: a, base: "http://" + a.Addr().String(), ops: "http://" + ops.Addr().String(), stop: stop, done: make(chan error, 1)}
	go func() { s.done <- a.Run(ctx) }()
	t.Cleanup(func() { s.shutdown(t) })
	return s
}

// shutdown stops the app once and reports how Run ended.
func (s *started) shutdown(t *testing.T) error {
	t.Helper()
	s.stop()
	select {
	case err, ok := <-s.done:
		if ok {
			close(s.done)
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
		return nil
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestServeAllOnSQLite(t *testing.T) {
	a := start(t, testConfig(t, nil), All)
	if code, body := get(t, a.base+"/api/health"); code != 200 {
		t.Fatalf("health %d %s", code, body)
	}
	if code, body := get(t, a.base+"/api/ready"); code != 200 || !strings.Contains(body, `"case-management store":"ok"`) {
		t.Fatalf("ready %d %s", code, body)
	}
	if code, body := get(t, a.base+"/api/v1/no-such-thing"); code != 404 {
		t.Fatalf("unknown route %d %s", code, body)
	}
	_, metrics := scrape(t, a.ops+"/metrics")
	for _, want := range []string{
		`http_request_duration_seconds_count{method="GET",route="/api/",service="gateway",status_code="404"}`,
		`active_database_connections{database="patient-identity.db",service="patient-identity"}`,
		`active_database_connections{database="case-management.db",service="case-management"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	if err := a.Store("patient-identity").Close(); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, a.base+"/api/ready"); code != 503 || !strings.Contains(body, `"patient-identity store":"sql: database is closed"`) {
		t.Fatalf("ready after closing a store: %d %s", code, body)
	}
}

// authAlone is the environment of auth served without notification, whose
// URL refuses: nothing in these tests sends a code.
func authAlone(t *testing.T, env map[string]string) map[string]string {
	if env == nil {
		env = map[string]string{}
	}
	env["NOTIFICATION_SERVICE_URL"] = "http://" + testkit.RefusingAddr(t)
	return env
}

func TestServeSingleService(t *testing.T) {
	a := start(t, testConfig(t, authAlone(t, nil)), "auth")
	code, body := get(t, a.base+"/openapi.json")
	if code != 200 || !strings.Contains(body, "/api/v1/auth/login") || strings.Contains(body, "/api/v1/cases") {
		t.Fatalf("openapi %d %.200s", code, body)
	}
	if code, body := get(t, a.base+"/api/ready"); code != 200 {
		t.Fatalf("ready %d %s", code, body)
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	legacy := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		_, _ = io.WriteString(w, "legacy done")
	}))
	legacy.Listener.Close()
	legacy.Listener = testkit.Listen(t)
	legacy.Start()
	defer legacy.Close()

	a := start(t, testConfig(t, map[string]string{"LEGACY_MONOLITH_URL": legacy.URL}), All)
	type result struct {
		code int
		body string
	}
	got := make(chan result, 1)
	go func() {
		res, err := http.Get(a.base + "/api/v1/legacy-report")
		if err != nil {
			got <- result{body: err.Error()}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		got <- result{res.StatusCode, string(b)}
	}()
	<-arrived
	a.stop()
	// The listener closes at once; the in-flight request still completes.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := http.Get(a.base + "/api/health"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server kept accepting requests after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if r := <-got; r.code != 200 || r.body != "legacy done" {
		t.Fatalf("in-flight request: %d %s", r.code, r.body)
	}
	if err := a.shutdown(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestStartFailsClearly(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		targets []string
		want    string
	}{
		{"unreachable database", map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/x?connect_timeout=5"},
			[]string{All}, "open professional-identity store"},
		{"missing peer", nil, []string{"case-management"},
			"case-management requires patient-identity: run it in this process (--target=case-management,patient-identity) or set PATIENT_IDENTITY_SERVICE_URL"},
		{"several services without the gateway", nil, []string{"credentialing,patient-consent"}, "add gateway to --target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(t.Context(), testConfig(t, tc.env), tc.targets, Options{Listener: testkit.Listen(t), Log: quiet})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	cfg := testConfig(t, nil)
	if err := Migrate(t.Context(), cfg, []string{All}, quiet); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"patient-identity", "case-management"} {
		db, err := OpenStore(t.Context(), cfg, target)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
			t.Errorf("%s: outbox table not migrated: %v", target, err)
		}
		db.Close()
	}
}

// Two replicas sharing REDIS_URL share Idempotency-Key records: a retry
// that lands on the other replica gets the first answer, not a second
// patient.
func TestReplicasShareIdempotencyKeysThroughRedis(t *testing.T) {
	redisURL := testkit.Env(t, "TEST_REDIS_URL")
	key := fmt.Sprintf("replica-%d", time.Now().UnixNano())
	body := `{"firstName":"Rosalind","lastName":"Franklin","dateOfBirth":"1980-07-25","email":"` + key + `@example.org","password":"photo fifty one"}`
	var ids []string
	for range 2 {
		s := start(t, testConfig(t, map[string]string{"REDIS_URL": redisURL}), "all")
		if code, out := get(t, s.base+"/api/ready"); code != 200 || !strings.Contains(out, `"redis":"ok"`) {
			t.Fatalf("ready: %d %s", code, out)
		}
		req, _ := http.NewRequest(http.MethodPost, s.base+"/api/v1/patients", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("register: %d %s", res.StatusCode, out)
		}
		ids = append(ids, string(out))
	}
	if ids[0] != ids[1] {
		t.Fatalf("the second replica registered again:\n%s\n%s", ids[0], ids[1])
	}
}

// Apart, a service checks tokens against the JWKS of the auth service at
// AUTH_SERVICE_URL, and creates logins there: a patient registered through
// one process logs in at the other and reads their profile with the token.
func TestSeparateProcessesShareIdentity(t *testing.T) {
	const secret = "patient-identity's own secret"
	authApp := start(t, testConfig(t, authAlone(t, map[string]string{"SERVICE_SECRETS": "patient-identity=" + secret})), "auth")
	ts, err := Resolve([]string{"patient-identity"})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPeers(testConfig(t, map[string]string{"AUTH_SERVICE_URL": authApp.base}), ts); err == nil || !strings.Contains(err.Error(), "SERVICE_SECRET") {
		t.Fatalf("a service apart from auth without SERVICE_SECRET starts: %v", err)
	}
	// Registration and reading a profile call no holder of a patient's
	// data: their URLs lead nowhere.
	env := map[string]string{"AUTH_SERVICE_URL": authApp.base, "SERVICE_SECRET": secret}
	for _, holder := range []string{"PATIENT_CONSENT", "CASE_MANAGEMENT", "MEDICAL_RECORDS", "MEDICAL_OPINION", "AUDIT"} {
		env[holder+"_SERVICE_URL"] = "http://127.0.0.1:1"
	}
	identityApp := start(t, testConfig(t, env), "patient-identity")

	post := func(url, body string) (int, map[string]any) {
		res, err := http.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var doc map[string]any
		_ = json.NewDecoder(res.Body).Decode(&doc)
		return res.StatusCode, doc
	}
	code, patient := post(identityApp.base+"/api/v1/patients",
		`{"firstName":"Lise","lastName":"Meitner","dateOfBirth":"1978-11-07","email":"lise@example.org","password":"nuclear fission 1938"}`)
	if code != http.StatusCreated {
		t.Fatalf("register: %d %v", code, patient)
	}
	code, login := post(authApp.base+"/api/v1/auth/login", `{"email":"lise@example.org","password":"nuclear fission 1938"}`)
	if code != http.StatusOK {
		t.Fatalf("login: %d %v", code, login)
	}
	req, _ := http.NewRequest(http.MethodGet, identityApp.base+"/api/v1/patients/"+patient["id"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+login["accessToken"].(string))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("read own profile with a token from the other process: %d", res.StatusCode)
	}
}

// A service identity is for calls inside the platform: presented at the
// gateway it is refused, while the same token opens the service's peers.
func TestEdgeRefusesServiceIdentities(t *testing.T) {
	a := start(t, testConfig(t, nil), All)
	tok, _, err := a.authority.ServiceToken("case-management")(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, a.base+"/api/v1/cases", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a service token at the edge: %d, want 401", res.StatusCode)
	}
	if _, err := a.Verify(t.Context(), tok); err != nil {
		t.Fatalf("inside, the service token is refused: %v", err)
	}
}
