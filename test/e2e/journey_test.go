// Package e2e walks the main journey over real HTTP through the gateway of
// a `--target=all` process, on SQLite and (when TEST_DATABASE_URL is set)
// on a fresh PostgreSQL database.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	contracts "github.com/secondopinion/platform/api/events"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to create the run's database

	"github.com/secondopinion/platform/internal/app"
	"github.com/secondopinion/platform/internal/app/apptest"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/logging"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/ai/document-analysis/extract"
	"github.com/secondopinion/platform/test/journey"
)

var caseNumber = regexp.MustCompile(`^EU-20\d\d-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$`)

func TestJourney(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir(), "REGION": "EU", "SHUTDOWN_TIMEOUT": "20s",
				"ADMIN_EMAIL": adminEmail, "ADMIN_PASSWORD": adminPassword}
			if e == sqldb.Postgres {
				env["DATABASE_URL"] = apptest.Database(t)
			}
			patientJourney(t, boot(t, env))
		})
	}
}

// platform is a running `all` process and what the test observes of it.
type platform struct {
	base    string
	j       journey.Platform // every exchange held to the published document
	cfg     app.Config
	dataDir string
	events  *probe
	logs    *testkit.Buffer
	// stop shuts the platform down and waits for it; it runs once, at the
	// latest when the test ends.
	stop func()
}

// probe keeps every event a consumer group sees, without bound: a buffer
// that dropped events when full would turn a missed event into a wait that
// times out, and one that blocked would stall the consumer.
type probe struct {
	mu     sync.Mutex
	seen   []bus.Event
	change chan struct{} // closed, and replaced, when an event arrives
}

func newProbe() *probe { return &probe{change: make(chan struct{})} }

func (p *probe) add(e bus.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, e)
	close(p.change)
	p.change = make(chan struct{})
}

// wait returns the first event seen, before or during the wait, that match
// accepts; false when none came within d.
func (p *probe) wait(d time.Duration, match func(bus.Event) bool) (bus.Event, bool) {
	deadline := time.After(d)
	for next := 0; ; {
		p.mu.Lock()
		for ; next < len(p.seen); next++ {
			if e := p.seen[next]; match(e) {
				p.mu.Unlock()
				return e, true
			}
		}
		change := p.change
		p.mu.Unlock()
		select {
		case <-change:
		case <-deadline:
			return bus.Event{}, false
		}
	}
}

// The first admin, created at start from ADMIN_EMAIL and ADMIN_PASSWORD.
const (
	adminEmail    = "admin@example.org"
	adminPassword = "an admin's long passphrase"
)

