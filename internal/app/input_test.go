package app

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

const (
	inputAdmin    = "admin@input.example.org"
	inputPassword = "a long enough passphrase"
)

// Text that no store could keep — NUL, invalid UTF-8, unpaired surrogates
// — in a body or a query parameter is refused at the edge with 422 naming
// the field, on both engines alike: PostgreSQL answered 500 (SQLSTATE
// 22021) where SQLite stored it. Nothing of it is kept: the valid requests
// after it succeed as if it never came.
func TestInputThatIsNotTextIsRefused(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			env := map[string]string{"ADMIN_EMAIL": inputAdmin, "ADMIN_PASSWORD": inputPassword}
			if e == sqldb.Postgres {
				env["DATABASE_URL"] = testkit.FreshDatabase(t, testkit.Env(t, "TEST_DATABASE_URL"))
			}
			a := start(t, testConfig(t, env), All)
			c := client{t: t, base: a.base}

			fresh := func() string { return "p." + uuid.NewString()[:8] + "@example.org" }
			register := func(firstName, email string) string {
				return `{"firstName":"` + firstName + `","lastName":"Doe","dateOfBirth":"1985-04-12","email":"` + email + `","password":"` + inputPassword + `"}`
			}
			c.refused("POST", "/api/v1/patients", "", register(`Ja\u0000ne`, fresh()), "body.firstName")
			c.refused("POST", "/api/v1/patients", "", register("Ja\xffne", fresh()), "body.firstName")
			c.refused("POST", "/api/v1/patients", "", register("Jane", `jane\ud800@example.org`), "body.email")
			email := fresh()
			c.refused("POST", "/api/v1/professionals", "", `{"firstName":"Grace","lastName":"Hopper","email":"g.`+uuid.NewString()[:8]+
				`@example.org","password":"`+inputPassword+`","specialties":["NEUROLOGY"],"languages":["en"],"country":"DE","bio":"\udfff"}`, "body.bio")
			patient := c.json("POST", "/api/v1/patients", "", register("Jane", email), http.StatusCreated)["id"].(string)

			c.refused("POST", "/api/v1/auth/login", "", `{"email":"a\u0000bc@x.org","password":"x"}`, "body.email")
			c.refused("POST", "/api/v1/auth/login", "", `{"email":"`+email+`","password":"\u0000"}`, "body.password")
			c.refused("POST", "/api/v1/auth/password-reset", "", `{"email":"a\u0000bc@x.org"}`, "body.email")
			token := c.json("POST", "/api/v1/auth/login", "", `{"email":"`+email+`","password":"`+inputPassword+`"}`, http.StatusOK)["accessToken"].(string)

			kase := func(title, question string) string {
				return `{"customerId":"` + patient + `","specialty":"CARDIOLOGY","urgency":"STANDARD","title":"` + title + `","question":"` + question + `"}`
			}
			c.refused("POST", "/api/v1/cases", token, kase(`Chest\u0000pain`, "Is it worrying?"), "body.title")
			c.refused("POST", "/api/v1/cases", token, kase("Chest pain", `Is it \ud83d worrying?`), "body.question")
			created := c.json("POST", "/api/v1/cases", token, kase("Chest pain", `Is it worrying? \ud83d\ude1f`), http.StatusCreated)
			if created["question"] != "Is it worrying? 😟" {
				t.Errorf("a surrogate pair is one character: %q", created["question"])
			}
			c.refused("POST", "/api/v1/cases/"+created["id"].(string)+"/opinion/questions", token, `{"question":"Why\u0000?"}`, "body.question")

			c.refused("GET", "/api/v1/cases?cursor=%00", token, "", "query.cursor")
			c.refused("GET", "/api/v1/cases?cursor=%ED%A0%80", token, "", "query.cursor")
			// A cursor is base64 of JSON: the stores check what it hides.
			hidden := base64.RawURLEncoding.EncodeToString([]byte(`{"t":"2026-01-01T00:00:00Z","i":"\u0000"}`))
			c.refused("GET", "/api/v1/cases?cursor="+hidden, token, "", "query.cursor")
			admin := c.json("POST", "/api/v1/auth/login", "", `{"email":"`+inputAdmin+`","password":"`+inputPassword+`"}`, http.StatusOK)["accessToken"].(string)
			c.refused("GET", "/api/v1/audit?actor=%00", admin, "", "query.actor")
			c.refused("GET", "/api/v1/audit?resourceType=%FF", admin, "", "query.resourceType")

			if page := c.json("GET", "/api/v1/cases", token, "", http.StatusOK); len(page["items"].([]any)) != 1 {
				t.Errorf("cases after the refusals: %v", page)
			}
		})
	}
}

type client struct {
	t    *testing.T
	base string
}

func (c client) do(method, path, token, body string) (int, http.Header, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

func (c client) json(method, path, token, body string, status int) map[string]any {
	c.t.Helper()
	code, _, b := c.do(method, path, token, body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); code != status || err != nil {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, code, b, status)
	}
	return m
}

// refused fails the test unless the request is answered 422 with a
// problem naming field.
func (c client) refused(method, path, token, body, field string) {
	c.t.Helper()
	code, h, b := c.do(method, path, token, body)
	var p struct {
		Errors []struct {
			Location string `json:"location"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(b, &p)
	var where []string
	for _, e := range p.Errors {
		where = append(where, e.Location)
	}
	if code != http.StatusUnprocessableEntity || h.Get("Content-Type") != "application/problem+json" || !slices.Contains(where, field) {
		c.t.Errorf("%s %s %.80q: %d %s, want 422 naming %s", method, path, body, code, b, field)
	}
}
