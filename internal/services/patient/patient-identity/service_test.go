package patientidentity_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	contracts "github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/clients/auth/authtest"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/telemetry"
	"github.com/secondopinion/platform/internal/kit/testkit"
	identity "github.com/secondopinion/platform/internal/services/patient/patient-identity"
)

type fixture struct {
	url string
	db  *sqldb.DB
	h   http.Handler // the wrapped handler, as the app serves it
	svc *identity.Service
	bus *checked
	// The auth peer: a stand-in AuthService reached in memory, as in
	// `all` mode.
	auth    *authtest.Server
	authMem *rpc.InProcess
	// The holders of a patient's data the export gathers from, by target.
	holders map[string]*holder
}

// checked is the in-process bus holding every published event to its
// contract; the test fails on a broken one.
type checked struct {
	*inproc.Bus
	mu     sync.Mutex
	broken []error
}

func (c *checked) Publish(ctx context.Context, events ...bus.Event) error {
	c.mu.Lock()
	for _, e := range events {
		if err := contracts.Check(e); err != nil {
			c.broken = append(c.broken, err)
		}
	}
	c.mu.Unlock()
	return c.Bus.Publish(ctx, events...)
}

// start runs patient-identity on db with its auth peer.
func start(t *testing.T, db *sqldb.DB) fixture {
	t.Helper()
	ctx := context.Background()
	auth, authMem := authtest.Serve(t, "patient-identity", tokens{})
	holders := serveHolders(t)
	if err := identity.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	b := &checked{Bus: inproc.New()}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, err := range b.broken {
			t.Errorf("published an event its contract does not describe: %v", err)
		}
	})
	svc, err := identity.New(identity.Config{}, service.Deps{DB: db, Bus: b, Log: slog.Default(),
		Metrics: telemetry.NewMetrics(), Region: "EU",
		Peer: func(target string) (service.Peer, error) {
			mem := authMem
			if target != "auth" {
				h, ok := holders[target]
				if !ok {
					return service.Peer{}, fmt.Errorf("unexpected peer %s", target)
				}
				mem = h.mem
			}
			return service.Peer{HTTP: rpc.WithIdentity(mem.Client(), as("service:"+identity.Name)), URL: rpc.BaseURL}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	h := httpapi.Wrap(svc.Handler(), httpapi.Options{Service: identity.Name, Verifier: tokens{}})
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = testkit.Listen(t)
	srv.Start()
	t.Cleanup(srv.Close)
	return fixture{url: srv.URL, db: db, h: h, svc: svc, bus: b, auth: auth, authMem: authMem, holders: holders}
}

// count is the number of rows in table of db.
func count(t *testing.T, db *sqldb.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

const (
	adaPassword = "analytical engine 1843"
	ada         = `{"firstName":"Ada","middleName":"King","lastName":"Lovelace","dateOfBirth":"1990-12-10",
	"email":"Ada.Lovelace@Example.org","phone":"+4915112345678","preferredChannel":"SMS",
	"metadata":{"source":"web"},"password":"` + adaPassword + `"}`
)

// adaSecrets is Ada's personal data and password, which must stay out of
// logs, events and (for the password) every response.
var adaSecrets = []string{"Ada", "King", "Lovelace", "ada.lovelace", "+4915112345678", "1990-12-10", adaPassword, "$2a$"}

// tokens stands in for the auth service: "patient:<id>" is that patient,
// "admin" and "pro" an admin and a professional.
type tokens struct{}

func (tokens) Verify(_ context.Context, token string) (authn.Principal, error) {
	if id, ok := strings.CutPrefix(token, "patient:"); ok {
		return authn.Principal{Subject: id, Role: authn.RolePatient}, nil
	}
	if name, ok := strings.CutPrefix(token, "service:"); ok {
		return authn.Principal{Subject: name, Role: authn.RoleService}, nil
	}
	switch token {
	case "admin":
		return authn.Principal{Subject: "0190a0a0-0000-7000-8000-0000000000ad", Role: authn.RoleAdmin}, nil
	case "pro":
		return authn.Principal{Subject: "0190a0a0-0000-7000-8000-0000000000fe", Role: authn.RoleProfessional}, nil
	}
	return authn.Principal{}, errors.New("unknown test token")
}

type response struct {
	status int
	doc    map[string]any
	raw    string
	header http.Header
}

// call sends a JSON request as an anonymous caller.
func call(t *testing.T, method, url, body string) response {
	t.Helper()
	return callAs(t, "", method, url, body)
}

// callAs sends a JSON request with token (none when empty) and checks what
// every response must keep: no password, no hash.
func callAs(t *testing.T, token, method, url, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: res.StatusCode, raw: string(raw), header: res.Header}
	_ = json.Unmarshal(raw, &r.doc)
	for _, secret := range []string{adaPassword, "$2a$", `"password":`} {
		if strings.Contains(r.raw, secret) {
			t.Errorf("%s %s: response carries %q: %s", method, url, secret, raw)
		}
	}
	return r
}

// locations lists the fields a problem document names.
func locations(doc map[string]any) []string {
	var out []string
	errs, _ := doc["errors"].([]any)
	for _, e := range errs {
		m, _ := e.(map[string]any)
		loc, _ := m["location"].(string)
		out = append(out, loc)
	}
	return out
}

func register(t *testing.T, f fixture) string {
	t.Helper()
	r := call(t, http.MethodPost, f.url+"/api/v1/patients", ada)
	if r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	id, _ := r.doc["id"].(string)
	return id
}

// Each subtest starts the service on a store of its own and registers Ada
// there, so that it passes alone and whichever subtests ran before it.
func TestAPI(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			run := func(name string, test func(t *testing.T, f fixture, id string)) {
				t.Run(name, func(t *testing.T) {
					f := start(t, testkit.OpenDB(t, e, identity.Name))
					test(t, f, register(t, f))
				})
			}
			run("registration", testRegistration)
			run("validation", func(t *testing.T, f fixture, _ string) { testValidation(t, f) })
			run("get", testGet)
			run("patch", testPatch)
			run("events", testEvents)
			run("access", testAccess)
		})
	}
}

