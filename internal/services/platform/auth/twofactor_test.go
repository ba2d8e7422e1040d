package auth_test

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/pquerna/otp/totp"

	authv1 "github.com/secondopinion/platform/api/gen/auth/v1"
)

var recoveryCode = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)

// recoveryCodes reads the codes of a response, checking their form.
func recoveryCodes(t *testing.T, r response) []string {
	t.Helper()
	list, _ := r.doc["recoveryCodes"].([]any)
	seen := map[string]bool{}
	var codes []string
	for _, c := range list {
		s, _ := c.(string)
		if !recoveryCode.MatchString(s) || seen[s] {
			t.Fatalf("recovery code %q of %v", s, list)
		}
		seen[s] = true
		codes = append(codes, s)
	}
	return codes
}

// enrolTOTP makes TOTP the second factor of the holder of tok and returns
// the secret and the recovery codes.
func (f fixture) enrolTOTP(t *testing.T, tok string) (string, []string) {
	t.Helper()
	secret := f.startTOTP(t, tok)
	code, _ := totp.GenerateCode(secret, f.clock.Now())
	r := f.call(t, "/api/v1/auth/2fa/totp/confirm", tok, map[string]string{"code": code})
	if r.status != 200 {
		t.Fatalf("confirm: %d %s", r.status, r.raw)
	}
	return secret, recoveryCodes(t, r)
}

// startTOTP starts a TOTP enrolment of the holder of tok and returns its
// secret, not yet confirmed.
func (f fixture) startTOTP(t *testing.T, tok string) string {
	t.Helper()
	r := f.call(t, "/api/v1/auth/2fa/totp", tok, map[string]string{"password": password})
	u, err := url.Parse(str(r, "provisioningUri"))
	if r.status != 200 || err != nil || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("enrol: %d %s", r.status, r.raw)
	}
	return u.Query().Get("secret")
}

// verify answers a new login's TOTP challenge with code.
func (f fixture) verify(t *testing.T, email, code string) response {
	t.Helper()
	r := f.login(t, email, password)
	if str(r, "method") != "TOTP" {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	return f.call(t, "/api/v1/auth/2fa/verify", "", map[string]string{"challengeId": str(r, "challengeId"), "code": code})
}

// events returns the payloads of the outbox's events of type typ.
func (f fixture) events(t *testing.T, typ string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range written(t, f.db) {
		if e.Type != typ {
			continue
		}
		var payload map[string]any
		if err := json.Unmarshal(e.Payload, &payload); err != nil {
			t.Fatal(err)
		}
		out = append(out, payload)
	}
	return out
}

func (f fixture) storedSecret(t *testing.T, userID string) string {
	t.Helper()
	var s string
	if err := f.db.QueryRowContext(context.Background(), `SELECT totp_secret FROM users WHERE id = $1`, userID).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func (f fixture) storedPending(t *testing.T, userID string) string {
	t.Helper()
	var s string
	if err := f.db.QueryRowContext(context.Background(), `SELECT totp_pending_secret FROM users WHERE id = $1`, userID).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func (f fixture) setStoredSecret(t *testing.T, userID, secret string) {
	t.Helper()
	if _, err := f.db.ExecContext(context.Background(), `UPDATE users SET totp_secret = $2 WHERE id = $1`, userID, secret); err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryCodes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		id := f.user(t, "ada@example.org", "patient", "")
		tok := str(f.login(t, "ada@example.org", password), "accessToken")
		_, codes := f.enrolTOTP(t, tok)

		// A code works instead of the TOTP code, typed in any case, once.
		if r := f.verify(t, "ada@example.org", strings.ToUpper(codes[0])); r.status != 200 || str(r, "accessToken") == "" {
			t.Fatalf("recovery code: %d %s", r.status, r.raw)
		}
		if r := f.verify(t, "ada@example.org", codes[0]); r.status != 401 {
			t.Fatalf("a recovery code used twice: %d", r.status)
		}
		ev := f.events(t, "auth.recovery_code_used")
		if len(ev) != 1 || ev[0]["userId"] != id || ev[0]["remaining"] != float64(9) || ev[0]["timestamp"] != "2026-03-01T12:00:00Z" {
			t.Fatalf("recovery_code_used events: %v", ev)
		}

		t.Run("concurrent uses of one code", func(t *testing.T) {
			var challenges []string
			for range 3 {
				challenges = append(challenges, str(f.login(t, "ada@example.org", password), "challengeId"))
			}
			statuses := make([]int, len(challenges))
			var wg sync.WaitGroup
			for i, c := range challenges {
				wg.Go(func() {
					statuses[i] = f.call(t, "/api/v1/auth/2fa/verify", "", map[string]string{"challengeId": c, "code": codes[1]}).status
				})
			}
			wg.Wait()
			ok := 0
			for _, s := range statuses {
				if s == 200 {
					ok++
				} else if s != 401 {
					t.Errorf("status %d", s)
				}
			}
			if ok != 1 {
				t.Fatalf("%d of %v concurrent uses succeeded", ok, statuses)
			}
		})

		t.Run("wrong codes count as attempts and spend nothing", func(t *testing.T) {
			r := f.login(t, "ada@example.org", password)
			for range 5 {
				f.call(t, "/api/v1/auth/2fa/verify", "", map[string]string{"challengeId": str(r, "challengeId"), "code": "zzzzz-zzzzz"})
			}
			if res := f.call(t, "/api/v1/auth/2fa/verify", "", map[string]string{"challengeId": str(r, "challengeId"), "code": codes[2]}); res.status != 401 {
				t.Fatalf("a recovery code after 5 wrong attempts: %d", res.status)
			}
			if res := f.verify(t, "ada@example.org", codes[2]); res.status != 200 {
				t.Fatalf("the refused code must stay usable: %d %s", res.status, res.raw)
			}
		})

		t.Run("replace", func(t *testing.T) {
			if r := f.call(t, "/api/v1/auth/2fa/recovery-codes", "", map[string]string{"password": password}); r.status != 401 {
				t.Fatalf("anonymous: %d", r.status)
			}
			if r := f.call(t, "/api/v1/auth/2fa/recovery-codes", tok, map[string]string{"password": "not the password at all"}); r.status != 403 {
				t.Fatalf("wrong password: %d %s", r.status, r.raw)
			}
			r := f.call(t, "/api/v1/auth/2fa/recovery-codes", tok, map[string]string{"password": password})
			fresh := recoveryCodes(t, r)
			if r.status != 200 || len(fresh) != 10 || r.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("replace: %d %s", r.status, r.raw)
			}
			if res := f.verify(t, "ada@example.org", codes[3]); res.status != 401 {
				t.Fatalf("an old code after the replacement: %d", res.status)
			}
			if res := f.verify(t, "ada@example.org", fresh[9]); res.status != 200 {
				t.Fatalf("a new code: %d %s", res.status, res.raw)
			}
			if ev := f.events(t, "auth.recovery_code_used"); ev[len(ev)-1]["remaining"] != float64(9) {
				t.Fatalf("remaining after the replacement: %v", ev)
			}
		})

		t.Run("without TOTP", func(t *testing.T) {
			f.user(t, "bob@example.org", "patient", "")
			bob := str(f.login(t, "bob@example.org", password), "accessToken")
			if r := f.call(t, "/api/v1/auth/2fa/recovery-codes", bob, map[string]string{"password": password}); r.status != 409 {
				t.Fatalf("recovery codes without TOTP: %d %s", r.status, r.raw)
			}
		})
	})
}

