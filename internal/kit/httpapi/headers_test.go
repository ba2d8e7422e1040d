package httpapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/idempotency"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// Every answer of the chain is kept by no cache and never sniffed, unless
// its handler chose its own caching; problems the chain answers itself and
// replayed answers included.
func TestAnswersArePrivate(t *testing.T) {
	runs := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /profile", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"name":"Ada"}`))
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /silent", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	mux.HandleFunc("POST /things", func(w http.ResponseWriter, r *http.Request) {
		runs++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%d}`, runs)
	})
	srv := httptest.NewServer(httpapi.Wrap(mux, httpapi.Options{Service: "headers-test",
		Verifier: testkit.Tokens{"a": {Subject: "11111111-1111-1111-1111-111111111111", Role: authn.RolePatient}}}))
	t.Cleanup(srv.Close)

	do := func(method, path, token, key string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader("{}"))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if key != "" {
			req.Header.Set(idempotency.Header, key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for _, c := range []struct {
		name, method, path, token, cache string
		status                           int
	}{
		{"an answer", "GET", "/profile", "", "no-store", 200},
		{"its own caching", "GET", "/keys", "", "public, max-age=300", 200},
		{"nothing written", "GET", "/silent", "", "no-store", 200},
		{"a panic", "GET", "/panic", "", "no-store", 500},
		{"a bad token", "GET", "/profile", "forged", "no-store", 401},
		{"no route", "GET", "/nowhere", "", "no-store", 404},
	} {
		res := do(c.method, c.path, c.token, "")
		if res.StatusCode != c.status || strings.Join(res.Header.Values("Cache-Control"), " | ") != c.cache ||
			res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d %v", c.name, res.StatusCode, res.Header)
		}
	}

	// The platform's no-store is no secret: the answer is kept for the
	// key, and its replay is private too.
	first, again := do("POST", "/things", "a", "k1"), do("POST", "/things", "a", "k1")
	if runs != 1 || first.StatusCode != 201 || again.StatusCode != 201 || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %d %v, runs %d", first.StatusCode, again.StatusCode, again.Header, runs)
	}
	if again.Header.Get("Cache-Control") != "no-store" || again.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("replayed headers %v", again.Header)
	}
}