func testRegistration(t *testing.T, f fixture, id string) {
	r := callAs(t, "patient:"+id, http.MethodGet, f.url+"/api/v1/patients/"+id, "")
	want := map[string]any{
		"id": id, "firstName": "Ada", "middleName": "King", "lastName": "Lovelace", "dateOfBirth": "1990-12-10",
		"email": "ada.lovelace@example.org", "phone": "+4915112345678", "preferredChannel": "SMS",
		"emailNotifications": true, "smsNotifications": false, "metadata": map[string]any{"source": "web"},
	}
	for k, v := range want {
		if got, _ := json.Marshal(r.doc[k]); string(got) != mustJSON(t, v) {
			t.Errorf("%s = %s, want %s", k, got, mustJSON(t, v))
		}
	}
	for _, k := range []string{"createdAt", "updatedAt"} {
		s, _ := r.doc[k].(string)
		if ts, err := time.Parse(time.RFC3339, s); err != nil || !strings.HasSuffix(s, "Z") || ts.After(time.Now()) {
			t.Errorf("%s = %q: want RFC 3339 UTC in the past", k, s)
		}
	}

	// The login is auth's, under the patient's id: auth keeps Ada's
	// email, password and phone as a patient's login, and the user id it
	// gave names her profile.
	if l, ok := f.auth.User(id); !ok || l.Email != "ada.lovelace@example.org" || l.Password != adaPassword ||
		l.Role != "patient" || l.Phone != "+4915112345678" {
		t.Fatalf("the login of patient %s is %+v (found %v), want Ada's as a patient", id, l, ok)
	}

	users, patients := f.auth.Count(), count(t, f.db, "patients")
	other := strings.Replace(strings.Replace(ada, "Ada.Lovelace@", "ADA.LOVELACE@", 1), "Example.org", "example.ORG", 1)
	if r := call(t, http.MethodPost, f.url+"/api/v1/patients", other); r.status != http.StatusConflict ||
		r.doc["title"] != "Email already registered" {
		t.Fatalf("duplicate email in other case: %d %s", r.status, r.raw)
	}
	if u, p := f.auth.Count(), count(t, f.db, "patients"); u != users || p != patients {
		t.Fatalf("a refused duplicate left users %d→%d, patients %d→%d", users, u, patients, p)
	}

	minimal := `{"firstName":"Grace","lastName":"Hopper","dateOfBirth":"1906-12-09","email":"grace@example.org","password":"cobol compiler 1959"}`
	r = call(t, http.MethodPost, f.url+"/api/v1/patients", minimal)
	if r.status != http.StatusCreated || r.doc["preferredChannel"] != "EMAIL" || r.doc["emailNotifications"] != true ||
		r.doc["smsNotifications"] != false || r.header.Get("Location") != "/api/v1/patients/"+r.doc["id"].(string) {
		t.Fatalf("defaults: %d %s %v", r.status, r.raw, r.header)
	}
}

