package auth_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/kit/logging"
)

// The whole journey — login with an email code, failures, a lock, a reset —
// logs ids only: no email, password, code or token.
func TestLogsCarryNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(logging.New(&buf, slog.LevelDebug))
	t.Cleanup(func() { slog.SetDefault(prev) })

	f := startSQLite(t)
	id := f.user(t, "ada@example.org", "patient", "EMAIL")
	r := f.login(t, "ada@example.org", password)
	code := sixDigits.FindString(f.lastMessage(t, "ada@example.org"))
	ok := f.call(t, "/api/v1/auth/2fa/verify", "", map[string]string{"challengeId": str(r, "challengeId"), "code": code})
	f.call(t, "/api/v1/auth/refresh", "", map[string]string{"refreshToken": str(ok, "refreshToken")})
	f.call(t, "/api/v1/auth/refresh", "", map[string]string{"refreshToken": str(ok, "refreshToken")})
	for range 6 {
		f.login(t, "ada@example.org", "a wrong password here")
	}
	f.call(t, "/api/v1/auth/password-reset", "", map[string]string{"email": "ada@example.org"})

	logs := buf.String()
	if !strings.Contains(logs, id) || !strings.Contains(logs, "account locked") {
		t.Fatalf("the journey was not logged:\n%s", logs)
	}
	for _, secret := range []string{"ada@example.org", password, "a wrong password here", code, str(ok, "refreshToken"),
		str(ok, "accessToken"), "+4915112345678"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}
