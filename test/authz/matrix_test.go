// Package authz_test is the authorisation matrix: it boots the whole
// platform, walks EVERY operation of the merged OpenAPI document as an
// anonymous caller, patient A, patient B, a professional and an admin, all
// aimed at patient A's data, and fails on any answer the operation's
// declared policy (x-policy) and patient ownership do not explain — an
// unexpected allow above all. An operation without a policy, or without an
// entry in this file's request table, fails it too, so a new route cannot
// ship unexamined. The callers hold real access tokens, obtained by
// logging in through POST /api/v1/auth/login.
package authz_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to create the run's database

	authv1 "github.com/secondopinion/platform/api/gen/auth/v1"
	"github.com/secondopinion/platform/api/gen/auth/v1/authv1connect"
	"github.com/secondopinion/platform/internal/app"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/auth"
)

// request says how to call one operation against patient A's data. query
// and body are built per call (registrations need fresh emails); ofA says
// the call reaches patient A's data, so that patient B must be refused
// whatever the policy claims. answer is the status every admitted caller
// gets when the body is meant to fail (a bogus token, a wrong code), 0
// for any 2xx; ownSession marks a call that ends the caller's session, so
// it is made with the token of a fresh login.
type request struct {
	query      func(f *fixtures) string
	body       func(f *fixtures) any
	ofA        bool
	answer     int
	ownSession bool
}

// requests is the matrix's table: every operation of the merged spec must
// have an entry. Extend it with each new route.
var requests = map[string]request{
	"POST /api/v1/patients":                 {body: func(*fixtures) any { return registration() }},
	"GET /api/v1/patients/{id}":             {ofA: true},
	"PATCH /api/v1/patients/{id}":           {ofA: true, body: func(*fixtures) any { return map[string]any{"smsNotifications": false} }},
	"GET /api/v1/patients/{id}/access-log":  {ofA: true},
	"POST /api/v1/cases":                    {ofA: true, body: func(f *fixtures) any { return newCase(f.a) }},
	"GET /api/v1/cases":                     {ofA: true, query: func(f *fixtures) string { return "customerId=" + f.a }},
	"GET /api/v1/cases/{id}":                {ofA: true},
	"GET /api/v1/cases/{caseNumber}/status": {ofA: true},
	"POST /api/v1/cases/{id}/submit":        {ofA: true},
	"POST /api/v1/cases/{id}/cancel":        {ofA: true},
	"GET /api/v1/audit":                     {},
	"GET /api/v1/audit/verify":              {},

	"POST /api/v1/auth/login": {body: func(f *fixtures) any {
		return map[string]string{"email": f.accounts["patient A"].email, "password": f.accounts["patient A"].password}
	}},
	"POST /api/v1/auth/2fa/verify": {answer: http.StatusUnauthorized, body: func(*fixtures) any {
		return map[string]string{"challengeId": uuid.NewString(), "code": "123456"}
	}},
	"POST /api/v1/auth/refresh": {answer: http.StatusUnauthorized, body: func(*fixtures) any {
		return map[string]string{"refreshToken": uuid.NewString()}
	}},
	"POST /api/v1/auth/logout": {ownSession: true},
	"POST /api/v1/auth/password-reset": {body: func(*fixtures) any {
		return map[string]string{"email": "nobody." + uuid.NewString()[:12] + "@example.org"}
	}},
	"POST /api/v1/auth/password-reset/confirm": {answer: http.StatusUnprocessableEntity, body: func(*fixtures) any {
		return map[string]string{"token": uuid.NewString(), "newPassword": "another long passphrase"}
	}},
	"POST /api/v1/auth/2fa/totp": {},
	// Enabling TOTP would change the callers' later logins: a wrong code.
	"POST /api/v1/auth/2fa/totp/confirm": {answer: http.StatusUnprocessableEntity, body: func(*fixtures) any {
		return map[string]string{"code": "000000"}
	}},
	"POST /api/v1/professionals/auth": {body: func(f *fixtures) any {
		return map[string]string{"email": f.accounts["professional"].email, "password": f.accounts["professional"].password}
	}},
	"GET /.well-known/jwks.json": {},
}

