// Package authz_test is the authorisation matrix: it boots the whole
// platform, walks EVERY operation of the merged OpenAPI document as an
// anonymous caller, patient A, patient B, a professional and an admin, all
// aimed at patient A's data, and fails on any answer the operation's
// declared policy (x-policy) and patient ownership do not explain — an
// unexpected allow above all. An operation without a policy, or without an
// entry in this file's request table, fails it too, so a new route cannot
// ship unexamined.
package authz_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to create the run's database

	"github.com/secondopinion/platform/internal/app"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// request says how to call one operation against patient A's data. query
// and body are built per call (registrations need fresh emails); ofA says
// the call reaches patient A's data, so that patient B must be refused
// whatever the policy claims.
type request struct {
	query func(f *fixtures) string
	body  func(f *fixtures) any
	ofA   bool
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
	name  string
	token string // "" is anonymous
	role  authn.Role
	isB   bool
}

var callers = []caller{
	{name: "anonymous"},
	{name: "patient A", token: "a", role: authn.RolePatient},
	{name: "patient B", token: "b", role: authn.RolePatient, isB: true},
	{name: "professional", token: "pro", role: authn.RoleProfessional},
	{name: "admin", token: "admin", role: authn.RoleAdmin},
}

// expect is the status class the policy gives a caller on A's data: 0 is
// "allowed" (any 2xx), else the exact refusal (see package kit/authz).
func expect(p authz.Policy, c caller) int {
	switch {
	case p.IsPublic():
		return 0
	case c.token == "":
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
			env := map[string]string{"DATA_DIR": t.TempDir(), "REGION": "EU", "SHUTDOWN_TIMEOUT": "20s"}
			if e == sqldb.Postgres {
				env["DATABASE_URL"] = freshDatabase(t, testkit.Env(t, "TEST_DATABASE_URL"))
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
				want := expect(policy, c)
				if c.isB && req.ofA && want == 0 {
					want = http.StatusNotFound
				}
				status, body := f.call(t, c, key, req)
				switch {
				case want == 0 && status/100 != 2:
					t.Errorf("%s (%s): %d, want 2xx: %s", c.name, policy, status, body)
				case want != 0 && status/100 == 2:
					t.Errorf("UNEXPECTED ALLOW: %s (%s): %d, want %d: %s", c.name, policy, status, want, body)
				case want != 0 && status != want:
					t.Errorf("%s (%s): %d, want %d: %s", c.name, policy, status, want, body)
				case want != 0 && !isProblem(body, status):
					t.Errorf("%s: refusal is not a problem document: %s", c.name, body)
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
	return f.do(t, c.token, method, concrete, body)
}

func isProblem(body []byte, status int) bool {
	var p struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
	}
	return json.Unmarshal(body, &p) == nil && p.Status == status && p.Title != ""
}

// fixtures is the running platform with patients A and B registered.
type fixtures struct {
	app    *app.App
	base   string
	tokens *tokens
	a, b   string
}

type aCase struct{ id, number string }

// tokens stands in for the auth service's verifier: each bearer token
// names its principal; patients are added once registered.
type tokens struct {
	mu sync.Mutex
	m  map[string]authn.Principal
}

func (v *tokens) Verify(_ context.Context, token string) (authn.Principal, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p, ok := v.m[token]
	if !ok {
		return authn.Principal{}, errors.New("unknown test token")
	}
	return p, nil
}

func (v *tokens) add(token string, p authn.Principal) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.m[token] = p
}

func boot(t *testing.T, env map[string]string) *fixtures {
	t.Helper()
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, app.Names()...)
	if err != nil {
		t.Fatal(err)
	}
	v := &tokens{m: map[string]authn.Principal{
		"pro":   {Subject: uuid.NewString(), Role: authn.RoleProfessional},
		"admin": {Subject: uuid.NewString(), Role: authn.RoleAdmin},
	}}
	a, err := app.New(t.Context(), cfg, []string{app.All}, app.Options{
		Listener: testkit.Listen(t), Log: slog.New(slog.DiscardHandler), BcryptCost: 4, Verifier: v,
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
	f := &fixtures{app: a, base: "http://" + a.Addr().String(), tokens: v}
	// Registration is public; the auth service's user has the profile's id.
	f.a, f.b = f.register(t), f.register(t)
	v.add("a", authn.Principal{Subject: f.a, Role: authn.RolePatient})
	v.add("b", authn.Principal{Subject: f.b, Role: authn.RolePatient})
	// Patient B has a case of their own, so refusals are not for want of one.
	if status, body := f.do(t, "b", http.MethodPost, "/api/v1/cases", newCase(f.b)); status != http.StatusCreated {
		t.Fatalf("B's case: %d %s", status, body)
	}
	return f
}

func (f *fixtures) register(t *testing.T) string {
	t.Helper()
	status, body := f.do(t, "", http.MethodPost, "/api/v1/patients", registration())
	var p struct{ ID string }
	if status != http.StatusCreated || json.Unmarshal(body, &p) != nil || p.ID == "" {
		t.Fatalf("register: %d %s", status, body)
	}
	return p.ID
}

func (f *fixtures) newCaseOfA(t *testing.T) aCase {
	t.Helper()
	status, body := f.do(t, "a", http.MethodPost, "/api/v1/cases", newCase(f.a))
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

// freshDatabase creates a database of its own for the run on the test
// server and drops it afterwards.
func freshDatabase(t *testing.T, serverURL string) string {
	t.Helper()
	admin, err := sql.Open("pgx", serverURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := "authz_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	if _, err := admin.ExecContext(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return fmt.Sprint(u)
}
