package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// A streamed operation gets its body whole and unread, past the platform
// limit and without an Idempotency-Key record; every other operation
// keeps the limit. Its policy is checked first, and its faults are
// problems.
func TestRegisterStream(t *testing.T) {
	mux := http.NewServeMux()
	api := httpapi.NewAPI(mux, "stream-test", "1.0.0")
	var got int64
	httpapi.RegisterStream(api, huma.Operation{OperationID: "upload", Method: http.MethodPost, Path: "/things/{id}/upload"},
		authz.Roles(authn.RolePatient), func(w http.ResponseWriter, r *http.Request) error {
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				return err
			}
			if r.PathValue("id") == "bad" {
				return fault.Invalid("id", "not this one")
			}
			got = n
			w.WriteHeader(http.StatusCreated)
			return nil
		})
	httpapi.RegisterStream(api, huma.Operation{OperationID: "download", Method: http.MethodGet, Path: "/things/{id}"},
		authz.Public, func(w http.ResponseWriter, r *http.Request) error { return nil })
	httpapi.Register(api, huma.Operation{OperationID: "small", Method: http.MethodPost, Path: "/small"}, authz.Public,
		func(context.Context, *struct{ RawBody []byte }) (*struct{}, error) { return nil, nil })
	op := api.OpenAPI().Paths["/things/{id}/upload"].Post
	if op.Extensions[httpapi.StreamExtension] != true || op.Extensions[authz.Extension] != "authenticated:patient" || len(op.Security) != 1 {
		t.Errorf("spec of the streamed operation: %+v", op)
	}
	srv := httptest.NewServer(httpapi.Wrap(mux, httpapi.Options{Service: "stream-test", MaxBody: 1 << 10,
		Streams: httpapi.Streams(httpapi.StreamedRoutes(api.OpenAPI())), Verifier: testkit.Tokens{"pat": {Subject: "p", Role: authn.RolePatient},
			"pro": {Subject: "q", Role: authn.RoleProfessional}}}))
	t.Cleanup(srv.Close)
	big := bytes.Repeat([]byte("x"), 64<<10)
	for _, c := range []struct {
		path, token, key string
		want             int
	}{
		{"/things/1/upload", "pat", "", 201},
		// Not replayed from a record: the second reaches the handler too.
		{"/things/1/upload", "pat", "retry-1", 201},
		{"/things/1/upload", "pat", "retry-1", 201},
		{"/things/1/upload", "pro", "", 403},
		{"/things/1/upload", "", "", 401},
		{"/things/bad/upload", "pat", "", 422},
		{"/small", "", "", 413},
	} {
		got = 0
		req, _ := http.NewRequest(http.MethodPost, srv.URL+c.path, bytes.NewReader(big))
		req.Header.Set("Authorization", "Bearer "+c.token)
		if c.key != "" {
			req.Header.Set("Idempotency-Key", c.key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want || (c.want >= 400 && !strings.HasPrefix(res.Header.Get("Content-Type"), "application/problem+json")) {
			t.Errorf("%s by %q: %d %s, want %d", c.path, c.token, res.StatusCode, res.Header.Get("Content-Type"), c.want)
		}
		if c.want == 201 && got != int64(len(big)) {
			t.Errorf("%s: the handler read %d bytes of %d", c.path, got, len(big))
		}
	}
	streams := httpapi.Streams(httpapi.StreamedRoutes(api.OpenAPI()))
	for path, want := range map[string]bool{"POST /things/7/upload": true, "GET /things/7": true, "POST /small": false, "GET /things/7/upload": false} {
		method, p, _ := strings.Cut(path, " ")
		if got := streams(httptest.NewRequest(method, p, nil)); got != want {
			t.Errorf("%s streams: %v", path, got)
		}
	}
}
