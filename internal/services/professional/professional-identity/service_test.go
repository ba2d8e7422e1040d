package professionalidentity_test

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

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/clients/auth/authtest"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	identity "github.com/secondopinion/platform/internal/services/professional/professional-identity"
)

type fixture struct {
	url string
	db  *sqldb.DB
	h   http.Handler // the wrapped handler, as the app serves it
	svc *identity.Service
	bus *inproc.Bus
	// The auth peer: a stand-in AuthService reached in memory, as in
	// `all` mode, with this service's identity on every call.
	auth    *authtest.Server
	authMem *rpc.InProcess
}

// checked is the service's bus: it holds every event the service
// publishes to its contract, and fails the test on a broken one.
type checked struct {
	*inproc.Bus
	mu     sync.Mutex
	broken []error
}

func (c *checked) Publish(ctx context.Context, evs ...bus.Event) error {
	c.mu.Lock()
	for _, e := range evs {
		if err := events.Check(e); err != nil {
			c.broken = append(c.broken, err)
		}
	}
	c.mu.Unlock()
	return c.Bus.Publish(ctx, evs...)
}

// start runs professional-identity on db with its auth peer.
func start(t *testing.T, db *sqldb.DB) fixture {
	t.Helper()
	ctx := context.Background()
	auth, authMem := authtest.Serve(t, "professional-identity", tokens{})
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
	svc, err := identity.New(identity.Config{}, service.Deps{DB: db, Bus: b, Log: slog.Default(), Region: "EU",
		Peer: func(target string) (service.Peer, error) {
			if target != "auth" {
				return service.Peer{}, fmt.Errorf("unexpected peer %s", target)
			}
			return service.Peer{HTTP: bearer(authMem.Client(), "service:"+identity.Name), URL: rpc.BaseURL}, nil
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
	return fixture{url: srv.URL, db: db, h: h, svc: svc, bus: b.Bus, auth: auth, authMem: authMem}
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
	housePassword = "vicodin and a cane 2004"
	house         = `{"firstName":"Gregory","lastName":"House","email":"G.House@Example.org","password":"` + housePassword + `",
	"specialties":["NEPHROLOGY","GENERAL_MEDICINE"],"languages":["en","es"],"country":"US","bio":"Diagnostician at Princeton-Plainsboro."}`
)

// houseSecrets are House's personal data and password, which must stay out
// of events and (for the password) every response.
var houseSecrets = []string{"Gregory", "House", "g.house", "Diagnostician", housePassword, "$2a$"}

const adminID = "0190a0a0-0000-7000-8000-0000000000ad"

// tokens stands in for the auth service: "pro:<id>" is that professional,
// "patient:<id>" that patient, "service:<name>" that service, "admin" an
// admin.
type tokens struct{}

func (tokens) Verify(_ context.Context, token string) (authn.Principal, error) {
	for prefix, role := range map[string]authn.Role{"pro:": authn.RoleProfessional, "patient:": authn.RolePatient, "service:": authn.RoleService} {
		if id, ok := strings.CutPrefix(token, prefix); ok {
			return authn.Principal{Subject: id, Role: role}, nil
		}
	}
	if token == "admin" {
		return authn.Principal{Subject: adminID, Role: authn.RoleAdmin}, nil
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
	for _, secret := range []string{housePassword, "$2a$", `"password":`} {
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

func register(t *testing.T, f fixture, body string) string {
	t.Helper()
	r := call(t, http.MethodPost, f.url+"/api/v1/professionals", body)
	if r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.raw)
	}
	id, _ := r.doc["id"].(string)
	return id
}

// Each subtest starts the service on a store of its own and registers
// House there, so that it passes alone and whichever subtests ran before
// it.
func TestAPI(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			run := func(name string, test func(t *testing.T, f fixture, id string)) {
				t.Run(name, func(t *testing.T) {
					f := start(t, testkit.OpenDB(t, e, identity.Name))
					test(t, f, register(t, f, house))
				})
			}
			run("registration", testRegistration)
			run("validation", func(t *testing.T, f fixture, _ string) { testValidation(t, f) })
			run("get", testGet)
			run("patch", testPatch)
			run("events", testEvents)
			run("access", testAccess)
			run("standing", testStanding)
		})
	}
}

func testRegistration(t *testing.T, f fixture, id string) {
	r := callAs(t, "pro:"+id, http.MethodGet, f.url+"/api/v1/professionals/"+id, "")
	want := map[string]any{
		"id": id, "firstName": "Gregory", "lastName": "House", "email": "g.house@example.org",
		"specialties": []string{"NEPHROLOGY", "GENERAL_MEDICINE"}, "languages": []string{"en", "es"}, "country": "US",
		"bio": "Diagnostician at Princeton-Plainsboro.", "level": "JUNIOR", "status": "PENDING",
	}
	for k, v := range want {
		if got, _ := json.Marshal(r.doc[k]); string(got) != mustJSON(t, v) {
			t.Errorf("%s = %s, want %s", k, got, mustJSON(t, v))
		}
	}
	houseNumber, _ := r.doc["proNumber"].(string)
	if !strings.HasPrefix(houseNumber, "PRO-EU-") || len(houseNumber) != len("PRO-EU-XXXXXX") {
		t.Errorf("proNumber %q", houseNumber)
	}
	for _, k := range []string{"createdAt", "updatedAt"} {
		s, _ := r.doc[k].(string)
		if ts, err := time.Parse(time.RFC3339, s); err != nil || !strings.HasSuffix(s, "Z") || ts.After(time.Now()) {
			t.Errorf("%s = %q: want RFC 3339 UTC in the past", k, s)
		}
	}

	// The login is auth's, under the professional's id: auth keeps House's
	// email (lower-cased) and password as a professional's login, without
	// a phone, and the user id it gave names his profile.
	if l, ok := f.auth.User(id); !ok || l.Email != "g.house@example.org" || l.Password != housePassword ||
		l.Role != string(authn.RoleProfessional) || l.Phone != "" {
		t.Fatalf("the login of professional %s is %+v (found %v), want House's as a professional", id, l, ok)
	}

	// The same email, however typed, is taken: auth says so, nothing is
	// left behind.
	users, pros := f.auth.Count(), count(t, f.db, "professionals")
	other := strings.Replace(house, "G.House@Example.org", "g.house@EXAMPLE.org", 1)
	if r := call(t, http.MethodPost, f.url+"/api/v1/professionals", other); r.status != http.StatusConflict ||
		r.doc["title"] != "Email already registered" || r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("duplicate email: %d %s", r.status, r.raw)
	}
	if u, p := f.auth.Count(), count(t, f.db, "professionals"); u != users || p != pros {
		t.Fatalf("a refused duplicate left users %d→%d, professionals %d→%d", users, u, pros, p)
	}

	minimal := `{"firstName":"Lisa","lastName":"Cuddy","email":"cuddy@example.org","password":"endocrine system 1",
		"specialties":["ENDOCRINOLOGY"],"languages":["en"],"country":"US"}`
	r = call(t, http.MethodPost, f.url+"/api/v1/professionals", minimal)
	if r.status != http.StatusCreated || r.doc["bio"] != "" || r.doc["level"] != "JUNIOR" || r.doc["proNumber"] == nil ||
		r.header.Get("Location") != "/api/v1/professionals/"+r.doc["id"].(string) {
		t.Fatalf("minimal: %d %s %v", r.status, r.raw, r.header)
	}
	if r.doc["proNumber"] == houseNumber {
		t.Fatal("two professionals share a pro number")
	}
}

