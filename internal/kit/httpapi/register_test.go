package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

type in struct {
	Body struct {
		N int `json:"n" minimum:"1"`
	}
}

// Register records the policy in the spec and refuses before the input is
// read: a refused caller never sees a validation error or the handler.
func TestRegister(t *testing.T) {
	mux := http.NewServeMux()
	api := httpapi.NewAPI(mux, "authz-test", "1.0.0")
	calls := 0
	handler := func(context.Context, *in) (*struct{}, error) { calls++; return nil, nil }
	httpapi.Register(api, huma.Operation{OperationID: "admin-only", Method: http.MethodPost, Path: "/admin"},
		authz.Roles(authn.RoleAdmin), handler)
	httpapi.Register(api, huma.Operation{OperationID: "open", Method: http.MethodPost, Path: "/open"}, authz.Public, handler)
	huma.Register(api, huma.Operation{OperationID: "unpoliced", Method: http.MethodPost, Path: "/unpoliced"}, handler)

	if got := api.OpenAPI().Paths["/admin"].Post.Extensions[authz.Extension]; got != "authenticated:admin" {
		t.Errorf("x-policy %v", got)
	}
	if got := authz.Missing(api.OpenAPI()); !slices.Equal(got, []string{"POST /unpoliced"}) {
		t.Errorf("missing %v", got)
	}

	srv := httptest.NewServer(httpapi.Wrap(mux, httpapi.Options{Service: "authz-test", Verifier: testkit.Tokens{
		"admin": {Subject: "a", Role: authn.RoleAdmin},
		"pat":   {Subject: "p", Role: authn.RolePatient},
	}}))
	t.Cleanup(srv.Close)
	for _, c := range []struct {
		path, token, body string
		want              int
	}{
		{"/admin", "", `{"n":0}`, 401},
		{"/admin", "pat", `{"n":0}`, 403},
		{"/admin", "admin", `{"n":0}`, 422},
		{"/admin", "admin", `{"n":1}`, 204},
		{"/open", "", `{"n":1}`, 204},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want || (c.want >= 400 && c.want < 422 && res.Header.Get("Content-Type") != "application/problem+json") {
			t.Errorf("%s as %q: %d %s, want %d", c.path, c.token, res.StatusCode, res.Header.Get("Content-Type"), c.want)
		}
	}
	if calls != 2 {
		t.Errorf("handler ran %d times, want 2", calls)
	}
}
