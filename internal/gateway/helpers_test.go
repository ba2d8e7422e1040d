package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

func TestMain(m *testing.M) {
	// A recording provider, so the gateway's span gets its own span id
	// and the traceparent it forwards is provably its own.
	otel.SetTracerProvider(sdktrace.NewTracerProvider())
	os.Exit(m.Run())
}

// seen is what a fake upstream reports about the request it received.
type seen struct {
	Target string      `json:"target"`
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Query  string      `json:"query"`
	Host   string      `json:"host"`
	Header http.Header `json:"header"`
	Body   string      `json:"body"`
}

// echo is a fake service answering with what it saw.
func echo(target string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(httpapi.RequestIDHeader, r.Header.Get(httpapi.RequestIDHeader))
		w.Header().Set("Access-Control-Allow-Origin", "https://evil.example")
		_ = json.NewEncoder(w).Encode(seen{Target: target, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Host: r.Host, Header: r.Header, Body: string(body)})
	})
}

// serve runs h on a real listener speaking HTTP/1.1 and h2c, like a service.
func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: h, Protocols: rpc.Protocols()}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// The fake services of these tests, by target name.
const (
	patientIdentity = "patient-identity"
	caseManagement  = "case-management"
	auditTrail      = "audit"
	authService     = "auth"
	professionals   = "professional-identity"
	credentials     = "credentialing"
	assignments     = "case-assignment"
	opinions        = "medical-opinion"
)

// declared are the operations the fake services of these tests declare in
// their specs: the gateway routes what a spec declares.
var declared = map[string][]Route{
	patientIdentity: {
		{"POST", "/api/v1/patients", patientIdentity},
		{"GET", "/api/v1/patients/me", patientIdentity},
		{"GET", "/api/v1/patients/{id}", patientIdentity},
		{"PATCH", "/api/v1/patients/{id}", patientIdentity},
	},
	caseManagement: {
		{"POST", "/api/v1/cases", caseManagement},
		{"GET", "/api/v1/cases", caseManagement},
		{"GET", "/api/v1/cases/{id}", caseManagement},
		{"GET", "/api/v1/cases/{caseNumber}/status", caseManagement},
		{"POST", "/api/v1/cases/{id}/submit", caseManagement},
		{"POST", "/api/v1/cases/{id}/cancel", caseManagement},
	},
	auditTrail: {
		{"GET", "/api/v1/audit", auditTrail},
		{"GET", "/api/v1/audit/verify", auditTrail},
		{"GET", "/api/v1/patients/{id}/access-log", auditTrail},
	},
	authService: {
		{"POST", "/api/v1/auth/login", authService},
		{"POST", "/api/v1/auth/2fa/verify", authService},
		{"POST", "/api/v1/auth/refresh", authService},
		{"POST", "/api/v1/auth/logout", authService},
		{"POST", "/api/v1/auth/password-reset", authService},
		{"POST", "/api/v1/auth/password-reset/confirm", authService},
		{"POST", "/api/v1/auth/2fa/totp", authService},
		{"POST", "/api/v1/auth/2fa/totp/confirm", authService},
		{"POST", "/api/v1/auth/2fa/method", authService},
		{"POST", "/api/v1/auth/2fa/recovery-codes", authService},
		{"POST", "/api/v1/professionals/auth", authService},
		{"GET", "/.well-known/jwks.json", authService},
	},
	professionals: {
		{"POST", "/api/v1/professionals", professionals},
		{"GET", "/api/v1/professionals/{id}", professionals},
		{"PATCH", "/api/v1/professionals/{id}", professionals},
	},
	credentials: {
		{"POST", "/api/v1/professionals/{id}/credentials", credentials},
		{"GET", "/api/v1/professionals/{id}/credentials", credentials},
		{"POST", "/api/v1/credentials/{id}/verify", credentials},
		{"POST", "/api/v1/credentials/{id}/reject", credentials},
		{"POST", "/api/v1/professionals/{id}/level", credentials},
		{"GET", "/api/v1/professionals/{id}/standing", credentials},
	},
	assignments: {
		{"GET", "/api/v1/assignments", assignments},
		{"GET", "/api/v1/assignments/available/{professionalId}", assignments},
		{"POST", "/api/v1/assignments/claim/{caseId}", assignments},
		{"POST", "/api/v1/assignments/release/{assignmentId}", assignments},
	},
	opinions: {
		{"PUT", "/api/v1/cases/{id}/opinion", opinions},
		{"GET", "/api/v1/cases/{id}/opinion", opinions},
		{"POST", "/api/v1/cases/{id}/opinion/submit", opinions},
		{"POST", "/api/v1/cases/{id}/opinion/questions", opinions},
		{"GET", "/api/v1/opinions/awaiting-review", opinions},
		{"GET", "/api/v1/opinions/{id}", opinions},
		{"POST", "/api/v1/opinions/{id}/review", opinions},
		{"GET", "/api/v1/opinions/{id}/report", opinions},
		{"POST", "/api/v1/opinions/{id}/questions/{questionId}/answer", opinions},
	},
}

// fixtureSpec is the spec of a fake service: its declared operations.
func fixtureSpec(target string) *huma.OpenAPI {
	return specOf(target, declared[target], caseItem())
}

// inProcess serves h in memory as target; a nil spec is the fixture's.
func inProcess(t testing.TB, target string, h http.Handler, spec *huma.OpenAPI) Upstream {
	p := rpc.NewInProcess(h)
	t.Cleanup(func() { p.Close() })
	if spec == nil {
		spec = fixtureSpec(target)
	}
	return Upstream{Target: target, URL: rpc.BaseURL, HTTP: p.Client(), Spec: spec, Local: true}
}

// remote reaches url over HTTP/1.1, so tests can hijack connections.
func remote(target, url string) Upstream {
	return Upstream{Target: target, URL: url, HTTP: &http.Client{Transport: &http.Transport{}}, Spec: fixtureSpec(target)}
}

type tokenVerifier struct{}

func (tokenVerifier) Verify(_ context.Context, token string) (authn.Principal, error) {
	if token != "good" {
		return authn.Principal{}, authn.ErrNoVerifier
	}
	return authn.Principal{Subject: "0190c1a8-0000-7000-8000-000000000001", Role: authn.RolePatient}, nil
}

// front serves a gateway behind the middleware chain the app puts around it.
func front(t testing.TB, cfg Config, ups ...Upstream) (string, *Gateway) {
	t.Helper()
	g, err := New(cfg, ups)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, httpapi.Wrap(g.Handler(), httpapi.Options{Service: "gateway", Verifier: tokenVerifier{}, Streams: g.Streams})), g
}

func do(t testing.TB, method, url string, body io.Reader, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func decode[T any](t testing.TB, res *http.Response) T {
	t.Helper()
	var v T
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		t.Fatalf("decode %s body: %v", res.Request.URL.Path, err)
	}
	return v
}

// problemOf checks res is a problem document with status and returns it.
func problemOf(t testing.TB, res *http.Response, status int) huma.ErrorModel {
	t.Helper()
	if res.StatusCode != status {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("%s %s: status %d, want %d: %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, status, b)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type %q, want problem+json", ct)
	}
	p := decode[huma.ErrorModel](t, res)
	if p.Status != status {
		t.Fatalf("problem status %d, want %d", p.Status, status)
	}
	return p
}
