package httpapi

import (
	"io"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
)

// StreamExtension marks an operation whose request body is streamed by
// its handler (uploads of medical records, up to gigabytes): the platform
// body limit and the fixed read deadline do not apply to it, the handler
// enforces its own limits, and the gateway forwards it without the
// upstream timeout. Only RegisterStream sets it.
const StreamExtension = "x-stream-body"

// RegisterStream declares an operation whose handler reads the request
// itself (multipart, tus), documented in the spec as Register's are: its
// policy, bearer security and error responses. The policy is checked
// before the handler sees the request; errors the handler returns are
// answered as problems. op.RequestBody describes the body.
func RegisterStream(api huma.API, op huma.Operation, p authz.Policy, handler func(w http.ResponseWriter, r *http.Request) error) {
	if op.Extensions == nil {
		op.Extensions = map[string]any{}
	}
	op.Extensions[authz.Extension] = p.String()
	op.Extensions[StreamExtension] = true
	if !p.IsPublic() {
		op.Security = []map[string][]string{{SecurityScheme: {}}}
	}
	op.Errors = errorsOf(op, p, input{path: true, body: op.RequestBody != nil})
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	// As huma.Register documents errors: each a problem document.
	errType := reflect.TypeOf(huma.NewError(0, ""))
	for errType.Kind() == reflect.Pointer {
		errType = errType.Elem()
	}
	problem := api.OpenAPI().Components.Schemas.Schema(errType, true, "Error")
	for _, code := range op.Errors {
		op.Responses[strconv.Itoa(code)] = &huma.Response{Description: http.StatusText(code),
			Content: map[string]*huma.MediaType{"application/problem+json": {Schema: problem}}}
	}
	api.OpenAPI().AddOperation(&op)
	api.Adapter().Handle(&op, func(hctx huma.Context) {
		r, w := humago.Unwrap(hctx)
		if err := p.Check(authn.FromContext(r.Context())); err != nil {
			WriteProblem(w, r, err)
			return
		}
		if err := handler(w, r); err != nil {
			WriteProblem(w, r, err)
		}
	})
}

// StreamedRoutes are the streamed operations of spec, as ServeMux
// patterns ("POST /api/v1/cases/{id}/documents").
func StreamedRoutes(spec *huma.OpenAPI) []string {
	var out []string
	for path, item := range spec.Paths {
		for method, op := range map[string]*huma.Operation{http.MethodPost: item.Post, http.MethodPut: item.Put,
			http.MethodPatch: item.Patch, http.MethodGet: item.Get, http.MethodHead: item.Head, http.MethodDelete: item.Delete} {
			if op != nil && op.Extensions[StreamExtension] == true {
				out = append(out, method+" "+path)
			}
		}
	}
	return out
}

// Streams reports whether a request is for one of routes (see
// StreamedRoutes).
func Streams(routes []string) func(*http.Request) bool {
	if len(routes) == 0 {
		return func(*http.Request) bool { return false }
	}
	mux := http.NewServeMux()
	for _, route := range routes {
		mux.HandleFunc(route, func(http.ResponseWriter, *http.Request) {})
	}
	return func(r *http.Request) bool {
		_, pattern := mux.Handler(r)
		return pattern != ""
	}
}

// Idle lets a streamed operation take as long as it keeps moving: each
// read of r's body moves the connection's read deadline idle ahead, and
// each write of the answer its write deadline, so a slow phone uploading
// or fetching a study is served while a stalled client is still cut off.
// Over a connection without deadlines (in process) it changes nothing.
func Idle(w http.ResponseWriter, r *http.Request, idle time.Duration) http.ResponseWriter {
	rc := http.NewResponseController(w)
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &idleBody{ReadCloser: r.Body, extend: func() { _ = rc.SetReadDeadline(time.Now().Add(idle)) }}
	}
	return &idleWriter{ResponseWriter: w, extend: func() { _ = rc.SetWriteDeadline(time.Now().Add(idle)) }}
}

type idleBody struct {
	io.ReadCloser
	extend func()
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.extend()
	return b.ReadCloser.Read(p)
}

type idleWriter struct {
	http.ResponseWriter
	extend func()
}

func (w *idleWriter) Write(p []byte) (int, error) {
	w.extend()
	return w.ResponseWriter.Write(p)
}

func (w *idleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