func boot(t *testing.T, env map[string]string) *platform {
	t.Helper()
	env["AUTH_BCRYPT_COST"] = "4"
	env["PDF_ENGINE_CACHE"] = warmPDFEngine(t)
	cfg, err := app.LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	// Every line any part logs — the app's and the middleware's, which
	// goes to the default logger — is kept for the privacy check.
	p := &platform{cfg: cfg, events: newProbe(), logs: &testkit.Buffer{}, dataDir: cfg.DataDir}
	log := logging.New(p.logs, slog.LevelDebug)
	prev := slog.Default()
	slog.SetDefault(log)
	t.Cleanup(func() { slog.SetDefault(prev) })
	a, err := app.New(t.Context(), cfg, []string{app.All}, app.Options{Listener: testkit.Listen(t), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	p.base = "http://" + a.Addr().String()
	// A probe consumer group sees every event the services publish, and
	// holds each to its contract in api/events.
	probe, err := a.Bus().Subscribe(t.Context(), "e2e-probe", func(_ context.Context, e bus.Event) error {
		if err := contracts.Check(e); err != nil {
			t.Errorf("an event breaks its contract: %v", err)
		}
		p.events.add(e)
		return nil
	})
	if err != nil {
		a.Close()
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			probe.Close()
			stop()
			if err := <-done; err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
	}
	t.Cleanup(p.stop)
	p.j = journey.Connect(t, p.base)
	return p
}

func patientJourney(t *testing.T, p *platform) {
	email := "ada." + uuid.NewString()[:8] + "@example.org"
	res := p.call(t, "POST", "/api/v1/patients", "", map[string]any{
		"firstName":        "Ada",
		"lastName":         "Lovelace",
		"email":            email,
		"password":         "correct horse battery staple",
		"dateOfBirth":      "1985-12-10",
		"phone":            "+441234567890",
		"preferredChannel": "EMAIL",
	})
	res.want(t, http.StatusCreated)
	patientID := res.str(t, "id")
	// Registration created the login too: the token's subject is the patient.
	ada := p.login(t, email, "correct horse battery staple")
	// Ada turns on codes by email; from now on she logs in with the code
	// the mailbox folder receives.
	p.call(t, "POST", "/api/v1/auth/2fa/method", ada, map[string]any{"method": "EMAIL", "password": "correct horse battery staple"}).
		want(t, http.StatusNoContent)
	ada = p.loginWithCode(t, email, "correct horse battery staple")
	admin := p.login(t, adminEmail, adminPassword)
	p.call(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": "wrong password here"}).
		want(t, http.StatusUnauthorized)

	p.call(t, "GET", "/api/v1/patients/"+patientID, "", nil).want(t, http.StatusUnauthorized)
	res = p.call(t, "GET", "/api/v1/patients/"+patientID, ada, nil)
	res.want(t, http.StatusOK)
	if res.str(t, "id") != patientID {
		t.Fatalf("profile: %s", res.body)
	}
	if me := p.call(t, "GET", "/api/v1/patients/me", ada, nil); me.status != http.StatusOK || me.str(t, "id") != patientID {
		t.Fatalf("own profile: %d %s", me.status, me.body)
	}

	res = p.call(t, "POST", "/api/v1/cases", ada, map[string]any{
		"customerId": patientID,
		"specialty":  "CARDIOLOGY",
		"title":      "Chest pain on exertion",
		"question":   "Is the proposed stent placement necessary given my stress test?",
	})
	res.want(t, http.StatusCreated)
	caseID, number := res.str(t, "id"), res.str(t, "caseNumber")
	if !caseNumber.MatchString(number) {
		t.Fatalf("case number %q does not match %s", number, caseNumber)
	}

	res = p.call(t, "GET", "/api/v1/cases/"+number+"/status", ada, nil)
	res.want(t, http.StatusOK)
	if s := res.str(t, "status"); s != "DRAFT" || res.str(t, "caseNumber") != number {
		t.Fatalf("status after create: %s", res.body)
	}
	if _, err := time.Parse(time.RFC3339, res.str(t, "lastUpdated")); err != nil {
		t.Fatalf("lastUpdated: %v", err)
	}

	// Without the records its checklist names (TestRecords walks those).
	res = p.call(t, "POST", "/api/v1/cases/"+caseID+"/submit", ada, map[string]bool{"confirmIncomplete": true})
	res.want(t, http.StatusOK)
	if s := res.str(t, "status"); s != "AWAITING_PAYMENT" {
		t.Fatalf("a submitted case is %s before it is paid", s)
	}
	// She pays with the sandbox's card that succeeds (TestMoney walks the
	// declines, 3-D Secure, invoices, refunds and payouts).
	p.j.Pay(t, journey.Account{ID: patientID, Token: strings.TrimPrefix(ada, "Bearer ")}, journey.Case{ID: caseID, Number: number},
		"pm_card_visa").Want(t, http.StatusCreated)
	p.call(t, "GET", "/api/v1/cases/"+caseID, ada, nil).want(t, http.StatusOK)
	// The AI pre-analysis moves it on to the pool (a case without records,
	// of a patient without the AI consent: sent on without one).
	journey.Eventually(t, "the submitted case in the pool", func() (bool, string) {
		res = p.call(t, "GET", "/api/v1/cases/"+number+"/status", ada, nil)
		res.want(t, http.StatusOK)
		return res.str(t, "status") == "AWAITING_ASSIGNMENT", res.body
	})

	p.waitEvent(t, "case.created", caseID)
	p.waitAccess(t, ada, patientID, "patient.read patient", "case.read patient", "case.status.read patient")
	res = p.call(t, "GET", "/api/v1/audit/verify", admin, nil)
	res.want(t, http.StatusOK)
	if !strings.Contains(res.body, `"ok":true`) {
		t.Fatalf("audit chain: %s", res.body)
	}

	p.call(t, "GET", "/api/ready", "", nil).want(t, http.StatusOK)
	spec := p.call(t, "GET", "/openapi.json", "", nil)
	spec.want(t, http.StatusOK)
	for _, path := range []string{`"/api/v1/patients"`, `"/api/v1/cases"`, `"/api/v1/cases/{caseNumber}/status"`} {
		if !strings.Contains(spec.body, path) {
			t.Errorf("/openapi.json lacks %s", path)
		}
	}

	res = p.call(t, "GET", "/api/v1/cases/"+number+"/status", "Bearer not-a-real-token", nil)
	res.want(t, http.StatusUnauthorized)
	res.wantProblem(t)
	res = p.call(t, "GET", "/api/v1/no-such-resource", "", nil)
	res.want(t, http.StatusNotFound)
	res.wantProblem(t)

	logs := p.logs.String()
	if !strings.Contains(logs, patientID) {
		t.Fatal("the journey's logs were not captured")
	}
	for _, personal := range []string{"Ada", "Lovelace", email, "1985-12-10", "+441234567890", "correct horse battery staple",
		"Chest pain", "stent placement"} {
		if strings.Contains(logs, personal) {
			t.Errorf("logs contain personal or health data %q", personal)
		}
	}
}

// pdfEngine compiles the PDF engine once for the whole test binary, into
// the machine's shared folder, before any platform waits on it: under the
// race detector compiling takes half a minute, more than a journey waits
// for a case to reach the pool.
var pdfEngine struct {
	sync.Once
	err error
}

func warmPDFEngine(t *testing.T) string {
	t.Helper()
	dir := testkit.PDFEngineCache()
	pdfEngine.Do(func() {
		e := extract.New(extract.Options{CompileCacheDir: dir})
		pdfEngine.err = errors.Join(e.Warm(context.Background()), e.Close())
	})
	if pdfEngine.err != nil {
		t.Fatalf("compile the PDF engine: %v", pdfEngine.err)
	}
	return dir
}

// login signs in through the gateway and returns the Authorization value.
func (p *platform) login(t *testing.T, email, password string) string {
	t.Helper()
	res := p.call(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": password})
	res.want(t, http.StatusOK)
	if res.str(t, "tokenType") != "Bearer" {
		t.Fatalf("login: %s", res.body)
	}
	return "Bearer " + res.str(t, "accessToken")
}

// loginWithCode signs in with a password and the EMAIL code that the
// embedded mailer writes to DATA_DIR/mailbox as an RFC 5322 file.
func (p *platform) loginWithCode(t *testing.T, email, password string) string {
	t.Helper()
	res := p.call(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": password})
	res.want(t, http.StatusOK)
	if res.str(t, "method") != "EMAIL" {
		t.Fatalf("login without the chosen second factor: %s", res.body)
	}
	challenge := res.str(t, "challengeId")
	files, err := filepath.Glob(filepath.Join(p.dataDir, "mailbox", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no message in the mailbox (%v)", err)
	}
	slices.Sort(files)
	msg, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(msg), "To: "+email+"\r\n") {
		t.Fatalf("the newest message is not for %s:\n%s", email, msg)
	}
	_, body, _ := strings.Cut(string(msg), "\r\n\r\n")
	code := sixDigits.FindString(body)
	res = p.call(t, "POST", "/api/v1/auth/2fa/verify", "", map[string]any{"challengeId": challenge, "code": code})
	res.want(t, http.StatusOK)
	return "Bearer " + res.str(t, "accessToken")
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

type response struct {
	status int
	ctype  string
	body   string
}

// call sends a request with the Authorization value auth ("" for none).
func (p *platform) call(t *testing.T, method, path, auth string, body any) response {
	t.Helper()
	r := p.j.Do(t, strings.TrimPrefix(auth, "Bearer "), method, path, body)
	return response{r.Status, r.Type, string(r.Body)}
}

func (r response) want(t *testing.T, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
}

func (r response) wantProblem(t *testing.T) {
	t.Helper()
	var p struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
	}
	if !strings.HasPrefix(r.ctype, "application/problem+json") || json.Unmarshal([]byte(r.body), &p) != nil ||
		p.Status != r.status || p.Title == "" {
		t.Fatalf("not a problem document (%s): %s", r.ctype, r.body)
	}
}

func (r response) str(t *testing.T, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body is not a JSON object: %s", r.body)
	}
	s, ok := m[field].(string)
	if !ok || s == "" {
		t.Fatalf("no %s in %s", field, r.body)
	}
	return s
}

// waitAccess polls the patient's access log, as the patient, until the
// audit service has chained an allowed entry for each "action actorRole".
func (p *platform) waitAccess(t *testing.T, auth, patientID string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		res := p.call(t, "GET", "/api/v1/patients/"+patientID+"/access-log?limit=200", auth, nil)
		res.want(t, http.StatusOK)
		var log struct {
			Items []struct{ Action, ActorRole, Outcome string }
		}
		if err := json.Unmarshal([]byte(res.body), &log); err != nil {
			t.Fatalf("access log: %s", res.body)
		}
		seen := map[string]bool{}
		for _, e := range log.Items {
			if e.Outcome == "allowed" {
				seen[e.Action+" "+e.ActorRole] = true
			}
		}
		missing := slices.DeleteFunc(slices.Clone(want), func(w string) bool { return seen[w] })
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the access log lacks %v: %s", missing, res.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitEvent waits until the probe saw an event of type typ about aggregate.
func (p *platform) waitEvent(t *testing.T, typ, aggregate string) {
	t.Helper()
	if _, ok := p.events.wait(15*time.Second, func(e bus.Event) bool {
		return e.Type == typ && e.AggregateID == aggregate
	}); !ok {
		t.Fatalf("no %s event for %s reached the bus", typ, aggregate)
	}
}

// The probe loses no event however many arrive before anyone waits, and
// finds each whether it came before or during the wait.
func TestProbeKeepsEveryEvent(t *testing.T) {
	p := newProbe()
	const n = 10_000
	for i := range n {
		p.add(bus.Event{ID: strconv.Itoa(i)})
	}
	for _, id := range []string{"0", strconv.Itoa(n / 2), strconv.Itoa(n - 1)} {
		if _, ok := p.wait(time.Second, func(e bus.Event) bool { return e.ID == id }); !ok {
			t.Errorf("event %s of %d lost", id, n)
		}
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		p.add(bus.Event{ID: "late"})
	}()
	if _, ok := p.wait(10*time.Second, func(e bus.Event) bool { return e.ID == "late" }); !ok {
		t.Error("an event that arrived during the wait was missed")
	}
}