func testValidation(t *testing.T, f fixture) {
	users := f.auth.Count()
	long := strings.Repeat("x", 101)
	for _, c := range []struct{ name, from, to, field string }{
		{"blank first name", `"Gregory"`, `"   "`, "body.firstName"},
		{"long last name", `"House"`, `"` + long + `"`, "body.lastName"},
		{"no specialties", `["NEPHROLOGY","GENERAL_MEDICINE"]`, `[]`, "body.specialties"},
		{"unknown specialty", `"GENERAL_MEDICINE"`, `"ASTROLOGY"`, "body.specialties"},
		{"no languages", `["en","es"]`, `[]`, "body.languages"},
		{"upper-case language", `"es"`, `"ES"`, "body.languages"},
		{"unknown language", `"es"`, `"qq"`, "body.languages"},
		{"lower-case country", `"US"`, `"us"`, "body.country"},
		{"alpha-3 country", `"US"`, `"USA"`, "body.country"},
		{"unassigned country", `"US"`, `"XX"`, "body.country"},
		{"long bio", `"Diagnostician at Princeton-Plainsboro."`, `"` + strings.Repeat("b", 2001) + `"`, "body.bio"},
		{"bad email", "G.House@Example.org", "house", "body.email"},
		{"short password", housePassword, "short", "body.password"},
		{"common password", housePassword, authtest.CommonPassword, "body.password"},
		{"unknown field", `"firstName"`, `"level":"EXPERT","firstName"`, "body.level"},
	} {
		body := strings.Replace(house, c.from, c.to, 1)
		if body == house {
			t.Fatalf("%s: the edit changed nothing", c.name)
		}
		r := call(t, http.MethodPost, f.url+"/api/v1/professionals", body)
		if r.status != http.StatusUnprocessableEntity || !slices.ContainsFunc(locations(r.doc), func(l string) bool { return strings.HasPrefix(l, c.field) }) ||
			r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s, want a 422 problem naming %s", c.name, r.status, r.raw, c.field)
		}
		if strings.Contains(r.raw, authtest.CommonPassword) {
			t.Errorf("%s: the refusal repeats the password", c.name)
		}
	}
	r := call(t, http.MethodPost, f.url+"/api/v1/professionals", strings.Replace(house, `"country":"US",`, "", 1))
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.raw, "country") {
		t.Errorf("missing country: %d %s", r.status, r.raw)
	}
	if n := f.auth.Count(); n != users {
		t.Errorf("refused registrations left logins: %d users, want %d", n, users)
	}
}

