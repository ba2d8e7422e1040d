package identity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/gen/patient/v1/patientv1connect"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/telemetry"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/patient/identity"
	"golang.org/x/crypto/bcrypt"
)

type fixture struct {
	url  string
	db   *sqldb.DB
	h    http.Handler
	logs *bytes.Buffer
}

func start(t *testing.T, e sqldb.Engine) fixture {
	t.Helper()
	db := testkit.OpenDB(t, e, identity.Name)
	if err := identity.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	prev := slog.Default()
	slog.SetDefault(log)
	t.Cleanup(func() { slog.SetDefault(prev) })
	svc, err := identity.New(identity.Config{BcryptCost: bcrypt.MinCost},
		service.Deps{DB: db, Bus: inproc.New(), Log: log, Metrics: telemetry.NewMetrics(), Region: "EU"})
	if err != nil {
		t.Fatal(err)
	}
	h := httpapi.Wrap(svc.Handler(), httpapi.Options{Service: identity.Name})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return fixture{url: srv.URL, db: db, h: h, logs: logs}
}

const ada = `{"firstName":"Ada","lastName":"Lovelace","dateOfBirth":"1990-12-10","email":"Ada.Lovelace@Example.org",
	"phone":"+4915112345678","preferredChannel":"SMS","metadata":{"source":"web"},"password":"analytical engine 1843"}`

func call(t *testing.T, method, url, body string) (int, map[string]any, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)
	return res.StatusCode, doc, string(raw)
}

func TestAPI(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			f := start(t, e)
			status, doc, raw := call(t, http.MethodPost, f.url+"/api/v1/patients", ada)
			if status != 201 {
				t.Fatalf("register: %d %s", status, raw)
			}
			id, _ := doc["id"].(string)
			if doc["email"] != "ada.lovelace@example.org" || doc["preferredChannel"] != "SMS" || doc["emailNotifications"] != true {
				t.Fatalf("register body: %s", raw)
			}
			if strings.Contains(raw, "password") || strings.Contains(raw, "analytical") || strings.Contains(raw, "$2a$") {
				t.Fatalf("password or hash in the response: %s", raw)
			}

			if status, _, raw := call(t, http.MethodPost, f.url+"/api/v1/patients", strings.Replace(ada, "Ada.Lovelace@", "ada.lovelace@", 1)); status != 409 {
				t.Fatalf("duplicate email (other case): %d %s", status, raw)
			}

			for name, c := range map[string]struct{ body, field string }{
				"unknown field": {strings.Replace(ada, `"firstName"`, `"nickname":"x","firstName"`, 1), "nickname"},
				"future birth":  {strings.Replace(ada, "1990-12-10", "2999-01-01", 1), "body.dateOfBirth"},
				"bad email":     {strings.Replace(ada, "Ada.Lovelace@Example.org", "nope", 1), "body.email"},
				"bad phone":     {strings.Replace(ada, "+4915112345678", "12345", 1), "body.phone"},
				"sms no phone":  {strings.Replace(ada, `"phone":"+4915112345678",`, "", 1), "body.phone"},
				"short pwd":     {strings.Replace(ada, "analytical engine 1843", "short", 1), "body.password"},
				"no last name":  {strings.Replace(ada, `"lastName":"Lovelace",`, "", 1), "lastName"},
			} {
				status, _, raw := call(t, http.MethodPost, f.url+"/api/v1/patients", c.body)
				if status != 422 || !strings.Contains(raw, c.field) {
					t.Errorf("%s: %d %s, want 422 naming %s", name, status, raw, c.field)
				}
			}

			if status, doc, raw := call(t, http.MethodGet, f.url+"/api/v1/patients/"+id, ""); status != 200 || doc["id"] != id || strings.Contains(raw, "password") {
				t.Fatalf("get: %d %s", status, raw)
			}
			if status, _, _ := call(t, http.MethodGet, f.url+"/api/v1/patients/0190a0a0-0000-7000-8000-000000000000", ""); status != 404 {
				t.Fatalf("unknown patient: %d", status)
			}
			if status, _, raw := call(t, http.MethodGet, f.url+"/api/v1/patients/not-a-uuid", ""); status != 422 || !strings.Contains(raw, "path.id") {
				t.Fatalf("bad id: %d %s", status, raw)
			}

			if status, doc, raw := call(t, http.MethodPatch, f.url+"/api/v1/patients/"+id, `{"firstName":"Augusta","preferredChannel":"EMAIL"}`); status != 200 || doc["firstName"] != "Augusta" || doc["preferredChannel"] != "EMAIL" {
				t.Fatalf("patch: %d %s", status, raw)
			}
			if status, _, raw := call(t, http.MethodPatch, f.url+"/api/v1/patients/"+id, `{"phone":"","preferredChannel":"SMS"}`); status != 422 || !strings.Contains(raw, "body.phone") {
				t.Fatalf("patch to SMS without phone: %d %s", status, raw)
			}
			if status, _, _ := call(t, http.MethodPatch, f.url+"/api/v1/patients/"+id, `{"email":"x@example.org"}`); status != 422 {
				t.Fatalf("email is not patchable: %d", status)
			}

			// Events carry ids, never personal data.
			rows, err := f.db.Query(`SELECT event_type, envelope FROM outbox ORDER BY seq`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var types []string
			for rows.Next() {
				var typ, env string
				if err := rows.Scan(&typ, &env); err != nil {
					t.Fatal(err)
				}
				types = append(types, typ)
				for _, secret := range []string{"Lovelace", "Augusta", "ada.lovelace", "+4915112345678", "1990-12-10", "analytical"} {
					if strings.Contains(env, secret) {
						t.Errorf("%s event carries personal data %q: %s", typ, secret, env)
					}
				}
			}
			if strings.Join(types, ",") != "patient.registered,patient.updated" {
				t.Fatalf("events %v", types)
			}

			for _, secret := range []string{"Lovelace", "Augusta", "ada.lovelace", "Ada.Lovelace", "+4915112345678", "1990-12-10", "analytical", "$2a$"} {
				if strings.Contains(f.logs.String(), secret) {
					t.Errorf("logs contain %q", secret)
				}
			}
		})
	}
}

