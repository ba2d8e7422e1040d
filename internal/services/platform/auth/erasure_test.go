package auth_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	contracts "github.com/secondopinion/platform/api/events"
	authv1 "github.com/secondopinion/platform/api/gen/auth/v1"
	"github.com/secondopinion/platform/api/gen/auth/v1/authv1connect"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/auth"
)

// An erased patient's login goes with them: they cannot log in, their
// refresh and access tokens stop working at once, nothing of them is left
// in the store, and another user is untouched. Erasing again does nothing.
// (The messages sent to them are the notification service's to erase.)
func TestPatientErasedTakesTheLogin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		testErasure(t, f)
	})
	t.Run("redis sessions", func(t *testing.T) {
		c, prefix := redisClient(t)
		f, err := build(t, testkit.OpenDB(t, sqldb.SQLite, auth.Name), auth.Config{Redis: c, RedisPrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		testErasure(t, f)
	})
}

func testErasure(t *testing.T, f fixture) {
	ctx := context.Background()
	ada := f.user(t, "ada.erased@example.org", "patient", "")
	f.user(t, "bob.kept@example.org", "patient", "")
	session := f.login(t, "ada.erased@example.org", password)
	if session.status != 200 {
		t.Fatalf("login: %d %s", session.status, session.raw)
	}
	for _, email := range []string{"ada.erased@example.org", "bob.kept@example.org"} {
		if r := f.call(t, "/api/v1/auth/password-reset", "", map[string]string{"email": email}); r.status != 202 {
			t.Fatalf("reset: %d %s", r.status, r.raw)
		}
	}

	e, err := contracts.PatientErasedV1.New("patient-identity", ada, contracts.PatientErased{PatientID: ada, Timestamp: f.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := f.svc.Consume(ctx, e); err != nil {
			t.Fatalf("patient.erased: %v", err)
		}
		var status, last string
		if err := f.db.QueryRow(`SELECT status, COALESCE(last_error, '') FROM inbox WHERE event_id = $1`, e.ID).Scan(&status, &last); err != nil || status != "done" {
			t.Fatalf("patient.erased not handled: %s %s %v", status, last, err)
		}
	}
	if r := f.login(t, "ada.erased@example.org", password); r.status != 401 {
		t.Errorf("login after erasure: %d", r.status)
	}
	if r := f.call(t, "/api/v1/auth/refresh", "", map[string]string{"refreshToken": str(session, "refreshToken")}); r.status != 401 {
		t.Errorf("refresh after erasure: %d", r.status)
	}
	if _, err := f.svc.Verifier().Verify(ctx, str(session, "accessToken")); err == nil {
		t.Error("the access token of an erased patient still verifies")
	}
	for _, table := range []string{"users", "sessions", "refresh_tokens", "reset_tokens", "challenges", "recovery_codes"} {
		if n := testkit.CountContaining(t, f.db, table, ada, "ada.erased"); n != 0 {
			t.Errorf("%s keeps %d rows of the erased patient", table, n)
		}
	}
	f.clock.advance(time.Minute)
	if r := f.login(t, "bob.kept@example.org", password); r.status != 200 {
		t.Errorf("another user's login: %d", r.status)
	}
}

// CheckPassword confirms an erasure for patient-identity only, and a
// wrong password counts as a failed login.
func TestCheckPasswordRPC(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		id := f.user(t, "ada@example.org", "patient", "")
		check := func(pw string) error {
			_, err := f.rpc.CheckPassword(ctx, connect.NewRequest(&authv1.CheckPasswordRequest{UserId: id, Password: pw, ClientAddr: "192.0.2.7"}))
			return err
		}
		if err := check(password); err != nil {
			t.Fatalf("right password: %v", err)
		}
		if err := check("not the password"); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Fatalf("wrong password: %v", err)
		}
		var err error
		for range 10 {
			if err = check("not the password"); connect.CodeOf(err) == connect.CodeResourceExhausted {
				break
			}
		}
		if connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Fatalf("repeated wrong passwords are not throttled: %v", err)
		}
		_, err = f.rpc.CheckPassword(ctx, connect.NewRequest(&authv1.CheckPasswordRequest{UserId: "nope", Password: password}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("not an id: %v", err)
		}
		other := authv1connect.NewAuthServiceClient(rpc.WithIdentity(f.mem.Client(), f.svc.ServiceToken("professional-identity")),
			rpc.BaseURL, rpc.ClientOptions()...)
		if _, err := other.CheckPassword(ctx, connect.NewRequest(&authv1.CheckPasswordRequest{UserId: id, Password: password})); connect.CodeOf(err) != connect.CodePermissionDenied {
			t.Fatalf("another service's call: %v", err)
		}
	})
}