// params fills a path parameter for a call on path: a patient's id is
// patient A's, a case is a fresh draft case of patient A (so commands of
// one caller never depend on another's). An unknown name fails the test.
var params = map[string]func(path string, c aCase, f *fixtures) string{
	"id": func(path string, c aCase, f *fixtures) string {
		if strings.HasPrefix(path, "/api/v1/patients/") {
			return f.a
		}
		return c.id
	},
	"caseNumber": func(_ string, c aCase, _ *fixtures) string { return c.number },
}

type caller struct {
	name string
	role authn.Role // "" is anonymous
	isB  bool
}

var callers = []caller{
	{name: "anonymous"},
	{name: "patient A", role: authn.RolePatient},
	{name: "patient B", role: authn.RolePatient, isB: true},
	{name: "professional", role: authn.RoleProfessional},
	{name: "admin", role: authn.RoleAdmin},
}

// expect is the refusal the policy gives a caller on A's data (see
// package kit/authz), or 0 when the policy admits the caller.
func expect(p authz.Policy, c caller) int {
	switch {
	case p.IsPublic():
		return 0
	case c.role == "":
		return http.StatusUnauthorized
	case !p.Admits(c.role):
		return http.StatusForbidden
	case c.isB && p.IsOwned():
		return http.StatusNotFound
	}
	return 0
}

func TestMatrix(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir(), "REGION": "EU", "SHUTDOWN_TIMEOUT": "20s",
				"ADMIN_EMAIL": "admin@example.org", "ADMIN_PASSWORD": "an admin's long passphrase"}
			if e == sqldb.Postgres {
				env["DATABASE_URL"] = testkit.FreshDatabase(t, testkit.Env(t, "TEST_DATABASE_URL"))
			}
			matrix(t, boot(t, env))
		})
	}
}

type ops map[string]authz.Policy // "METHOD path" → its policy

