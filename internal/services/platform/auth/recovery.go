package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/services/platform/auth/store"
)

// RecoveryCodes is how many one-time recovery codes a TOTP user holds.
const RecoveryCodes = 10

// recoveryAlphabet is Crockford's base32 in lower case: no i, l, o or u,
// and input is read leniently (o as 0, i and l as 1), so nothing a person
// copies by hand is confused.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// newRecoveryCodes returns RecoveryCodes codes like "x7k2m-9qd3a" (50
// random bits each) and the hashes under which user userID's are stored.
func newRecoveryCodes(userID string) (codes, hashes []string, err error) {
	for range RecoveryCodes {
		var b [10]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, nil, fmt.Errorf("recovery code: %w", err)
		}
		for i := range b {
			b[i] = recoveryAlphabet[b[i]&31] // 256 is a multiple of 32: uniform
		}
		codes = append(codes, string(b[:5])+"-"+string(b[5:]))
		hashes = append(hashes, recoveryHash(userID, string(b[:])))
	}
	return codes, hashes, nil
}

// normRecoveryCode reads a typed recovery code; ok is false for anything
// that is not one, such as a 6-digit TOTP code.
func normRecoveryCode(code string) (string, bool) {
	code = strings.NewReplacer("-", "", " ", "", "o", "0", "i", "1", "l", "1").Replace(strings.ToLower(code))
	if len(code) != 10 {
		return "", false
	}
	for _, c := range code {
		if !strings.ContainsRune(recoveryAlphabet, c) {
			return "", false
		}
	}
	return code, true
}

func recoveryHash(userID, normalized string) string {
	return hashSecret("recovery:"+userID, normalized)
}

var errWrongPassword = fault.Forbidden("the password is wrong")

// reauthenticate checks the signed-in caller's password again before a
// change of their second factor. Failures count on the login throttling
// keys, so a stolen session cannot guess the password any faster than a
// login could.
func (s *Service) reauthenticate(ctx context.Context, who authn.Principal, password, addr string) (store.User, error) {
	if who.Anonymous() || who.Role == authn.RoleService {
		return store.User{}, fault.Unauthenticated("log in first")
	}
	u, err := s.st.User(ctx, who.Subject)
	if err != nil {
		return store.User{}, err
	}
	acct, ip := accountKey("login", u.Email), addressKey("login", addr)
	if err := s.guard(ctx, acct, ip); err != nil {
		return store.User{}, err
	}
	// bcrypt compares in constant time.
	if !passwordMatches(u.PasswordHash, u.HashScheme, password) || u.Status != "active" {
		if err := s.failed(ctx, &u, acct, ip); err != nil {
			return store.User{}, err
		}
		return store.User{}, errWrongPassword
	}
	if err := s.throttle.Clear(ctx, acct); err != nil {
		return store.User{}, fault.Unavailable("throttling", err)
	}
	return u, nil
}

// replaceRecoveryCodes gives a TOTP user a new set of recovery codes; the
// earlier ones stop working.
func (s *Service) replaceRecoveryCodes(ctx context.Context, who authn.Principal, password, addr string) ([]string, error) {
	u, err := s.reauthenticate(ctx, who, password, addr)
	if err != nil {
		return nil, err
	}
	codes, hashes, err := newRecoveryCodes(u.ID)
	if err != nil {
		return nil, err
	}
	if err := s.st.ReplaceRecoveryCodes(ctx, u.ID, hashes, s.now()); errors.Is(err, store.ErrNoTOTP) {
		return nil, fault.Conflict("TOTP is not enabled", "recovery codes belong to TOTP: enrol it first")
	} else if err != nil {
		return nil, err
	}
	s.Log.InfoContext(ctx, "recovery codes replaced", "userId", u.ID)
	return codes, nil
}

// setTwoFactor makes NONE, EMAIL or SMS the caller's second factor. TOTP
// is not chosen here: it takes an enrolment that proves the authenticator.
func (s *Service) setTwoFactor(ctx context.Context, who authn.Principal, method, password, addr string) error {
	if !twoFactors[method] || method == "TOTP" {
		return fault.Invalid("method", "must be NONE, EMAIL or SMS; TOTP is enrolled through /api/v1/auth/2fa/totp")
	}
	u, err := s.reauthenticate(ctx, who, password, addr)
	if err != nil {
		return err
	}
	if method == "SMS" && !validPhone(u.Phone) {
		return fault.Invalid("method", "SMS needs a phone number on the account")
	}
	now := s.now()
	ev, err := twoFactorChanged(u.ID, method, now)
	if err != nil {
		return err
	}
	if err := s.st.SetTwoFactorMethod(ctx, u.ID, method, now, ev); err != nil {
		return err
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "second factor changed", "userId", u.ID, "method", method)
	return nil
}
