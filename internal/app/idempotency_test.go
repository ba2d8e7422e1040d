package app

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// An Idempotency-Key on POST /api/v1/cases through the gateway: a retry
// gets the first answer, marked replayed, and no second case — after a
// restart on the same stores too, as case-management keeps the record in
// its own store (without Redis), not in memory.
func TestIdempotencyKeyThroughGateway(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			env := map[string]string{"DATA_DIR": t.TempDir()}
			if e == sqldb.Postgres {
				env["DATABASE_URL"] = testkit.FreshDatabase(t, testkit.Env(t, "TEST_DATABASE_URL"))
			}
			cfg := testConfig(t, env)
			first := start(t, cfg, All)
			call := func(base, method, path, token, key, body string) (*http.Response, string) {
				t.Helper()
				req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				if key != "" {
					req.Header.Set("Idempotency-Key", key)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				out, _ := io.ReadAll(res.Body)
				return res, string(out)
			}
			res, out := call(first.base, http.MethodPost, "/api/v1/patients", "", "",
				`{"firstName":"Chien-Shiung","lastName":"Wu","dateOfBirth":"1982-05-31","email":"wu@example.org","password":"parity violation 1956"}`)
			if res.StatusCode != http.StatusCreated {
				t.Fatalf("register: %d %s", res.StatusCode, out)
			}
			var patient struct{ ID string }
			_ = json.Unmarshal([]byte(out), &patient)
			res, out = call(first.base, http.MethodPost, "/api/v1/auth/login", "", "", `{"email":"wu@example.org","password":"parity violation 1956"}`)
			var login struct{ AccessToken string }
			if _ = json.Unmarshal([]byte(out), &login); res.StatusCode != http.StatusOK || login.AccessToken == "" {
				t.Fatalf("login: %d %s", res.StatusCode, out)
			}
			body := `{"customerId":"` + patient.ID + `","specialty":"CARDIOLOGY","urgency":"STANDARD","title":"Palpitations","question":"Should I worry?"}`
			create := func(base string) (*http.Response, string) {
				return call(base, http.MethodPost, "/api/v1/cases", login.AccessToken, "case-1", body)
			}

			created, answer := create(first.base)
			if created.StatusCode != http.StatusCreated {
				t.Fatalf("create: %d %s", created.StatusCode, answer)
			}
			again, replayed := create(first.base)
			if again.StatusCode != http.StatusCreated || replayed != answer || again.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("retry: %d %s %v\nfirst answer %s", again.StatusCode, replayed, again.Header, answer)
			}
			if err := first.shutdown(t); err != nil {
				t.Fatal(err)
			}

			second := start(t, cfg, All)
			again, replayed = create(second.base)
			if again.StatusCode != http.StatusCreated || replayed != answer || again.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("retry after a restart: %d %s %v\nfirst answer %s", again.StatusCode, replayed, again.Header, answer)
			}
			res, out = call(second.base, http.MethodGet, "/api/v1/cases?limit=50", login.AccessToken, "", "")
			var list struct{ Items []struct{ ID string } }
			if _ = json.Unmarshal([]byte(out), &list); res.StatusCode != http.StatusOK || len(list.Items) != 1 {
				t.Fatalf("cases: %d %s", res.StatusCode, out)
			}
		})
	}
}
