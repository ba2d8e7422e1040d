package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

func TestCORS(t *testing.T) {
	url, _ := front(t, Config{CORSOrigins: []string{"https://app.example"}}, inProcess(t, patientIdentity, echo(patientIdentity), nil))
	preflight := map[string]string{"Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "authorization"}

	res := do(t, http.MethodOptions, url+"/api/v1/patients/p1", nil, with(preflight, "Origin", "https://app.example"))
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("allowed preflight: %d %v", res.StatusCode, res.Header)
	}
	for _, h := range []string{"Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"} {
		if !strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), h) {
			t.Errorf("Allow-Headers lacks %s", h)
		}
	}
	if !strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "PATCH") || res.Header.Get("Access-Control-Max-Age") == "" {
		t.Errorf("preflight headers %v", res.Header)
	}

	res = do(t, http.MethodOptions, url+"/api/v1/patients/p1", nil, with(preflight, "Origin", "https://evil.example"))
	if res.StatusCode != http.StatusNoContent || hasCORS(res) {
		t.Fatalf("disallowed preflight: %d %v", res.StatusCode, res.Header)
	}

	res = do(t, http.MethodGet, url+"/api/v1/patients/p1", nil, map[string]string{"Origin": "https://app.example"})
	if res.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || res.Header.Get("Access-Control-Expose-Headers") != "X-Request-ID" {
		t.Fatalf("allowed request: %v", res.Header)
	}
	res = do(t, http.MethodGet, url+"/api/v1/patients/p1", nil, map[string]string{"Origin": "https://app.example.evil"})
	if hasCORS(res) {
		t.Fatalf("disallowed request got CORS headers: %v", res.Header)
	}

	url, _ = front(t, Config{CORSOrigins: []string{"*"}}, inProcess(t, patientIdentity, echo(patientIdentity), nil))
	res = do(t, http.MethodGet, url+"/api/v1/patients/p1", nil, map[string]string{"Origin": "https://any.example"})
	if res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("wildcard: %v", res.Header)
	}
}

func with(h map[string]string, k, v string) map[string]string {
	c := map[string]string{k: v}
	for hk, hv := range h {
		c[hk] = hv
	}
	return c
}

func hasCORS(res *http.Response) bool {
	for k := range res.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			return true
		}
	}
	return false
}

func TestStranglerFigSendsUnroutedToLegacy(t *testing.T) {
	legacy := serve(t, echo("legacy"))
	url, _ := front(t, Config{LegacyURL: legacy}, inProcess(t, patientIdentity, echo(patientIdentity), nil))
	cases := []struct{ method, path, want string }{
		{http.MethodGet, "/api/v1/professionals/p9", "legacy"},
		{http.MethodDelete, "/api/v1/patients/p1", "legacy"}, // not taken over yet
		{http.MethodGet, "/api/v1/cases", "legacy"},          // its service is not deployed here
		{http.MethodGet, "/api/v1/patients/p1", patientIdentity},
	}
	for _, c := range cases {
		res := do(t, c.method, url+c.path+"?q=1", nil, map[string]string{"X-Forwarded-For": "6.6.6.6", "X-Request-ID": "legacy-1"})
		got := decode[seen](t, res)
		if got.Target != c.want || got.Path != c.path || got.Query != "q=1" || got.Method != c.method {
			t.Fatalf("%s %s reached %+v", c.method, c.path, got)
		}
		if got.Header.Get("X-Forwarded-For") != "127.0.0.1" || got.Header.Get("X-Request-ID") != "legacy-1" {
			t.Fatalf("%s %s headers %v", c.method, c.path, got.Header)
		}
	}

	// The legacy monolith down is an upstream failure like any other.
	url, _ = front(t, Config{LegacyURL: "http://" + closedAddr(t)})
	problemOf(t, do(t, http.MethodGet, url+"/api/v1/anything", nil, nil), http.StatusServiceUnavailable)
}

