package auth_test

import (
	"errors"
	"testing"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/auth"
)

// auth hands the notification service a secret with its user, channel,
// address and purpose, and nothing to word: the wording is notification's.
// A secret that cannot be delivered fails the request with 503, so the
// user tries again rather than waits for a code that never comes.
func TestSecretsGoThroughTheMailer(t *testing.T) {
	box := &sentBox{}
	f, err := build(t, testkit.OpenDB(t, sqldb.SQLite, auth.Name), auth.Config{Mailer: box})
	if err != nil {
		t.Fatal(err)
	}
	id := f.user(t, "ada@example.org", "patient", "SMS")
	if r := f.login(t, "ada@example.org", password); r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	f.call(t, "/api/v1/auth/password-reset", "", map[string]string{"email": "ada@example.org"})
	ms := box.messages()
	if len(ms) != 2 {
		t.Fatalf("%d messages, want 2", len(ms))
	}
	want := []auth.Message{
		{UserID: id, Channel: "SMS", To: "+4915112345678", Purpose: "LOGIN"},
		{UserID: id, Channel: "EMAIL", To: "ada@example.org", Purpose: "PASSWORD_RESET"},
	}
	for i, m := range ms {
		code := m.Code
		m.Code = ""
		if m != want[i] || code == "" {
			t.Errorf("message %d: %+v (code %q), want %+v", i, m, code, want[i])
		}
	}

	box.mu.Lock()
	box.fail = errors.New("notification is down")
	box.mu.Unlock()
	f.clock.advance(60e9)
	if r := f.login(t, "ada@example.org", password); r.status != 503 {
		t.Fatalf("login while codes cannot be sent: %d %s", r.status, r.raw)
	}
}