func testGet(t *testing.T, f fixture, id string) {
	if r := callAs(t, "pro:"+id, http.MethodGet, f.url+"/api/v1/professionals/"+id, ""); r.status != http.StatusOK || r.doc["id"] != id {
		t.Fatalf("get: %d %s", r.status, r.raw)
	}
	if r := callAs(t, "admin", http.MethodGet, f.url+"/api/v1/professionals/0190a0a0-0000-7000-8000-000000000000", ""); r.status != http.StatusNotFound ||
		r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("unknown professional: %d %s", r.status, r.raw)
	}
	if r := callAs(t, "admin", http.MethodGet, f.url+"/api/v1/professionals/not-a-uuid", ""); r.status != http.StatusUnprocessableEntity ||
		!slices.Contains(locations(r.doc), "path.id") {
		t.Fatalf("bad id: %d %s", r.status, r.raw)
	}
}

func testPatch(t *testing.T, f fixture, id string) {
	url := f.url + "/api/v1/professionals/" + id
	r := callAs(t, "pro:"+id, http.MethodPatch, url, `{"firstName":" Greg ","languages":["en","de"],"specialties":["NEPHROLOGY","NEPHROLOGY"]}`)
	if r.status != http.StatusOK || r.doc["firstName"] != "Greg" || mustJSON(t, r.doc["languages"]) != `["en","de"]` ||
		mustJSON(t, r.doc["specialties"]) != `["NEPHROLOGY"]` || r.doc["email"] != "g.house@example.org" || r.doc["updatedAt"] == r.doc["createdAt"] {
		t.Fatalf("patch: %d %s", r.status, r.raw)
	}
	if r := callAs(t, "admin", http.MethodPatch, url, `{"country":"GB","bio":""}`); r.status != http.StatusOK || r.doc["country"] != "GB" || r.doc["bio"] != "" {
		t.Fatalf("admin patch: %d %s", r.status, r.raw)
	}
	if r := callAs(t, "pro:"+id, http.MethodPatch, url, `{}`); r.status != http.StatusOK || r.doc["firstName"] != "Greg" {
		t.Fatalf("empty patch: %d %s", r.status, r.raw)
	}
	for body, field := range map[string]string{
		`{"level":"EXPERT"}`:        "body.level",
		`{"status":"VERIFIED"}`:     "body.status",
		`{"email":"x@example.org"}`: "body.email",
		`{"lastName":"  "}`:         "body.lastName",
		`{"specialties":[]}`:        "body.specialties",
		`{"languages":["xx"]}`:      "body.languages",
		`{"country":"de"}`:          "body.country",
	} {
		r := callAs(t, "pro:"+id, http.MethodPatch, url, body)
		if r.status != http.StatusUnprocessableEntity || !slices.ContainsFunc(locations(r.doc), func(l string) bool { return strings.HasPrefix(l, field) }) {
			t.Errorf("patch %s: %d %s, want 422 naming %s", body, r.status, r.raw, field)
		}
	}
	if r := callAs(t, "admin", http.MethodGet, url, ""); r.doc["level"] != "JUNIOR" || r.doc["status"] != "PENDING" || r.doc["country"] != "GB" {
		t.Fatalf("after refused patches: %s", r.raw)
	}
	if r := callAs(t, "admin", http.MethodPatch, f.url+"/api/v1/professionals/0190a0a0-0000-7000-8000-000000000000", `{"firstName":"X"}`); r.status != http.StatusNotFound {
		t.Fatalf("patch of an unknown professional: %d %s", r.status, r.raw)
	}
}