func TestTOTPSecretSealedAtRest(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		ada := f.user(t, "ada@example.org", "patient", "")
		bob := f.user(t, "bob@example.org", "patient", "")
		adaSecret, _ := f.enrolTOTP(t, str(f.login(t, "ada@example.org", password), "accessToken"))
		bobSecret, bobCodes := f.enrolTOTP(t, str(f.login(t, "bob@example.org", password), "accessToken"))

		stored := f.storedSecret(t, ada)
		if !strings.HasPrefix(stored, "v1:") || strings.Contains(strings.ToUpper(stored), adaSecret) {
			t.Fatalf("stored secret %q holds the secret in clear", stored)
		}
		code, _ := totp.GenerateCode(adaSecret, f.clock.Now())
		if r := f.verify(t, "ada@example.org", code); r.status != 200 {
			t.Fatalf("totp login: %d %s", r.status, r.raw)
		}

		// Ada's sealed secret copied into Bob's row opens for nobody: Bob's
		// TOTP login fails closed, with either authenticator.
		f.setStoredSecret(t, bob, stored)
		for _, s := range []string{adaSecret, bobSecret} {
			code, _ := totp.GenerateCode(s, f.clock.Now())
			if r := f.verify(t, "bob@example.org", code); r.status != 401 {
				t.Fatalf("a moved secret let Bob in: %d %s", r.status, r.raw)
			}
		}
		// Recovery codes, only hashed, still let him in.
		if r := f.verify(t, "bob@example.org", bobCodes[0]); r.status != 200 {
			t.Fatalf("recovery code with an unusable secret: %d %s", r.status, r.raw)
		}

		// A plaintext secret from before encryption still works and is
		// sealed on that use.
		f.setStoredSecret(t, ada, adaSecret)
		code, _ = totp.GenerateCode(adaSecret, f.clock.Now())
		if r := f.verify(t, "ada@example.org", code); r.status != 200 {
			t.Fatalf("login with a plaintext secret: %d %s", r.status, r.raw)
		}
		if s := f.storedSecret(t, ada); !strings.HasPrefix(s, "v1:") || s == stored {
			t.Fatalf("the plaintext secret was not sealed: %q", s)
		}
		if r := f.verify(t, "ada@example.org", code); r.status != 200 {
			t.Fatalf("login after sealing: %d %s", r.status, r.raw)
		}
	})
}