func TestPatientServiceOverGRPC(t *testing.T) {
	f := start(t, sqldb.SQLite)
	mem := rpc.NewInProcess(f.h)
	t.Cleanup(func() { mem.Close() })
	c := patientv1connect.NewPatientServiceClient(mem.Client(), rpc.BaseURL, rpc.ClientOptions()...)
	ctx := context.Background()

	created, err := c.CreatePatient(ctx, connect.NewRequest(&patientv1.CreatePatientRequest{
		FirstName: "Grace", LastName: "Hopper", Email: "grace@example.org", DateOfBirth: "1906-12-09",
		Password: "cobol compiler 1959",
	}))
	if err != nil {
		t.Fatal(err)
	}
	id := created.Msg.Id
	got, err := c.GetPatient(ctx, connect.NewRequest(&patientv1.GetPatientRequest{Id: id}))
	if err != nil || got.Msg.Email != "grace@example.org" || got.Msg.PreferredChannel != "EMAIL" {
		t.Fatalf("get: %v %v", got, err)
	}
	phone := "+12025550123"
	upd, err := c.UpdatePatient(ctx, connect.NewRequest(&patientv1.UpdatePatientRequest{Id: id, Phone: &phone}))
	if err != nil || upd.Msg.Phone != phone {
		t.Fatalf("update: %v %v", upd, err)
	}
	if _, err := c.GetPatient(ctx, connect.NewRequest(&patientv1.GetPatientRequest{Id: "0190a0a0-0000-7000-8000-000000000000"})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := c.CreatePatient(ctx, connect.NewRequest(&patientv1.CreatePatientRequest{
		FirstName: "Grace", LastName: "Hopper", Email: "grace@example.org", DateOfBirth: "1906-12-09", Password: "cobol compiler 1959",
	})); connect.CodeOf(err) != connect.CodeAlreadyExists {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := c.CreatePatient(ctx, connect.NewRequest(&patientv1.CreatePatientRequest{FirstName: "x"})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("invalid: %v", err)
	}
}
