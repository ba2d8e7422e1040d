package professionalidentity_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	identity "github.com/secondopinion/platform/internal/services/professional/professional-identity"
)

// Registration leaves both halves or neither: a profile that cannot be
// stored takes its login with it.
func TestRegistrationAllOrNothing(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e)+"/store fails", func(t *testing.T) {
			f := start(t, testkit.OpenDB(t, e, identity.Name))
			if _, err := f.db.Exec(`ALTER TABLE professionals RENAME TO professionals_gone`); err != nil {
				t.Fatal(err)
			}
			r := call(t, http.MethodPost, f.url+"/api/v1/professionals", house)
			if r.status != http.StatusInternalServerError || strings.Contains(r.raw, "professionals") {
				t.Fatalf("register: %d %s, want a 500 that names no table", r.status, r.raw)
			}
			if n := f.auth.Count(); n != 0 {
				t.Fatalf("%d users left behind", n)
			}
		})
		t.Run(string(e)+"/email taken by a profile only", func(t *testing.T) {
			f := start(t, testkit.OpenDB(t, e, identity.Name))
			register(t, f, house)
			// The login goes, the profile stays: auth no longer knows the
			// email, this service still does.
			f.auth.Forget()
			r := call(t, http.MethodPost, f.url+"/api/v1/professionals", house)
			if r.status != http.StatusConflict || r.doc["title"] != "Email already registered" {
				t.Fatalf("register: %d %s, want 409", r.status, r.raw)
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
	if err := f.authMem.Close(); err != nil {
		t.Fatal(err)
	}
	if err := check(context.Background()); err == nil {
		t.Fatal("auth down, yet ready")
	}
	r := call(t, http.MethodPost, f.url+"/api/v1/professionals", house)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" ||
		r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("register: %d %s %v, want a 503 problem with Retry-After", r.status, r.raw, r.header)
	}
	if n := count(t, f.db, "professionals"); n != 0 {
		t.Fatalf("%d profiles stored without a login", n)
	}
}