// A new enrolment leaves the working secret alone until it is confirmed:
// abandoned, it locks no one out.
func TestTOTPReenrolment(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		id := f.user(t, "ada@example.org", "patient", "")
		tok := str(f.login(t, "ada@example.org", password), "accessToken")
		first, codes := f.enrolTOTP(t, tok)
		working := f.storedSecret(t, id)

		second := f.startTOTP(t, tok)
		pending := f.storedPending(t, id)
		if !strings.HasPrefix(pending, "v1:") || strings.Contains(strings.ToUpper(pending), second) {
			t.Fatalf("pending secret %q is not sealed", pending)
		}
		if f.storedSecret(t, id) != working {
			t.Fatal("starting an enrolment changed the working secret")
		}
		// Not confirmed: logins take the first secret's codes, not the
		// second's, and the recovery codes still work.
		f.clock.advance(time.Minute)
		code, _ := totp.GenerateCode(second, f.clock.Now())
		if r := f.verify(t, "ada@example.org", code); r.status != 401 {
			t.Fatalf("a code of the unconfirmed secret: %d %s", r.status, r.raw)
		}
		code, _ = totp.GenerateCode(first, f.clock.Now())
		if r := f.verify(t, "ada@example.org", code); r.status != 200 {
			t.Fatalf("a code of the working secret during an enrolment: %d %s", r.status, r.raw)
		}
		if r := f.verify(t, "ada@example.org", codes[0]); r.status != 200 {
			t.Fatalf("a recovery code during an enrolment: %d %s", r.status, r.raw)
		}
		// Only a code of the pending secret confirms it.
		code, _ = totp.GenerateCode(first, f.clock.Now())
		if r := f.call(t, "/api/v1/auth/2fa/totp/confirm", tok, map[string]string{"code": code}); r.status != 422 {
			t.Fatalf("confirm with the working secret's code: %d %s", r.status, r.raw)
		}

		code, _ = totp.GenerateCode(second, f.clock.Now())
		r := f.call(t, "/api/v1/auth/2fa/totp/confirm", tok, map[string]string{"code": code})
		fresh := recoveryCodes(t, r)
		if r.status != 200 || len(fresh) != 10 {
			t.Fatalf("confirm: %d %s", r.status, r.raw)
		}
		if r := f.call(t, "/api/v1/auth/2fa/totp/confirm", tok, map[string]string{"code": code}); r.status != 422 {
			t.Fatalf("confirm twice: %d %s", r.status, r.raw)
		}
		f.clock.advance(time.Minute)
		code, _ = totp.GenerateCode(first, f.clock.Now())
		if r := f.verify(t, "ada@example.org", code); r.status != 401 {
			t.Fatalf("a code of the replaced secret: %d %s", r.status, r.raw)
		}
		if r := f.verify(t, "ada@example.org", codes[1]); r.status != 401 {
			t.Fatalf("a recovery code of the replaced enrolment: %d %s", r.status, r.raw)
		}
		code, _ = totp.GenerateCode(second, f.clock.Now())
		if r := f.verify(t, "ada@example.org", code); r.status != 200 {
			t.Fatalf("a code of the new secret: %d %s", r.status, r.raw)
		}
		if r := f.verify(t, "ada@example.org", fresh[0]); r.status != 200 {
			t.Fatalf("a new recovery code: %d %s", r.status, r.raw)
		}
	})
}

// Starting an enrolment takes the password, and wrong ones count as
// failed logins: a stolen access token cannot enrol its holder's
// authenticator, nor guess the password faster than a login could.
func TestTOTPEnrolmentNeedsThePassword(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		id := f.user(t, "ada@example.org", "patient", "")
		tok := str(f.login(t, "ada@example.org", password), "accessToken")
		enrol := func(pw string) response {
			return f.call(t, "/api/v1/auth/2fa/totp", tok, map[string]string{"password": pw})
		}
		svcTok, _, _ := f.svc.ServiceToken("case-management")(context.Background())
		if r := f.call(t, "/api/v1/auth/2fa/totp", svcTok, map[string]string{"password": password}); r.status != 403 {
			t.Fatalf("a service: %d %s", r.status, r.raw)
		}
		for range 5 {
			if r := enrol("not the password at all"); r.status != 403 || str(r, "provisioningUri") != "" {
				t.Fatalf("wrong password: %d %s", r.status, r.raw)
			}
		}
		if p := f.storedPending(t, id); p != "" {
			t.Fatalf("a refused enrolment stored a secret: %q", p)
		}
		if r := enrol(password); r.status != 429 {
			t.Fatalf("after 5 wrong passwords: %d %s", r.status, r.raw)
		}
		if r := f.login(t, "ada@example.org", password); r.status != 429 {
			t.Fatalf("login after 5 wrong passwords at /2fa/totp: %d", r.status)
		}
	})
}