func TestWellKnownJWKSIsRoutedOutsideAPI(t *testing.T) {
	legacy := serve(t, echo("legacy"))
	url, _ := front(t, Config{LegacyURL: legacy}, inProcess(t, authService, echo(authService), nil))
	if got := decode[seen](t, do(t, http.MethodGet, url+"/.well-known/jwks.json", nil, nil)); got.Target != authService {
		t.Fatalf("jwks reached %+v", got)
	}
	// Only /api/ falls back to the monolith: without the auth service
	// deployed, the document is simply not here.
	url, _ = front(t, Config{LegacyURL: legacy}, inProcess(t, patientIdentity, echo(patientIdentity), nil))
	problemOf(t, do(t, http.MethodGet, url+"/.well-known/jwks.json", nil, nil), http.StatusNotFound)
}

// closedAddr is an address nothing listens on.
func closedAddr(t *testing.T) string {
	ln := testkit.Listen(t)
	ln.Close()
	return ln.Addr().String()
}

// specOf describes ops the way a service's huma API does. Both fake
// services define an "Item" with different content, and share huma's
// identical ErrorModel.
func specOf(title string, ops []Route, item *huma.Schema) *huma.OpenAPI {
	api := httpapi.NewAPI(http.NewServeMux(), title, "1.0.0")
	reg := api.OpenAPI().Components.Schemas
	reg.Map()["Item"] = item
	errModel := reg.Schema(reflect.TypeFor[huma.ErrorModel](), true, "")
	for i, op := range ops {
		params := []*huma.Param{}
		for _, name := range []string{"id", "caseNumber"} {
			if strings.Contains(op.Pattern, "{"+name+"}") {
				params = append(params, &huma.Param{Name: name, In: "path", Required: true, Schema: &huma.Schema{Type: "string"}})
			}
		}
		api.OpenAPI().AddOperation(&huma.Operation{
			OperationID: title + "-" + strings.ToLower(op.Method) + "-" + string(rune('a'+i)),
			Method:      op.Method, Path: op.Pattern, Parameters: params,
			Responses: map[string]*huma.Response{
				"200":     {Description: "OK", Content: map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{Ref: httpapi.SchemaPrefix + "Item"}}}},
				"default": {Description: "Error", Content: map[string]*huma.MediaType{"application/problem+json": {Schema: errModel}}},
			},
		})
	}
	return api.OpenAPI()
}

func patientItem() *huma.Schema {
	return &huma.Schema{Type: "object", Required: []string{"id"}, Properties: map[string]*huma.Schema{
		"id":         {Type: "string", Format: "uuid"},
		"email":      {Type: "string", Format: "email"},
		"middleName": {Type: "string", Nullable: true},
	}}
}

func caseItem() *huma.Schema {
	return &huma.Schema{Type: "object", Properties: map[string]*huma.Schema{
		"id":     {Type: "string", Format: "uuid"},
		"status": {Type: "string", Enum: []any{"DRAFT", "SUBMITTED"}},
	}}
}

