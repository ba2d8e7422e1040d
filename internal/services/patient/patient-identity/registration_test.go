package patientidentity_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/clients/auth/authtest"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	identity "github.com/secondopinion/platform/internal/services/patient/patient-identity"
	"github.com/secondopinion/platform/internal/services/patient/patient-identity/store"
)

// Registration leaves both halves or neither: whatever fails after the
// login was created takes the login with it.
func TestRegistrationAllOrNothing(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e)+"/email taken by a profile only", func(t *testing.T) {
			f := start(t, testkit.OpenDB(t, e, identity.Name))
			// A profile registered before auth owned logins has no user.
			now := time.Now().UTC()
			if err := store.New(f.db).Create(context.Background(), store.Patient{ID: uuid.NewString(), FirstName: "Ada", LastName: "Lovelace",
				DateOfBirth: time.Date(1990, 12, 10, 0, 0, 0, 0, time.UTC), Email: "ada.lovelace@example.org",
				PreferredChannel: "EMAIL", CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			r := call(t, http.MethodPost, f.url+"/api/v1/patients", ada)
			if r.status != http.StatusConflict || r.doc["title"] != "Email already registered" {
				t.Fatalf("register: %d %s, want 409", r.status, r.raw)
			}
			if n := f.auth.Count(); n != 0 {
				t.Fatalf("%d users left behind", n)
			}
		})
		t.Run(string(e)+"/store fails", func(t *testing.T) {
			f := start(t, testkit.OpenDB(t, e, identity.Name))
			if _, err := f.db.Exec(`ALTER TABLE patients RENAME TO patients_gone`); err != nil {
				t.Fatal(err)
			}
			if r := call(t, http.MethodPost, f.url+"/api/v1/patients", ada); r.status != http.StatusInternalServerError {
				t.Fatalf("register: %d %s, want 500", r.status, r.raw)
			}
			if n := f.auth.Count(); n != 0 {
				t.Fatalf("%d users left behind", n)
			}
		})
	}
}

// Without auth nobody registers: 503 with Retry-After, no profile, and
// the readiness check says why.
func TestAuthDown(t *testing.T) {
	f := start(t, testkit.OpenDB(t, sqldb.SQLite, identity.Name))
	check := f.svc.Checks()["auth"]
	if err := check(context.Background()); err != nil {
		t.Fatalf("auth up: %v", err)
	}
	if err := f.authMem.Close(); err != nil {
		t.Fatal(err)
	}
	if err := check(context.Background()); err == nil {
		t.Fatal("auth down, yet ready")
	}
	r := call(t, http.MethodPost, f.url+"/api/v1/patients", ada)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" ||
		r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("register: %d %s %v, want a 503 problem with Retry-After", r.status, r.raw, r.header)
	}
	if n := count(t, f.db, "patients"); n != 0 {
		t.Fatalf("%d profiles stored without a login", n)
	}
}

// auth's password rules apply: a common password is refused as the
// password field, without repeating it.
func TestCommonPassword(t *testing.T) {
	f := start(t, testkit.OpenDB(t, sqldb.SQLite, identity.Name))
	const common = authtest.CommonPassword
	r := call(t, http.MethodPost, f.url+"/api/v1/patients", strings.Replace(ada, adaPassword, common, 1))
	if r.status != http.StatusUnprocessableEntity || !slices.Contains(locations(r.doc), "body.password") {
		t.Fatalf("register: %d %s, want a 422 naming body.password", r.status, r.raw)
	}
	if strings.Contains(r.raw, common) {
		t.Fatalf("the refusal repeats the password: %s", r.raw)
	}
	if u, p := f.auth.Count(), count(t, f.db, "patients"); u != 0 || p != 0 {
		t.Fatalf("refused registration left %d users, %d profiles", u, p)
	}
}
