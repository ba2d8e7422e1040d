// Package httpapi is the platform's HTTP plumbing for public REST APIs:
// a huma API on the standard library mux (OpenAPI 3.1 generated from the
// handlers), the one way an operation is registered (Register: its policy,
// its security and error responses, its faults answered as problems), the
// one middleware chain every service runs (request id, tracing, metrics,
// access log, panic recovery, verified identity, body limit, idempotency),
// RFC 9457 problem responses and the operational endpoints.
package httpapi

import (
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// SecurityScheme names the bearer JWT scheme in every document.
const SecurityScheme = "bearerAuth"

// SchemaPrefix is where component schemas live in a document.
const SchemaPrefix = "#/components/schemas/"

// NewAPI returns a huma API registering its operations on mux. It serves
// no spec or docs itself: the service's spec is published by the app and
// merged by the gateway.
func NewAPI(mux *http.ServeMux, title, version string) huma.API {
	installErrors()
	cfg := huma.DefaultConfig(title, version)
	cfg.CreateHooks = nil // no $schema links in bodies: responses are our contract
	cfg.OpenAPIPath = ""
	cfg.DocsPath = ""
	cfg.SchemasPath = ""
	cfg.Info.Description = "Second Opinion " + title
	cfg.Components.Schemas = huma.NewMapRegistry(SchemaPrefix, SchemaName)
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		SecurityScheme: {Type: "http", Scheme: "bearer", BearerFormat: "JWT",
			Description: "An access token from POST /api/v1/auth/login (EdDSA-signed JWT, 15 minutes)."},
	}
	return humago.New(mux, cfg)
}

var installOnce sync.Once

// SchemaName names a Go type's schema as a client generator will name its
// type: after the type ("CaseView"); a generic instance after its argument
// then itself ("Page[CaseView]" is "CaseViewPage"); huma's error model as
// the RFC 9457 problem it is.
func SchemaName(t reflect.Type, hint string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[huma.ErrorModel]():
		return "Problem"
	case reflect.TypeFor[huma.ErrorDetail]():
		return "ProblemDetail"
	}
	name := t.Name()
	if open := strings.IndexByte(name, '['); open > 0 && strings.HasSuffix(name, "]") {
		var args []string
		for _, a := range strings.Split(name[open+1:len(name)-1], ",") {
			args = append(args, a[strings.LastIndexByte(a, '.')+1:])
		}
		return strings.Join(args, "") + name[:open]
	}
	return huma.DefaultSchemaNamer(t, hint)
}