func matrix(t *testing.T, f *fixtures) {
	declared := f.spec(t)
	for key := range requests {
		if _, ok := declared[key]; !ok {
			t.Errorf("%s is in the matrix but not in the merged spec: remove it or route it", key)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(declared)) {
		policy := declared[key]
		req, ok := requests[key]
		if !ok {
			t.Errorf("%s has no entry in the matrix's request table: add one", key)
			continue
		}
		if req.ofA && policy.Admits(authn.RolePatient) && !policy.IsPublic() && !policy.IsOwned() {
			t.Errorf("%s reaches a patient's data but its policy %s does not restrict patients to their own", key, policy)
		}
		t.Run(key, func(t *testing.T) {
			for _, c := range callers {
				// A refusal is only ever expected where the policy restricts
				// callers: a public operation's answer is the request's own.
				refusal := expect(policy, c)
				// Patient A's data is missing to patient B, and to a
				// professional no case of A's is assigned to.
				if (c.isB || c.role == authn.RoleProfessional) && req.ofA && refusal == 0 {
					refusal = http.StatusNotFound
				}
				status, body := f.call(t, c, key, req)
				switch {
				case refusal != 0 && status/100 == 2:
					t.Errorf("UNEXPECTED ALLOW: %s (%s): %d, want %d: %s", c.name, policy, status, refusal, body)
				case refusal != 0 && status != refusal:
					t.Errorf("%s (%s): %d, want %d: %s", c.name, policy, status, refusal, body)
				case refusal == 0 && req.answer == 0 && status/100 != 2:
					t.Errorf("%s (%s): %d, want 2xx: %s", c.name, policy, status, body)
				case refusal == 0 && req.answer != 0 && status != req.answer:
					t.Errorf("%s (%s): %d, want %d: %s", c.name, policy, status, req.answer, body)
				case status/100 != 2 && !isProblem(body, status):
					t.Errorf("%s: %d is not a problem document: %s", c.name, status, body)
				}
			}
		})
	}
}

// spec reads the merged document's operations and their policies, and
// checks that every local service's own operations carry a policy and are
// routed, so none hides from the matrix outside the merged document.
func (f *fixtures) spec(t *testing.T) ops {
	t.Helper()
	status, body := f.do(t, "", http.MethodGet, "/openapi.json", nil)
	if status != http.StatusOK {
		t.Fatalf("openapi: %d", status)
	}
	var doc struct {
		Paths map[string]map[string]map[string]any
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	out := ops{}
	for path, item := range doc.Paths {
		for method, op := range item {
			key := strings.ToUpper(method) + " " + path
			name, ok := op[authz.Extension].(string)
			if !ok {
				t.Errorf("%s declares no %s", key, authz.Extension)
				continue
			}
			p, err := authz.Parse(name)
			if err != nil {
				t.Errorf("%s: %v", key, err)
				continue
			}
			out[key] = p
		}
	}
	targets, err := app.Resolve([]string{app.All})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range targets {
		spec := f.app.OpenAPI(tg.Name)
		if spec == nil {
			continue
		}
		for _, key := range authz.Missing(spec) {
			t.Errorf("%s: %s declares no policy", tg.Name, key)
		}
		for path, item := range spec.Paths {
			for method, op := range map[string]*huma.Operation{"GET": item.Get, "PUT": item.Put, "POST": item.Post, "DELETE": item.Delete, "PATCH": item.Patch} {
				if op == nil {
					continue
				}
				if _, routed := doc.Paths[path][strings.ToLower(method)]; !routed {
					t.Errorf("%s serves %s %s, which the gateway does not route: the matrix cannot reach it", tg.Name, method, path)
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("the merged spec has no operations")
	}
	return out
}

// call makes one concrete request of the operation key as c.
func (f *fixtures) call(t *testing.T, c caller, key string, req request) (int, []byte) {
	t.Helper()
	method, path, _ := strings.Cut(key, " ")
	var ca aCase
	if strings.Contains(path, "{") && strings.HasPrefix(path, "/api/v1/cases/") {
		ca = f.newCaseOfA(t)
	}
	concrete := path
	for {
		start := strings.Index(concrete, "{")
		if start < 0 {
			break
		}
		end := strings.Index(concrete[start:], "}") + start
		name := concrete[start+1 : end]
		fill, ok := params[name]
		if !ok {
			t.Fatalf("%s: no fixture for path parameter {%s}: add one to params", key, name)
		}
		concrete = concrete[:start] + fill(path, ca, f) + concrete[end+1:]
	}
	if req.query != nil {
		concrete += "?" + req.query(f)
	}
	var body any
	if req.body != nil {
		body = req.body(f)
	}
	token := f.token(c)
	if req.ownSession && token != "" {
		token = f.login(t, *f.accounts[c.name])
	}
	return f.do(t, token, method, concrete, body)
}

func isProblem(body []byte, status int) bool {
	var p struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
	}
	return json.Unmarshal(body, &p) == nil && p.Status == status && p.Title != ""
}

// fixtures is the running platform with patients A and B registered and
// every caller but the anonymous one logged in.
type fixtures struct {
	app      *app.App
	base     string
	accounts map[string]*account // by caller name
	a, b     string
}

// account is a caller's login and the access token it got.
type account struct{ email, password, token string }

type aCase struct{ id, number string }

func (f *fixtures) token(c caller) string {
	if a := f.accounts[c.name]; a != nil {
		return a.token
	}
	return ""
}

func boot(t *testing.T, env map[string]string) *fixtures {
	t.Helper()
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, app.Names()...)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), cfg, []string{app.All}, app.Options{
		Listener: testkit.Listen(t), Log: slog.New(slog.DiscardHandler), BcryptCost: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	f := &fixtures{app: a, base: "http://" + a.Addr().String(), accounts: map[string]*account{}}
	// Registration is public and creates the patient's login, whose user
	// id is the profile's; the first admin comes from ADMIN_EMAIL.
	var pa, pb account
	f.a, pa = f.register(t)
	f.b, pb = f.register(t)
	pro := f.professional(t, cfg)
	for name, acc := range map[string]account{"patient A": pa, "patient B": pb, "professional": pro,
		"admin": {email: cfg.AdminEmail, password: cfg.AdminPassword}} {
		acc.token = f.login(t, acc)
		f.accounts[name] = &acc
	}
	// Patient B has a case of their own, so refusals are not for want of one.
	if status, body := f.do(t, f.accounts["patient B"].token, http.MethodPost, "/api/v1/cases", newCase(f.b)); status != http.StatusCreated {
		t.Fatalf("B's case: %d %s", status, body)
	}
	return f
}

func (f *fixtures) register(t *testing.T) (string, account) {
	t.Helper()
	r := registration()
	status, body := f.do(t, "", http.MethodPost, "/api/v1/patients", r)
	var p struct{ ID string }
	if status != http.StatusCreated || json.Unmarshal(body, &p) != nil || p.ID == "" {
		t.Fatalf("register: %d %s", status, body)
	}
	return p.ID, account{email: r["email"].(string), password: r["password"].(string)}
}

// professional creates a professional's login. No professional service
// exists yet, so it calls the auth service's own gRPC CreateUser — the
// call professional onboarding will make — on a second instance of the
// service over the running platform's auth store.
func (f *fixtures) professional(t *testing.T, cfg config.Config) account {
	t.Helper()
	b := inproc.New()
	t.Cleanup(func() { b.Close() })
	s, err := auth.New(auth.Config{BcryptCost: 4, SigningKeys: cfg.JWTSigningKeys}, service.Deps{
		Region: cfg.Region, DataDir: cfg.DataDir, DB: f.app.Store(auth.Name), Bus: b, Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewInProcess(httpapi.Wrap(s.Handler(), httpapi.Options{Service: auth.Name, Verifier: s.Verifier()}))
	t.Cleanup(func() { srv.Close() })
	acc := account{email: "pro." + uuid.NewString()[:12] + "@example.org", password: "a professional's passphrase"}
	client := authv1connect.NewAuthServiceClient(rpc.WithIdentity(srv.Client(), s.ServiceToken("professional-identity")), rpc.BaseURL, rpc.ClientOptions()...)
	if _, err := client.CreateUser(t.Context(), connect.NewRequest(&authv1.CreateUserRequest{
		Email: acc.email, Password: acc.password, Role: string(authn.RoleProfessional)})); err != nil {
		t.Fatalf("create professional: %v", err)
	}
	return acc
}

// login signs acc in and returns a new access token.
func (f *fixtures) login(t *testing.T, acc account) string {
	t.Helper()
	status, body := f.do(t, "", http.MethodPost, "/api/v1/auth/login", map[string]string{"email": acc.email, "password": acc.password})
	var r struct{ AccessToken string }
	if status != http.StatusOK || json.Unmarshal(body, &r) != nil || r.AccessToken == "" {
		t.Fatalf("login: %d %s", status, body)
	}
	return r.AccessToken
}

func (f *fixtures) newCaseOfA(t *testing.T) aCase {
	t.Helper()
	status, body := f.do(t, f.accounts["patient A"].token, http.MethodPost, "/api/v1/cases", newCase(f.a))
	var c struct{ ID, CaseNumber string }
	if status != http.StatusCreated || json.Unmarshal(body, &c) != nil {
		t.Fatalf("A's case: %d %s", status, body)
	}
	return aCase{c.ID, c.CaseNumber}
}

func registration() map[string]any {
	return map[string]any{
		"firstName": "Test", "lastName": "Patient", "dateOfBirth": "1980-01-02",
		"email": "p." + uuid.NewString()[:12] + "@example.org", "password": "a long enough passphrase",
	}
}

func newCase(customer string) map[string]any {
	return map[string]any{"customerId": customer, "specialty": "CARDIOLOGY",
		"title": "Palpitations", "question": "Should the arrhythmia be treated?"}
}

func (f *fixtures) do(t *testing.T, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, f.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}
