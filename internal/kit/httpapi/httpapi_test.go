package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/telemetry"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

type thingIn struct {
	ID   string `path:"id"`
	Body struct {
		Name string `json:"name" minLength:"1"`
	}
}

type thingOut struct {
	Body struct {
		Name string `json:"name"`
		Who  string `json:"who"`
	}
}

func newServer(t *testing.T, m *telemetry.Metrics) *httptest.Server {
	mux := http.NewServeMux()
	api := httpapi.NewAPI(mux, "things", "1.0.0")
	httpapi.Register(api, huma.Operation{OperationID: "put-thing", Method: http.MethodPut, Path: "/things/{id}"}, authz.Public,
		func(ctx context.Context, in *thingIn) (*thingOut, error) {
			switch in.ID {
			case "missing":
				return nil, fault.NotFound("thing")
			case "taken":
				return nil, fault.Conflict("Thing already claimed", "someone was faster")
			case "down":
				return nil, fault.Unavailable("thing store", errors.New("dial tcp: refused"))
			case "sql":
				return nil, fmt.Errorf("put thing: %w", errors.New(`pq: syntax error at "SELECT secret"`))
			case "panic":
				panic("boom")
			case "slow":
				// A store call the caller's hang-up cancels.
				<-ctx.Done()
				return nil, fmt.Errorf("put thing: %w", ctx.Err())
			}
			out := &thingOut{}
			out.Body.Name = in.Body.Name
			out.Body.Who = string(authn.FromContext(ctx).Role)
			return out, nil
		})
	tokens := testkit.Tokens{"good": {Subject: "u1", Role: authn.RoleAdmin}}
	srv := httptest.NewServer(httpapi.Wrap(mux, httpapi.Options{Service: "things", Metrics: m, Verifier: tokens, MaxBody: 64}))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, srv *httptest.Server, id, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/things/"+id, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: not JSON: %s", id, raw)
	}
	return res, doc
}

func TestProblems(t *testing.T) {
	var logs strings.Builder
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	srv := newServer(t, telemetry.NewMetrics())
	cases := []struct {
		id, token, body string
		status          int
		title           string
	}{
		{"ok", "Bearer good", `{"name":"x"}`, 200, ""},
		{"ok", "", `{"name":"x","extra":1}`, 422, "Unprocessable Entity"},
		{"ok", "", `{"name":""}`, 422, "Unprocessable Entity"},
		{"missing", "", `{"name":"x"}`, 404, "Not found"},
		{"taken", "", `{"name":"x"}`, 409, "Thing already claimed"},
		{"down", "", `{"name":"x"}`, 503, "Service unavailable"},
		{"sql", "", `{"name":"x"}`, 500, "Internal Server Error"},
		{"panic", "", `{"name":"x"}`, 500, "Internal Server Error"},
		{"ok", "Bearer forged", `{"name":"x"}`, 401, "Unauthenticated"},
		{"ok", "Basic Zm9vOmJhcg==", `{"name":"x"}`, 401, "Unauthenticated"},
		{"ok", "", `{"name":"` + strings.Repeat("x", 100) + `"}`, 413, "Request body too large"},
	}
	for _, c := range cases {
		res, doc := do(t, srv, c.id, c.token, c.body)
		if res.StatusCode != c.status {
			t.Errorf("%s %q: status %d, want %d (%v)", c.id, c.token, res.StatusCode, c.status, doc)
			continue
		}
		if res.Header.Get(httpapi.RequestIDHeader) == "" {
			t.Errorf("%s: no request id", c.id)
		}
		if c.status >= 400 {
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("%s: content type %q", c.id, ct)
			}
			if doc["title"] != c.title {
				t.Errorf("%s: title %v, want %q", c.id, doc["title"], c.title)
			}
		}
		if strings.Contains(fmt.Sprint(doc), "SELECT") || strings.Contains(fmt.Sprint(doc), "boom") || strings.Contains(fmt.Sprint(doc), "dial tcp") {
			t.Errorf("%s: internal detail leaked: %v", c.id, doc)
		}
	}
	if res, _ := do(t, srv, "down", "", `{"name":"x"}`); res.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if res, doc := do(t, srv, "ok", "Bearer good", `{"name":"x"}`); res.StatusCode != 200 || doc["who"] != "admin" {
		t.Errorf("verified principal did not reach the handler: %v", doc)
	}
	if _, doc := do(t, srv, "ok", "", `{"name":"x","extra":"secret-diagnosis"}`); !strings.Contains(fmt.Sprint(doc["errors"]), "body") ||
		strings.Contains(fmt.Sprint(doc), "secret-diagnosis") {
		t.Errorf("unknown field not named, or the body echoed back: %v", doc)
	}
	if !strings.Contains(logs.String(), "SELECT secret") {
		t.Error("the cause of a 500 must be logged for operators")
	}
}

// A caller that hangs up is not the service failing: the handler's error
// for it is logged as 499, never as an internal error.
func TestCallerHangUpIsNoInternalError(t *testing.T) {
	var logs testkit.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	srv := newServer(t, telemetry.NewMetrics())

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/things/slow", strings.NewReader(`{"name":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("answered %d before the caller left", res.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), `"msg":"http request"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no request log: %s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if out := logs.String(); !strings.Contains(out, `"status":499`) || strings.Contains(out, "internal error") {
		t.Errorf("a hang-up logged as a failure: %s", out)
	}
}

func TestRequestIDAndMetrics(t *testing.T) {
	m := telemetry.NewMetrics()
	srv := newServer(t, m)
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/things/ok", strings.NewReader(`{"name":"x"}`))
	req.Header.Set(httpapi.RequestIDHeader, "req-123")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get(httpapi.RequestIDHeader); got != "req-123" {
		t.Fatalf("request id %q, want the caller's", got)
	}
	n := testutil.CollectAndCount(m.HTTPDuration, "http_request_duration_seconds")
	if n != 1 {
		t.Fatalf("%d series, want 1", n)
	}
	want := `route="PUT /things/{id}"`
	if out, _ := testutil.CollectAndFormat(m.HTTPDuration, expfmt.TypeTextPlain, "http_request_duration_seconds"); !strings.Contains(string(out), want) {
		t.Fatalf("metrics lack %s:\n%s", want, out)
	}
}

func TestOps(t *testing.T) {
	m := telemetry.NewMetrics()
	failing := errors.New("store: connection refused")
	ok := true
	mux := http.NewServeMux()
	httpapi.Ops(mux, m.Registry, map[string]httpapi.Check{
		"store": func(context.Context) error {
			if ok {
				return nil
			}
			return failing
		},
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path string) int {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if get("/api/health") != 200 || get("/api/ready") != 200 || get("/metrics") != 200 {
		t.Fatal("ops endpoints not ok")
	}
	ok = false
	if get("/api/ready") != 503 || get("/api/health") != 200 {
		t.Fatal("readiness must fail and liveness stay up when a check fails")
	}
}