// outboxEvents are the domain events queued about aggregate, as "type
// payload".
func outboxEvents(t *testing.T, db *sqldb.DB, aggregate string) []string {
	t.Helper()
	var got []string
	for _, e := range testkit.Outbox(t, db) {
		if e.AggregateID != aggregate || e.Type == kitaudit.Recorded.Type {
			continue
		}
		env, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range houseSecrets {
			if strings.Contains(string(env), secret) {
				t.Errorf("event carries personal data %q: %s", secret, env)
			}
		}
		if err := events.Check(e); err != nil {
			t.Errorf("queued an event its contract does not describe: %v", err)
		}
		if e.ServiceID != identity.Name || e.AggregateID != aggregate {
			t.Errorf("envelope %+v", e)
		}
		got = append(got, e.Type+" "+string(e.Payload))
	}
	return got
}

// Events carry ids and what matching needs: no names, email or bio. A
// patch that is refused or changes nothing queues none.
func testEvents(t *testing.T, f fixture, id string) {
	url := f.url + "/api/v1/professionals/" + id
	for _, p := range []struct {
		token, body string
		status      int
	}{
		{"pro:" + id, `{"firstName":" Greg ","languages":["en","de"],"specialties":["NEPHROLOGY","NEPHROLOGY"]}`, http.StatusOK},
		{"admin", `{"country":"GB","bio":""}`, http.StatusOK},
		{"pro:" + id, `{"level":"EXPERT"}`, http.StatusUnprocessableEntity},
		{"pro:" + id, `{}`, http.StatusOK},
	} {
		if r := callAs(t, p.token, http.MethodPatch, url, p.body); r.status != p.status {
			t.Fatalf("patch %s: %d %s, want %d", p.body, r.status, r.raw, p.status)
		}
	}
	got := outboxEvents(t, f.db, id)
	var pro string
	if err := f.db.QueryRow(`SELECT pro_number FROM professionals WHERE id = $1`, id).Scan(&pro); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`professional.registered {"professionalId":"` + id + `","proNumber":"` + pro + `","specialties":["NEPHROLOGY","GENERAL_MEDICINE"],"languages":["en","es"],"country":"US","level":"JUNIOR"`,
		`professional.updated {"professionalId":"` + id + `","specialties":["NEPHROLOGY"],"languages":["en","de"],"country":"US"`,
		`professional.updated {"professionalId":"` + id + `","specialties":["NEPHROLOGY"],"languages":["en","de"],"country":"GB"`,
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

// Run relays committed events to the bus and consumes credentialing's,
// and returns when its context ends.
func TestRun(t *testing.T) {
	f := start(t, testkit.OpenDB(t, sqldb.SQLite, identity.Name))
	ctx, cancel := context.WithCancel(context.Background())
	seen := make(chan bus.Event, 10)
	sub, err := f.bus.Subscribe(ctx, "test", func(_ context.Context, e bus.Event) error {
		if e.Type == events.ProfessionalRegisteredV1.Type {
			seen <- e
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	done := make(chan error, 1)
	go func() { done <- f.svc.Run(ctx) }()

	id := register(t, f, house)
	select {
	case e := <-seen:
		if e.AggregateID != id || e.ServiceID != identity.Name {
			t.Fatalf("relayed %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("professional.registered was not relayed")
	}
	ev, err := bus.New("credentialing", events.ProfessionalVerifiedV1.Type, id, map[string]any{"professionalId": id, "timestamp": time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.bus.Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for callAs(t, "pro:"+id, http.MethodGet, f.url+"/api/v1/professionals/"+id, "").doc["status"] != "VERIFIED" {
		if time.Now().After(deadline) {
			t.Fatal("professional.verified on the bus did not verify the profile")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// The gRPC health service answers for ProfessionalService on the same mux.
func TestHealth(t *testing.T) {
	f := start(t, testkit.OpenDB(t, sqldb.SQLite, identity.Name))
	r := call(t, http.MethodPost, f.url+"/grpc.health.v1.Health/Check", `{"service":"professional.v1.ProfessionalService"}`)
	if r.status != http.StatusOK || r.doc["status"] != "SERVING_STATUS_SERVING" {
		t.Fatalf("health: %d %s", r.status, r.raw)
	}
	if err := f.svc.Checks()["auth"](context.Background()); err != nil {
		t.Fatalf("auth up: %v", err)
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
