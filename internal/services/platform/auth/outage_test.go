package auth_test

import (
	"context"
	"testing"
)

// A session that cannot be checked is no verdict on the token: while the
// session store fails, requests carrying a good token answer 503 with
// Retry-After, never 401 (a client would log its user out), and logins
// 503 too; once the store is back, the same token works.
func TestSessionStoreFailureIsNotABadToken(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		f.user(t, "ada@example.org", "patient", "")
		token := str(f.login(t, "ada@example.org", password), "accessToken")
		ctx := context.Background()
		// The sessions table going missing fails every session read and
		// write, as a store that is down does, on either engine.
		if _, err := f.db.ExecContext(ctx, `ALTER TABLE sessions RENAME TO sessions_away`); err != nil {
			t.Fatal(err)
		}
		if r := f.call(t, "/api/v1/auth/logout", token, nil); r.status != 503 || r.header.Get("Retry-After") == "" {
			t.Fatalf("request with a good token while sessions fail: %d %s", r.status, r.raw)
		}
		if r := f.login(t, "ada@example.org", password); r.status != 503 || r.header.Get("Retry-After") == "" {
			t.Fatalf("login while sessions fail: %d %s", r.status, r.raw)
		}
		if _, err := f.db.ExecContext(ctx, `ALTER TABLE sessions_away RENAME TO sessions`); err != nil {
			t.Fatal(err)
		}
		if r := f.call(t, "/api/v1/auth/logout", token, nil); r.status != 204 {
			t.Fatalf("the token after the store is back: %d %s", r.status, r.raw)
		}
	})
}