func TestMergedOpenAPI(t *testing.T) {
	url, _ := front(t, Config{},
		inProcess(t, patientIdentity, echo(patientIdentity), specOf("patient-identity", declared[patientIdentity], caseItem())),
		remote(caseManagement, "http://"+closedAddr(t)),
		inProcess(t, auditTrail, echo(auditTrail), nil),
		inProcess(t, authService, echo(authService), publicSpec()),
		inProcess(t, professionals, echo(professionals), nil),
		inProcess(t, credentials, echo(credentials), nil),
		inProcess(t, assignments, echo(assignments), nil),
		inProcess(t, opinions, echo(opinions), nil))

	res := do(t, http.MethodGet, url+"/openapi.json", nil, nil)
	raw, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("status %d, %v", res.StatusCode, err)
	}
	var doc struct {
		Info     struct{ Title string }
		Servers  []struct{ URL string }
		Security []map[string][]string
		Paths    map[string]map[string]struct {
			Security  *[]map[string][]string
			Responses map[string]struct {
				Content map[string]struct{ Schema map[string]any }
			}
		}
		Components struct {
			Schemas         map[string]map[string]any
			SecuritySchemes map[string]struct{ Type, Scheme, BearerFormat string }
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("merged spec is not JSON: %v", err)
	}
	if doc.Info.Title != "Second Opinion API" || len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("info %+v servers %+v", doc.Info, doc.Servers)
	}
	// Every deployed service's operations, the remote one's too although
	// it is unreachable: the gateway publishes what it routes.
	for target, ops := range declared {
		for _, rt := range ops {
			if _, ok := doc.Paths[rt.Pattern][strings.ToLower(rt.Method)]; !ok && target != authService {
				t.Errorf("merged spec lacks %s %s", rt.Method, rt.Pattern)
			}
		}
	}
	if s := doc.Components.SecuritySchemes["bearerAuth"]; s.Type != "http" || s.Scheme != "bearer" || s.BearerFormat != "JWT" {
		t.Errorf("security scheme %+v", s)
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearerAuth"] == nil {
		t.Errorf("default security %v", doc.Security)
	}
	// A public operation asks for no token; the others keep the default.
	if sec := doc.Paths["/api/v1/auth/login"]["post"].Security; sec == nil || len(*sec) != 0 {
		t.Errorf("public login security %v", sec)
	}
	if sec := doc.Paths["/api/v1/cases"]["get"].Security; sec != nil {
		t.Errorf("an authenticated operation overrides the default: %v", *sec)
	}
	// The gateway's own answers are on every operation, as problems.
	for _, code := range []string{"502", "503", "504"} {
		r, ok := doc.Paths["/api/v1/cases"]["get"].Responses[code]
		if !ok || r.Content["application/problem+json"].Schema["$ref"] != "#/components/schemas/Problem" {
			t.Errorf("GET /api/v1/cases lacks the gateway's %s: %+v", code, r)
		}
	}
	if _, ok := doc.Components.Schemas["Problem"]; !ok {
		t.Errorf("shared Problem missing")
	}
}

// publicSpec is auth's fixture with a public login.
func publicSpec() *huma.OpenAPI {
	spec := specOf(authService, declared[authService], caseItem())
	spec.Paths["/api/v1/auth/login"].Post.Extensions = map[string]any{"x-policy": "public"}
	return spec
}

// Two services naming different schemas alike is refused: a client
// generator would get one type for two things, or a name no person chose.
func TestMergedOpenAPIRefusesAClash(t *testing.T) {
	_, err := New(Config{},
		[]Upstream{inProcess(t, patientIdentity, echo(patientIdentity), specOf("patient-identity", declared[patientIdentity], patientItem())),
			inProcess(t, caseManagement, echo(caseManagement), nil)})
	if err == nil || !strings.Contains(err.Error(), "schema Item differs") {
		t.Fatalf("err %v", err)
	}
}

func TestDocsPage(t *testing.T) {
	url, _ := front(t, Config{})
	res := do(t, http.MethodGet, url+"/docs", nil, nil)
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(b), `apiDescriptionUrl="/openapi.json"`) || !strings.Contains(string(b), `<noscript>`) {
		t.Fatalf("docs: %d %s", res.StatusCode, b)
	}
}

func TestChecksProbeRemoteUpstreamsOnly(t *testing.T) {
	ready := http.NewServeMux()
	ready.HandleFunc("GET /api/ready", func(w http.ResponseWriter, r *http.Request) {})
	notReady := http.NewServeMux()
	notReady.HandleFunc("GET /api/ready", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	g, err := New(Config{}, []Upstream{
		remote(patientIdentity, serve(t, ready)),
		remote(caseManagement, serve(t, notReady)),
		inProcess(t, "in-process", echo("x"), &huma.OpenAPI{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := g.Checks()
	if len(checks) != 2 {
		t.Fatalf("checks %v", checks)
	}
	if err := checks["upstream "+patientIdentity](context.Background()); err != nil {
		t.Errorf("ready upstream: %v", err)
	}
	if err := checks["upstream "+caseManagement](context.Background()); err == nil {
		t.Errorf("not-ready upstream passed")
	}
}