func testValidation(t *testing.T, f fixture) {
	long := strings.Repeat("x", 101)
	for _, c := range []struct{ name, from, to, field string }{
		{"blank first name", `"Ada"`, `"   "`, "body.firstName"},
		{"long last name", `"Lovelace"`, `"` + long + `"`, "body.lastName"},
		{"long middle name", `"King"`, `"` + long + `"`, "body.middleName"},
		{"29 Feb of a common year", "1990-12-10", "2023-02-29", "body.dateOfBirth"},
		{"future birth", "1990-12-10", "2999-01-01", "body.dateOfBirth"},
		{"born 131 years ago", "1990-12-10", time.Now().AddDate(-131, 0, 0).Format(time.DateOnly), "body.dateOfBirth"},
		{"bad email", "Ada.Lovelace@Example.org", "nope", "body.email"},
		{"named email", `"Ada.Lovelace@Example.org"`, `"Ada <ada@example.org>"`, "body.email"},
		{"long email", "Ada.Lovelace@", strings.Repeat("a", 250) + "@", "body.email"},
		{"bad phone", "+4915112345678", "015112345678", "body.phone"},
		{"SMS without phone", `"phone":"+4915112345678",`, "", "body.phone"},
		{"SMS notifications without phone", `"phone":"+4915112345678","preferredChannel":"SMS",`, `"smsNotifications":true,`, "body.phone"},
		{"unknown channel", `"SMS"`, `"FAX"`, "body.preferredChannel"},
		{"short password", adaPassword, "short", "body.password"},
		{"long password", adaPassword, strings.Repeat("p", 129), "body.password"},
		{"metadata not an object", `{"source":"web"}`, `[1,2]`, "body.metadata"},
		{"metadata too large", `"web"`, `"` + strings.Repeat("w", 17<<10) + `"`, "body.metadata"},
		{"unknown field", `"firstName"`, `"nickname":"x","firstName"`, "body.nickname"},
	} {
		body := strings.Replace(ada, c.from, c.to, 1)
		if body == ada {
			t.Fatalf("%s: the edit changed nothing", c.name)
		}
		r := call(t, http.MethodPost, f.url+"/api/v1/patients", body)
		if r.status != http.StatusUnprocessableEntity || !slices.Contains(locations(r.doc), c.field) ||
			r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s, want a 422 problem naming %s", c.name, r.status, r.raw, c.field)
		}
	}
	r := call(t, http.MethodPost, f.url+"/api/v1/patients", strings.Replace(ada, `"lastName":"Lovelace",`, "", 1))
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.raw, "lastName") {
		t.Errorf("missing last name: %d %s", r.status, r.raw)
	}
}

func testGet(t *testing.T, f fixture, id string) {
	if r := callAs(t, "patient:"+id, http.MethodGet, f.url+"/api/v1/patients/"+id, ""); r.status != http.StatusOK || r.doc["id"] != id {
		t.Fatalf("get: %d %s", r.status, r.raw)
	}
	if r := callAs(t, "admin", http.MethodGet, f.url+"/api/v1/patients/0190a0a0-0000-7000-8000-000000000000", ""); r.status != http.StatusNotFound ||
		r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unknown patient: %d %s", r.status, r.raw)
	}
	if r := callAs(t, "admin", http.MethodGet, f.url+"/api/v1/patients/not-a-uuid", ""); r.status != http.StatusUnprocessableEntity ||
		!slices.Contains(locations(r.doc), "path.id") {
		t.Fatalf("bad id: %d %s", r.status, r.raw)
	}
}