func TestChooseSecondFactor(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		id := f.user(t, "ada@example.org", "patient", "")
		tok := str(f.login(t, "ada@example.org", password), "accessToken")
		choose := func(tok, method, pw string) response {
			return f.call(t, "/api/v1/auth/2fa/method", tok, map[string]string{"method": method, "password": pw})
		}
		if r := choose("", "EMAIL", password); r.status != 401 {
			t.Fatalf("anonymous: %d", r.status)
		}
		svcTok, _, _ := f.svc.ServiceToken("case-management")(context.Background())
		if r := choose(svcTok, "EMAIL", password); r.status != 403 {
			t.Fatalf("a service: %d", r.status)
		}
		if r := choose(tok, "TOTP", password); r.status != 422 {
			t.Fatalf("TOTP: %d %s", r.status, r.raw)
		}
		if r := choose(tok, "EMAIL", "not the password at all"); r.status != 403 {
			t.Fatalf("wrong password: %d %s", r.status, r.raw)
		}
		if r := choose(tok, "EMAIL", password); r.status != 204 {
			t.Fatalf("EMAIL: %d %s", r.status, r.raw)
		}
		ev := f.events(t, "auth.two_factor_changed")
		if len(ev) != 1 || ev[0]["userId"] != id || ev[0]["method"] != "EMAIL" || ev[0]["timestamp"] != "2026-03-01T12:00:00Z" {
			t.Fatalf("two_factor_changed events: %v", ev)
		}
		r := f.login(t, "ada@example.org", password)
		if str(r, "method") != "EMAIL" || str(r, "accessToken") != "" {
			t.Fatalf("login after choosing EMAIL: %s", r.raw)
		}
		code := sixDigits.FindString(f.lastMessage(t, "ada@example.org"))
		if res := f.call(t, "/api/v1/auth/2fa/verify", "", map[string]string{"challengeId": str(r, "challengeId"), "code": code}); res.status != 200 {
			t.Fatalf("email code: %d %s", res.status, res.raw)
		}

		if r := choose(tok, "SMS", password); r.status != 204 {
			t.Fatalf("SMS: %d %s", r.status, r.raw)
		}
		if r := f.login(t, "ada@example.org", password); str(r, "method") != "SMS" {
			t.Fatalf("login after choosing SMS: %s", r.raw)
		}
		if r := choose(tok, "NONE", password); r.status != 204 {
			t.Fatalf("NONE: %d %s", r.status, r.raw)
		}
		if r := f.login(t, "ada@example.org", password); str(r, "accessToken") == "" {
			t.Fatalf("login after choosing NONE: %s", r.raw)
		}

		t.Run("SMS needs a phone", func(t *testing.T) {
			if _, err := f.rpc.CreateUser(context.Background(), connect.NewRequest(&authv1.CreateUserRequest{
				Email: "bob@example.org", Password: password, Role: "professional"})); err != nil {
				t.Fatal(err)
			}
			bob := str(f.login(t, "bob@example.org", password), "accessToken")
			if r := choose(bob, "SMS", password); r.status != 422 {
				t.Fatalf("SMS without a phone: %d %s", r.status, r.raw)
			}
		})

		t.Run("leaving TOTP", func(t *testing.T) {
			f.user(t, "cy@example.org", "admin", "")
			cy := str(f.login(t, "cy@example.org", password), "accessToken")
			_, codes := f.enrolTOTP(t, cy)
			if r := choose(cy, "EMAIL", password); r.status != 204 {
				t.Fatalf("TOTP to EMAIL: %d %s", r.status, r.raw)
			}
			r := f.login(t, "cy@example.org", password)
			if res := f.call(t, "/api/v1/auth/2fa/verify", "", map[string]string{"challengeId": str(r, "challengeId"), "code": codes[0]}); res.status != 401 {
				t.Fatalf("a recovery code after leaving TOTP: %d", res.status)
			}
		})

		t.Run("wrong passwords lock like logins", func(t *testing.T) {
			for range 5 {
				choose(tok, "EMAIL", "not the password at all")
			}
			if r := choose(tok, "EMAIL", password); r.status != 429 {
				t.Fatalf("after 5 wrong passwords: %d %s", r.status, r.raw)
			}
			if r := f.login(t, "ada@example.org", password); r.status != 429 {
				t.Fatalf("login after 5 wrong passwords at /2fa/method: %d", r.status)
			}
		})
	})
}
