package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/auth/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestStore(t *testing.T) {
	testkit.ForEachEngine(t, "auth", func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := store.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := outbox.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		st := store.New(db)
		u := store.User{ID: uuid.NewString(), Email: "ada@example.org", PasswordHash: "h", HashScheme: "bcrypt-sha256",
			Role: "patient", TwoFactorMethod: "NONE", Status: "active", CreatedAt: t0}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		dup := u
		dup.ID = uuid.NewString()
		if err := st.CreateUser(ctx, dup); !errors.Is(err, store.ErrEmailTaken) {
			t.Fatalf("duplicate email: %v", err)
		}
		got, err := st.UserByEmail(ctx, "ada@example.org")
		if err != nil || got.ID != u.ID || !got.CreatedAt.Equal(t0) || !got.LockedUntil.IsZero() {
			t.Fatalf("UserByEmail: %+v %v", got, err)
		}
		if err := st.RecordFailures(ctx, u.ID, 5, t0.Add(time.Minute), t0); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.User(ctx, u.ID); got.FailedAttempts != 5 || !got.LockedUntil.Equal(t0.Add(time.Minute)) {
			t.Fatalf("failures: %+v", got)
		}

		t.Run("challenge attempts", func(t *testing.T) {
			c := store.Challenge{ID: uuid.NewString(), UserID: u.ID, Method: "EMAIL", CodeHash: "x", ExpiresAt: t0.Add(5 * time.Minute)}
			if err := st.CreateChallenge(ctx, c); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				got, ok, err := st.AttemptChallenge(ctx, c.ID, t0, func(store.Challenge, *store.Attempt) (bool, error) { return false, nil })
				if err != nil || ok || got.Attempts != i || !got.ExpiresAt.Equal(c.ExpiresAt) {
					t.Fatalf("attempt %d: %+v %v %v", i, got, ok, err)
				}
			}
			if _, ok, _ := st.AttemptChallenge(ctx, c.ID, t0, func(store.Challenge, *store.Attempt) (bool, error) { return true, nil }); !ok {
				t.Fatal("success")
			}
			got, _, _ := st.AttemptChallenge(ctx, c.ID, t0, func(store.Challenge, *store.Attempt) (bool, error) { return false, nil })
			if !got.Used || got.Attempts != 2 {
				t.Fatalf("after success: %+v", got)
			}
			if _, _, err := st.AttemptChallenge(ctx, uuid.NewString(), t0, nil); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("unknown challenge: %v", err)
			}
		})

		t.Run("recovery codes", func(t *testing.T) {
			if err := st.ReplaceRecoveryCodes(ctx, u.ID, []string{"c0"}, t0); !errors.Is(err, store.ErrNoTOTP) {
				t.Fatalf("recovery codes without TOTP: %v", err)
			}
			if err := st.EnableTOTP(ctx, u.ID, "", []string{"c0"}, t0); !errors.Is(err, store.ErrPendingChanged) {
				t.Fatalf("enable without an enrolment: %v", err)
			}
			if err := st.SetPendingTOTPSecret(ctx, u.ID, "v1:a", t0); err != nil {
				t.Fatal(err)
			}
			if err := st.SetPendingTOTPSecret(ctx, u.ID, "v1:b", t0); err != nil {
				t.Fatal(err)
			}
			if err := st.EnableTOTP(ctx, u.ID, "v1:a", []string{"c0"}, t0); !errors.Is(err, store.ErrPendingChanged) {
				t.Fatalf("enable a replaced enrolment: %v", err)
			}
			if err := st.EnableTOTP(ctx, u.ID, "v1:b", []string{"c1", "c2", "c3"}, t0); err != nil {
				t.Fatal(err)
			}
			if got, _ := st.User(ctx, u.ID); got.TwoFactorMethod != "TOTP" || got.TOTPSecret != "v1:b" || got.TOTPPending != "" {
				t.Fatalf("after enabling TOTP: %+v", got)
			}
			// A new enrolment leaves the working secret until confirmed.
			if err := st.SetPendingTOTPSecret(ctx, u.ID, "v1:c", t0); err != nil {
				t.Fatal(err)
			}
			if got, _ := st.User(ctx, u.ID); got.TOTPSecret != "v1:b" || got.TOTPPending != "v1:c" {
				t.Fatalf("after a new enrolment: %+v", got)
			}
			use := func(hash string) (bool, int) {
				t.Helper()
				c := store.Challenge{ID: uuid.NewString(), UserID: u.ID, Method: "TOTP", ExpiresAt: t0.Add(time.Minute)}
				if err := st.CreateChallenge(ctx, c); err != nil {
					t.Fatal(err)
				}
				left := -1
				_, ok, err := st.AttemptChallenge(ctx, c.ID, t0, func(_ store.Challenge, a *store.Attempt) (bool, error) {
					return a.UseRecoveryCode(hash, func(n int) (bus.Event, error) {
						left = n
						return bus.New("auth", "auth.recovery_code_used", u.ID, map[string]int{"remaining": n})
					})
				})
				if err != nil {
					t.Fatal(err)
				}
				return ok, left
			}
			if ok, left := use("c2"); !ok || left != 2 {
				t.Fatalf("first use: %v %d", ok, left)
			}
			if ok, _ := use("c2"); ok {
				t.Fatal("a recovery code works once")
			}
			if err := st.ReplaceRecoveryCodes(ctx, u.ID, []string{"c4"}, t0); err != nil {
				t.Fatal(err)
			}
			if ok, _ := use("c1"); ok {
				t.Fatal("a replaced recovery code still works")
			}
			// Concurrent uses of one code: the delete's row count lets one win.
			var wins atomic.Int32
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					if ok, _ := use("c4"); ok {
						wins.Add(1)
					}
				})
			}
			wg.Wait()
			if wins.Load() != 1 {
				t.Fatalf("%d concurrent uses of one code succeeded", wins.Load())
			}
			if err := st.SetTwoFactorMethod(ctx, u.ID, "EMAIL", t0); err != nil {
				t.Fatal(err)
			}
			if got, _ := st.User(ctx, u.ID); got.TwoFactorMethod != "EMAIL" || got.TOTPSecret != "" || got.TOTPPending != "" {
				t.Fatalf("after leaving TOTP: %+v", got)
			}
		})

		t.Run("refresh families", func(t *testing.T) {
			sid := uuid.NewString()
			if err := st.AddRefreshToken(ctx, store.RefreshToken{Hash: "r1", SessionID: sid, UserID: u.ID, ExpiresAt: t0.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			cur, out, err := st.RotateRefreshToken(ctx, "r1", store.RefreshToken{Hash: "r2", ExpiresAt: t0.Add(time.Hour)}, t0)
			if err != nil || out != store.Rotated || cur.SessionID != sid {
				t.Fatalf("rotate: %+v %v %v", cur, out, err)
			}
			if _, out, _ := st.RotateRefreshToken(ctx, "r1", store.RefreshToken{Hash: "r3", ExpiresAt: t0.Add(time.Hour)}, t0); out != store.Reused {
				t.Fatalf("reuse: %v", out)
			}
			if _, out, _ := st.RotateRefreshToken(ctx, "r2", store.RefreshToken{Hash: "r4", ExpiresAt: t0.Add(time.Hour)}, t0); out != store.Unknown {
				t.Fatalf("a revoked family's newest token: %v", out)
			}
			if _, out, _ := st.RotateRefreshToken(ctx, "nope", store.RefreshToken{Hash: "r5"}, t0); out != store.Unknown {
				t.Fatalf("unknown: %v", out)
			}
			if err := st.AddRefreshToken(ctx, store.RefreshToken{Hash: "e1", SessionID: sid, UserID: u.ID, ExpiresAt: t0}); err != nil {
				t.Fatal(err)
			}
			if _, out, _ := st.RotateRefreshToken(ctx, "e1", store.RefreshToken{Hash: "e2"}, t0); out != store.Unknown {
				t.Fatalf("expired: %v", out)
			}
		})

		t.Run("reset tokens", func(t *testing.T) {
			if err := st.AddResetToken(ctx, "p1", u.ID, t0.Add(30*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if _, err := st.UseResetToken(ctx, "p1", t0.Add(30*time.Minute)); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("expired: %v", err)
			}
			if err := st.AddResetToken(ctx, "p2", u.ID, t0.Add(30*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if id, err := st.UseResetToken(ctx, "p2", t0); err != nil || id != u.ID {
				t.Fatalf("use: %s %v", id, err)
			}
			if _, err := st.UseResetToken(ctx, "p2", t0); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("twice: %v", err)
			}
		})

		t.Run("sessions", func(t *testing.T) {
			sid := uuid.NewString()
			if err := st.StartSession(ctx, store.Session{ID: sid, UserID: u.ID, Role: "patient", LastSeen: t0}); err != nil {
				t.Fatal(err)
			}
			se, err := st.TouchSession(ctx, sid, t0.Add(15*time.Minute), 15*time.Minute)
			if err != nil || se.UserID != u.ID {
				t.Fatalf("touch: %+v %v", se, err)
			}
			if _, err := st.TouchSession(ctx, sid, t0.Add(31*time.Minute), 15*time.Minute); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("idle: %v", err)
			}
			if _, err := st.TouchSession(ctx, sid, t0.Add(32*time.Minute), 15*time.Minute); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("an idle session stays ended: %v", err)
			}
		})

		if err := st.DeleteUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.User(ctx, u.ID); err == nil {
			t.Fatal("deleted user still there")
		}
	})
}