func testPatch(t *testing.T, f fixture, id string) {
	url := f.url + "/api/v1/patients/" + id
	r := callAs(t, "patient:"+id, http.MethodPatch, url, `{"firstName":" Augusta ","preferredChannel":"EMAIL","smsNotifications":true}`)
	if r.status != http.StatusOK || r.doc["firstName"] != "Augusta" || r.doc["preferredChannel"] != "EMAIL" ||
		r.doc["smsNotifications"] != true || r.doc["email"] != "ada.lovelace@example.org" || r.doc["updatedAt"] == r.doc["createdAt"] {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	// The SMS rule holds for the merged result: SMS notifications are on.
	if r := callAs(t, "patient:"+id, http.MethodPatch, url, `{"phone":""}`); r.status != http.StatusUnprocessableEntity ||
		!slices.Contains(locations(r.doc), "body.phone") {
		t.Fatalf("removing the phone of an SMS subscriber: %d %s", r.status, r.raw)
	}
	if r := callAs(t, "patient:"+id, http.MethodPatch, url, `{"phone":"","smsNotifications":false}`); r.status != http.StatusOK || r.doc["phone"] != nil {
		t.Fatalf("removing phone and SMS together: %d %s", r.status, r.raw)
	}
	if r := callAs(t, "patient:"+id, http.MethodPatch, url, `{"preferredChannel":"SMS"}`); r.status != http.StatusUnprocessableEntity ||
		!slices.Contains(locations(r.doc), "body.phone") {
		t.Fatalf("SMS without phone: %d %s", r.status, r.raw)
	}
	if r := callAs(t, "patient:"+id, http.MethodPatch, url, `{"metadata":null}`); r.status != http.StatusOK || r.doc["metadata"] != nil {
		t.Fatalf("clearing metadata: %d %s", r.status, r.raw)
	}
	if r := callAs(t, "patient:"+id, http.MethodPatch, url, `{}`); r.status != http.StatusOK || r.doc["firstName"] != "Augusta" {
		t.Fatalf("empty patch: %d %s", r.status, r.raw)
	}
	for _, body := range []string{`{"email":"x@example.org"}`, `{"dateOfBirth":"1991-01-01"}`, `{"lastName":"  "}`} {
		if r := callAs(t, "patient:"+id, http.MethodPatch, url, body); r.status != http.StatusUnprocessableEntity {
			t.Errorf("patch %s: %d %s", body, r.status, r.raw)
		}
	}
	if r := callAs(t, "admin", http.MethodPatch, f.url+"/api/v1/patients/0190a0a0-0000-7000-8000-000000000000", `{"firstName":"X"}`); r.status != http.StatusNotFound {
		t.Fatalf("patch of an unknown patient: %d %s", r.status, r.raw)
	}
}

// Events name ids and changed fields only: no personal data in any
// envelope. A patch that is refused or changes nothing queues none.
func testEvents(t *testing.T, f fixture, id string) {
	url := f.url + "/api/v1/patients/" + id
	for _, p := range []struct {
		body   string
		status int
	}{
		{`{"firstName":" Augusta ","preferredChannel":"EMAIL","smsNotifications":true}`, http.StatusOK},
		{`{"phone":""}`, http.StatusUnprocessableEntity},
		{`{"phone":"","smsNotifications":false}`, http.StatusOK},
		{`{"metadata":null}`, http.StatusOK},
		{`{}`, http.StatusOK},
	} {
		if r := callAs(t, "patient:"+id, http.MethodPatch, url, p.body); r.status != p.status {
			t.Fatalf("patch %s: %d %s, want %d", p.body, r.status, r.raw, p.status)
		}
	}
	var got []string
	for _, e := range testkit.Outbox(t, f.db) {
		if e.AggregateID != id || e.Type == kitaudit.Recorded.Type {
			continue
		}
		env, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range append(adaSecrets, "Augusta", "source") {
			if strings.Contains(string(env), secret) {
				t.Errorf("event carries personal data %q: %s", secret, env)
			}
		}
		if err := contracts.Check(e); err != nil {
			t.Errorf("an event its contract does not describe: %v", err)
		}
		got = append(got, e.Type+" "+string(e.Payload))
	}
	want := []string{
		`patient.registered {"patientId":"` + id + `","preferredChannel":"SMS"`,
		`patient.updated {"patientId":"` + id + `","changedFields":["firstName","preferredChannel","smsNotifications"]`,
		`patient.updated {"patientId":"` + id + `","changedFields":["phone","smsNotifications"]`,
		`patient.updated {"patientId":"` + id + `","changedFields":["metadata"]`,
	}
	if len(got) != len(want) {
		t.Fatalf("events:\n%s\nwant %d", strings.Join(got, "\n"), len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]+`,"timestamp":"`) {
			t.Errorf("event %d = %s, want %s,timestamp…", i, got[i], want[i])
		}
	}
}

// Run relays committed events to the bus, and returns when its context
// ends.
func TestRunRelaysEvents(t *testing.T) {
	f := start(t, testkit.OpenDB(t, sqldb.SQLite, identity.Name))
	ctx, cancel := context.WithCancel(context.Background())
	seen := make(chan bus.Event, 10)
	sub, err := f.bus.Subscribe(ctx, "test", func(_ context.Context, e bus.Event) error {
		seen <- e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	done := make(chan error, 1)
	go func() { done <- f.svc.Run(ctx) }()

	id := register(t, f)
	select {
	case e := <-seen:
		if e.Type != contracts.PatientRegisteredV1.Type || e.AggregateID != id || e.ServiceID != identity.Name {
			t.Fatalf("relayed %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("patient.registered was not relayed")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// The gRPC health service answers for PatientService on the same mux.
func TestHealth(t *testing.T) {
	f := start(t, testkit.OpenDB(t, sqldb.SQLite, identity.Name))
	r := call(t, http.MethodPost, f.url+"/grpc.health.v1.Health/Check", `{"service":"patient.v1.PatientService"}`)
	if r.status != http.StatusOK || r.doc["status"] != "SERVING_STATUS_SERVING" {
		t.Fatalf("health: %d %s", r.status, r.raw)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
