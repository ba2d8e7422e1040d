package gateway

import (
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/secondopinion/platform/internal/kit/rpc"
)

func concrete(pattern string) string {
	const id = "0190c1a8-0000-7000-8000-00000000abcd"
	r := strings.NewReplacer("{id}", id, "{professionalId}", id, "{caseId}", id, "{assignmentId}", id,
		"{questionId}", "0190c1a8-0000-7000-8000-00000000abce", "{caseNumber}", "EU-2026-7KQ2ZD")
	return r.Replace(pattern)
}

func TestRoutesReachTheirTarget(t *testing.T) {
	// One upstream in process (all mode), one over the network (h2c, as
	// rpc.RemoteClient speaks it): the code path is the same.
	caseURL := serve(t, echo(caseManagement))
	url, g := front(t, Config{},
		inProcess(t, patientIdentity, echo(patientIdentity), nil),
		Upstream{Target: caseManagement, URL: caseURL, HTTP: rpc.RemoteClient(), Spec: fixtureSpec(caseManagement)},
		inProcess(t, auditTrail, echo(auditTrail), nil),
		inProcess(t, authService, echo(authService), nil),
		inProcess(t, professionals, echo(professionals), nil),
		inProcess(t, credentials, echo(credentials), nil),
		inProcess(t, assignments, echo(assignments), nil),
		inProcess(t, opinions, echo(opinions), nil))
	routes := 0
	for _, ops := range declared {
		routes += len(ops)
	}
	if len(g.Routes()) != routes {
		t.Fatalf("%d routes, want %d", len(g.Routes()), routes)
	}
	for _, rt := range g.Routes() {
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			path := concrete(rt.Pattern)
			res := do(t, rt.Method, url+path+"?cursor=a%2Fb&limit=5", strings.NewReader(`{"x":1}`), nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			got := decode[seen](t, res)
			if got.Target != rt.Target || got.Method != rt.Method || got.Path != path || got.Query != "cursor=a%2Fb&limit=5" {
				t.Fatalf("upstream saw %+v", got)
			}
			if got.Body != `{"x":1}` {
				t.Fatalf("body %q", got.Body)
			}
		})
	}
}

func TestUnroutedWithoutLegacy(t *testing.T) {
	url, _ := front(t, Config{}, inProcess(t, patientIdentity, echo(patientIdentity), nil))

	// A routed path with a method no service serves: 405 naming the others.
	res := do(t, http.MethodDelete, url+"/api/v1/patients/0190c1a8-0000-7000-8000-00000000abcd", nil, nil)
	problemOf(t, res, http.StatusMethodNotAllowed)
	if got := res.Header.Get("Allow"); got != "GET, PATCH" {
		t.Fatalf("Allow %q", got)
	}
	// Routes of a target that is not deployed here are not mounted.
	problemOf(t, do(t, http.MethodGet, url+"/api/v1/cases", nil, nil), http.StatusNotFound)
	problemOf(t, do(t, http.MethodGet, url+"/api/v1/nothing", nil, nil), http.StatusNotFound)
	problemOf(t, do(t, http.MethodGet, url+"/elsewhere", nil, nil), http.StatusNotFound)
}

func TestForwardedHeaders(t *testing.T) {
	url, _ := front(t, Config{}, inProcess(t, patientIdentity, echo(patientIdentity), nil))
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	res := do(t, http.MethodGet, url+"/api/v1/patients/p1", nil, map[string]string{
		"Authorization":     "Bearer good",
		"X-Request-ID":      "req-123",
		"Traceparent":       parent,
		"X-Forwarded-For":   "6.6.6.6",
		"X-Forwarded-Host":  "evil.example",
		"X-Forwarded-Proto": "https",
		"Forwarded":         "for=6.6.6.6",
		"Connection":        "X-Hop",
		"X-Hop":             "secret",
	})
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	got := decode[seen](t, res)
	h := got.Header
	if h.Get("Authorization") != "Bearer good" {
		t.Errorf("Authorization %q: services verify the token again and need it as sent", h.Get("Authorization"))
	}
	if h.Get("X-Request-ID") != "req-123" {
		t.Errorf("X-Request-ID %q", h.Get("X-Request-ID"))
	}
	if xff := h.Values("X-Forwarded-For"); len(xff) != 1 || xff[0] != "127.0.0.1" {
		t.Errorf("X-Forwarded-For %q: client claims must be dropped", xff)
	}
	if host := h.Get("X-Forwarded-Host"); host != strings.TrimPrefix(url, "http://") {
		t.Errorf("X-Forwarded-Host %q", host)
	}
	if h.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("X-Forwarded-Proto %q", h.Get("X-Forwarded-Proto"))
	}
	for _, k := range []string{"Forwarded", "X-Hop", "Connection"} {
		if v := h.Get(k); v != "" {
			t.Errorf("%s forwarded as %q", k, v)
		}
	}
	if got.Host != "in-process" {
		t.Errorf("Host %q, want the upstream's", got.Host)
	}
	in, out := spanOf(t, parent), spanOf(t, h.Get("Traceparent"))
	if out.TraceID() != in.TraceID() || out.SpanID() == in.SpanID() {
		t.Errorf("traceparent %q: want trace %s continued by the gateway's own span", h.Get("Traceparent"), in.TraceID())
	}
	if ids := res.Header.Values("X-Request-ID"); len(ids) != 1 || ids[0] != "req-123" {
		t.Errorf("response X-Request-ID %q", ids)
	}
	if v := res.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("upstream CORS header leaked: %q", v)
	}
}

func spanOf(t *testing.T, traceparent string) trace.SpanContext {
	t.Helper()
	parts := strings.Split(traceparent, "-")
	if len(parts) != 4 {
		t.Fatalf("traceparent %q", traceparent)
	}
	tid, err := trace.TraceIDFromHex(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	sid, err := trace.SpanIDFromHex(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid})
}

func TestRequestIDIsTheGatewaysWhenAbsentOrInvalid(t *testing.T) {
	url, _ := front(t, Config{}, inProcess(t, patientIdentity, echo(patientIdentity), nil))
	for _, sent := range []string{"", "bad id with spaces"} {
		res := do(t, http.MethodGet, url+"/api/v1/patients/p1", nil, map[string]string{"X-Request-ID": sent})
		got := decode[seen](t, res)
		id := res.Header.Get("X-Request-ID")
		if id == "" || id == sent || got.Header.Get("X-Request-ID") != id {
			t.Fatalf("sent %q: client got %q, upstream saw %q", sent, id, got.Header.Get("X-Request-ID"))
		}
	}
}

func TestBadTokenStopsAtTheEdge(t *testing.T) {
	url, _ := front(t, Config{}, inProcess(t, patientIdentity, echo(patientIdentity), nil))
	problemOf(t, do(t, http.MethodGet, url+"/api/v1/patients/p1", nil, map[string]string{"Authorization": "Bearer forged"}),
		http.StatusUnauthorized)
}

func TestUpstreamAnswersPassThrough(t *testing.T) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"status":409,"title":"Case already claimed"}`))
	})
	url, _ := front(t, Config{}, inProcess(t, caseManagement, up, nil))
	res := do(t, http.MethodPost, url+"/api/v1/cases/c1/submit", nil, nil)
	if p := problemOf(t, res, http.StatusConflict); p.Title != "Case already claimed" {
		t.Fatalf("title %q", p.Title)
	}
}
