package app

import (
	"io/fs"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/secondopinion/platform/test/journey"
)

// Everything the platform writes under DATA_DIR is its own user's only:
// the folders 0700, the files 0600 — the SQLite stores with their -wal and
// -shm, auth's key files and the mailbox's messages.
func TestDataFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	a := start(t, testConfig(t, map[string]string{"DATA_DIR": dir}), All)
	c := client{t: t, base: a.base}
	email := "files@example.org"
	c.json("POST", "/api/v1/patients", "", `{"firstName":"Jane","lastName":"Doe","dateOfBirth":"1985-04-12","email":"`+email+
		`","password":"`+inputPassword+`"}`, http.StatusCreated)
	if code, _, b := c.do("POST", "/api/v1/auth/password-reset", "", `{"email":"`+email+`"}`); code != http.StatusAccepted {
		t.Fatalf("password reset: %d %s", code, b)
	}

	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		rel, _ := filepath.Rel(dir, path)
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode().Perm(), want)
		}
		seen[regexp.MustCompile(`^mailbox/.*\.eml$`).ReplaceAllString(rel, "mailbox/*.eml")] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".", "auth.db", "auth.db-wal", "auth.db-shm", "patient-identity.db", "auth-jwt-keys",
		"auth-secret-key", "mailbox", "mailbox/*.eml"} {
		if !seen[want] {
			t.Errorf("%s was not written, or not where the test looks: %v", want, seen)
		}
	}
}

// Answers carrying personal data are kept by no cache and never sniffed;
// the JWKS keeps its public caching; the report PDF is an attachment.
func TestAnswersCarryingPersonalDataAreNotCached(t *testing.T) {
	a := start(t, testConfig(t, map[string]string{"ADMIN_EMAIL": inputAdmin, "ADMIN_PASSWORD": inputPassword, "REGION": "EU"}), All)
	c := client{t: t, base: a.base}
	j := journey.Platform{Base: a.base}
	patient := j.RegisterPatient(t)

	private := func(what string, h http.Header) {
		t.Helper()
		if h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: Cache-Control %q, X-Content-Type-Options %q", what, h.Get("Cache-Control"), h.Get("X-Content-Type-Options"))
		}
	}
	code, h, _ := c.do("POST", "/api/v1/patients", "", `{"firstName":"Jane","lastName":"Doe","dateOfBirth":"1985-04-12","email":"headers@example.org","password":"`+inputPassword+`"}`)
	if code != http.StatusCreated {
		t.Fatalf("register: %d", code)
	}
	private("registration", h)
	for _, path := range []string{"/api/v1/patients/me", "/api/v1/cases", "/api/v1/patients/" + patient.ID + "/access-log", "/api/v1/cases/EU-2026-NOPE00/status"} {
		_, h, _ := c.do("GET", path, patient.Token, "")
		private(path, h)
	}
	_, h, _ = c.do("POST", "/api/v1/auth/login", "", `{"email":"`+patient.Email+`","password":"`+patient.Password+`"}`)
	private("login", h)
	if _, h, _ := c.do("GET", "/.well-known/jwks.json", "", ""); h.Get("Cache-Control") != "public, max-age=300" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("jwks: %v", h)
	}

	admin := j.Login(t, inputAdmin, inputPassword)
	kase := j.OpenCase(t, patient, true)
	pro := j.RegisterProfessional(t)
	j.Credential(t, admin, pro, "SENIOR")
	opinion := j.Approved(t, pro, kase)
	code, h, body := c.do("GET", "/api/v1/opinions/"+opinion+"/report", patient.Token, "")
	if code != http.StatusOK || h.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(string(body), "%PDF-") {
		t.Fatalf("report: %d %s", code, h.Get("Content-Type"))
	}
	if got, want := h.Get("Content-Disposition"), `attachment; filename="opinion-`+kase.Number+`.pdf"`; got != want {
		t.Errorf("report Content-Disposition %q, want %q", got, want)
	}
	private("report", h)
}
