package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/services/platform/auth/store"
)

// Lifetimes and limits of the secrets the service hands out.
const (
	CodeTTL         = 5 * time.Minute
	CodeAttempts    = 5
	RefreshTokenTTL = 24 * time.Hour // bounded further by the session's idle logoff
	ResetTokenTTL   = 30 * time.Minute
)

// Roles and second factors a user may have.
var (
	roles      = map[string]bool{"patient": true, "professional": true, "admin": true}
	twoFactors = map[string]bool{"NONE": true, "EMAIL": true, "SMS": true, "TOTP": true}
)

// errBadCredentials answers unknown emails, wrong passwords and unusable
// accounts alike, so the answer tells nothing about which it was.
var errBadCredentials = fault.Unauthenticated("the email or the password is wrong")

var errBadCode = fault.Unauthenticated("the code is wrong or has expired; log in again after 5 wrong codes")

func tooMany(retry time.Duration) error {
	return &fault.Error{Kind: fault.KindTooMany, Title: "Too many attempts",
		Detail: "too many failed attempts; try again later", RetryAfter: retry}
}

// Tokens are what a completed login or a refresh returns.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int // seconds
	UserID       string
}

// LoginResult is either Tokens or a second-factor challenge.
type LoginResult struct {
	Tokens      *Tokens
	ChallengeID string
	Method      string
	Role        authn.Role
}

// NewUser is what creating a user takes.
type NewUser struct {
	Email, Password, Role, Phone, TwoFactorMethod string
}

func normEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

func checkEmail(e string) error {
	at := strings.LastIndex(e, "@")
	if len(e) > 254 || at < 1 || at == len(e)-1 || strings.ContainsAny(e, " \t\r\n<>,;\"") {
		return fault.Invalid("email", "must be an email address")
	}
	return nil
}

// createUser validates and stores a user; it returns the new id.
func (s *Service) createUser(ctx context.Context, u NewUser) (string, error) {
	u.Email = normEmail(u.Email)
	if u.TwoFactorMethod == "" {
		u.TwoFactorMethod = "NONE"
	}
	switch {
	case checkEmail(u.Email) != nil:
		return "", checkEmail(u.Email)
	case !roles[u.Role]:
		return "", fault.Invalid("role", "must be patient, professional or admin")
	case !twoFactors[u.TwoFactorMethod] || u.TwoFactorMethod == "TOTP":
		// TOTP needs an enrolment by the user, never a preset.
		return "", fault.Invalid("twoFactorMethod", "must be NONE, EMAIL or SMS")
	case u.TwoFactorMethod == "SMS" && !validPhone(u.Phone):
		return "", fault.Invalid("phone", "must be an E.164 number for SMS codes")
	case u.Phone != "" && !validPhone(u.Phone):
		return "", fault.Invalid("phone", "must be an E.164 number")
	}
	if err := CheckPassword("password", u.Password); err != nil {
		return "", err
	}
	hash, err := hashPassword(u.Password, s.cfg.BcryptCost)
	if err != nil {
		return "", err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new user id: %w", err)
	}
	now := s.now()
	if err := s.st.CreateUser(ctx, store.User{ID: id.String(), Email: u.Email, PasswordHash: hash, HashScheme: schemeBcryptSHA256,
		Role: u.Role, TwoFactorMethod: u.TwoFactorMethod, Phone: u.Phone, Status: "active", CreatedAt: now}); err != nil {
		return "", err
	}
	s.Log.InfoContext(ctx, "user created", "userId", id.String(), "role", u.Role)
	return id.String(), nil
}

func validPhone(p string) bool {
	if len(p) < 8 || len(p) > 16 || p[0] != '+' || p[1] == '0' {
		return false
	}
	for _, c := range p[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func accountKey(purpose, email string) string {
	return purpose + ":acct:" + hashSecret("account", email)
}
func addressKey(purpose, addr string) string { return purpose + ":addr:" + addr }

// guard refuses with 429 while any key is locked.
func (s *Service) guard(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		d, err := s.throttle.Locked(ctx, k, s.now())
		if err != nil {
			return fault.Unavailable("throttling", err)
		}
		if d > 0 {
			return tooMany(d)
		}
	}
	return nil
}

// failed counts a failure on the account and the address keys and, for a
// known user, records it on the account (publishing user.locked when a
// lock begins).
func (s *Service) failed(ctx context.Context, u *store.User, acct, addr string) error {
	now := s.now()
	n, lock, err := s.throttle.Fail(ctx, acct, accountPolicy, now)
	if err != nil {
		return fault.Unavailable("throttling", err)
	}
	if _, _, err := s.throttle.Fail(ctx, addr, addressPolicy, now); err != nil {
		return fault.Unavailable("throttling", err)
	}
	if u == nil {
		return nil
	}
	var until time.Time
	var events []bus.Event
	if lock > 0 {
		until = now.Add(lock)
		ev, err := userLocked(u.ID, until)
		if err != nil {
			return err
		}
		events = append(events, ev)
		s.Log.WarnContext(ctx, "account locked", "userId", u.ID, "failures", n)
	}
	if err := s.st.RecordFailures(ctx, u.ID, n, until, now, events...); err != nil {
		return err
	}
	if len(events) > 0 {
		s.Relay.Notify()
	}
	return nil
}

// login checks the password and either completes the login or starts the
// user's second factor. addr is the client's address.
func (s *Service) login(ctx context.Context, email, password, addr string) (LoginResult, error) {
	email = normEmail(email)
	acct, ip := accountKey("login", email), addressKey("login", addr)
	if err := s.guard(ctx, acct, ip); err != nil {
		return LoginResult{}, err
	}
	u, err := s.st.UserByEmail(ctx, email)
	if p, ok := fault.As(err); ok && p.Kind == fault.KindNotFound {
		passwordMatches(s.dummyHash, schemeBcryptSHA256, password)
		if err := s.failed(ctx, nil, acct, ip); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{}, errBadCredentials
	}
	if err != nil {
		return LoginResult{}, err
	}
	if !passwordMatches(u.PasswordHash, u.HashScheme, password) || u.Status != "active" {
		if err := s.failed(ctx, &u, acct, ip); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{}, errBadCredentials
	}
	if err := s.throttle.Clear(ctx, acct); err != nil {
		return LoginResult{}, fault.Unavailable("throttling", err)
	}
	if u.FailedAttempts > 0 {
		if err := s.st.RecordFailures(ctx, u.ID, 0, time.Time{}, s.now()); err != nil {
			return LoginResult{}, err
		}
	}
	if u.TwoFactorMethod == "NONE" {
		t, err := s.startSession(ctx, u)
		return LoginResult{Tokens: &t, Role: authn.Role(u.Role)}, err
	}
	id, err := s.challenge(ctx, u)
	return LoginResult{ChallengeID: id, Method: u.TwoFactorMethod, Role: authn.Role(u.Role)}, err
}

// challenge starts a second factor: for EMAIL and SMS it sends a code.
func (s *Service) challenge(ctx context.Context, u store.User) (string, error) {
	id := uuid.NewString()
	c := store.Challenge{ID: id, UserID: u.ID, Method: u.TwoFactorMethod, ExpiresAt: s.now().Add(CodeTTL)}
	if u.TwoFactorMethod == "TOTP" {
		return id, s.st.CreateChallenge(ctx, c)
	}
	code, err := newCode()
	if err != nil {
		return "", err
	}
	c.CodeHash = hashSecret(id, code)
	ev, err := codeRequested(u.ID, vocab.Channel(u.TwoFactorMethod), purposeLogin)
	if err != nil {
		return "", err
	}
	if err := s.st.CreateChallenge(ctx, c, ev); err != nil {
		return "", err
	}
	s.Relay.Notify()
	to := u.Email
	if u.TwoFactorMethod == "SMS" {
		to = u.Phone
	}
	if err := s.cfg.Mailer.Send(ctx, Message{UserID: u.ID, Channel: u.TwoFactorMethod, To: to, Purpose: purposeLogin, Code: code}); err != nil {
		return "", fault.Unavailable("code delivery", err)
	}
	return id, nil
}

// verifyCode completes a login with the second factor.
func (s *Service) verifyCode(ctx context.Context, challengeID, code, addr string) (Tokens, error) {
	if _, err := uuid.Parse(challengeID); err != nil {
		return Tokens{}, fault.Invalid("challengeId", "must be a UUID")
	}
	ip := addressKey("2fa", addr)
	if err := s.guard(ctx, ip); err != nil {
		return Tokens{}, err
	}
	now := s.now()
	var user store.User
	var recovered, plaintext bool
	c, ok, err := s.st.AttemptChallenge(ctx, challengeID, now, func(c store.Challenge, a *store.Attempt) (bool, error) {
		if c.Used || c.Attempts >= CodeAttempts || !now.Before(c.ExpiresAt) {
			return false, nil
		}
		if c.Method != "TOTP" {
			return sameHash(hashSecret(c.ID, strings.TrimSpace(code)), c.CodeHash), nil
		}
		u, err := s.st.User(ctx, c.UserID)
		if err != nil {
			return false, err
		}
		user = u
		if rc, ok := normRecoveryCode(code); ok {
			recovered, err = a.UseRecoveryCode(recoveryHash(u.ID, rc), func(remaining int) (bus.Event, error) {
				return recoveryCodeUsed(u.ID, remaining, now)
			})
			return recovered, err
		}
		secret, legacy, err := s.box.open(u.ID, u.TOTPSecret)
		if err != nil {
			// Fail closed: a secret that does not open accepts no code.
			// Recovery codes, only hashed, still let the user in.
			s.Log.ErrorContext(ctx, "totp secret does not open", "userId", u.ID, "error", err)
			return false, nil
		}
		plaintext = legacy
		return validTOTP(code, secret, now), nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return Tokens{}, errBadCode
	}
	if err != nil {
		return Tokens{}, err
	}
	if !ok {
		if _, _, err := s.throttle.Fail(ctx, ip, addressPolicy, now); err != nil {
			return Tokens{}, fault.Unavailable("throttling", err)
		}
		return Tokens{}, errBadCode
	}
	if recovered {
		s.Relay.Notify()
		s.Log.WarnContext(ctx, "login with a recovery code", "userId", user.ID)
	}
	if plaintext {
		// Outside the attempt's transaction: SQLite holds its write lock.
		s.sealPlaintextSecret(ctx, user)
	}
	if user.ID == "" {
		if user, err = s.st.User(ctx, c.UserID); err != nil {
			return Tokens{}, err
		}
	}
	if user.Status != "active" {
		return Tokens{}, errBadCode
	}
	return s.startSession(ctx, user)
}

// sealPlaintextSecret encrypts a TOTP secret stored before encryption.
// Failing to is logged, not fatal: the secret stays usable and is sealed
// on a later use.
func (s *Service) sealPlaintextSecret(ctx context.Context, u store.User) {
	sealed, err := s.box.seal(u.ID, u.TOTPSecret)
	if err == nil {
		err = s.st.ReplaceTOTPSecret(ctx, u.ID, u.TOTPSecret, sealed, s.now())
	}
	if err != nil {
		s.Log.ErrorContext(ctx, "sealing a plaintext totp secret failed", "userId", u.ID, "error", err)
	}
}

func validTOTP(code, secret string, now time.Time) bool {
	if secret == "" {
		return false
	}
	ok, err := totp.ValidateCustom(strings.TrimSpace(code), secret, now, totp.ValidateOpts{
		Period: 30, Skew: 1, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	return err == nil && ok
}

// startSession opens a session with the first refresh token of its family.
func (s *Service) startSession(ctx context.Context, u store.User) (Tokens, error) {
	now := s.now()
	sid := uuid.NewString()
	if err := s.sessions.Start(ctx, Session{ID: sid, UserID: u.ID, Role: authn.Role(u.Role), LastSeen: now}); err != nil {
		return Tokens{}, fault.Unavailable("sessions", err)
	}
	refresh, err := newToken()
	if err != nil {
		return Tokens{}, err
	}
	if err := s.st.AddRefreshToken(ctx, store.RefreshToken{Hash: hashSecret("refresh", refresh), SessionID: sid,
		UserID: u.ID, ExpiresAt: now.Add(RefreshTokenTTL)}); err != nil {
		return Tokens{}, err
	}
	t, err := s.access(u.ID, authn.Role(u.Role), sid)
	if err != nil {
		return Tokens{}, err
	}
	t.RefreshToken = refresh
	s.Log.InfoContext(ctx, "session started", "userId", u.ID, "sessionId", sid)
	return t, nil
}

func (s *Service) access(userID string, role authn.Role, sid string) (Tokens, error) {
	tok, exp, err := s.issuer.Issue(authn.Principal{Subject: userID, Role: role, Session: sid})
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: tok, ExpiresIn: int(exp.Sub(s.now()).Round(time.Second).Seconds()), UserID: userID}, nil
}

var errBadRefresh = fault.Unauthenticated("the refresh token is not valid; log in again")

// refresh exchanges a refresh token for a new pair. A token presented twice
// ends its session: one of the two presenters stole it.
func (s *Service) refresh(ctx context.Context, token string) (Tokens, error) {
	now := s.now()
	next, err := newToken()
	if err != nil {
		return Tokens{}, err
	}
	cur, outcome, err := s.st.RotateRefreshToken(ctx, hashSecret("refresh", token),
		store.RefreshToken{Hash: hashSecret("refresh", next), ExpiresAt: now.Add(RefreshTokenTTL)}, now)
	if err != nil {
		return Tokens{}, err
	}
	switch outcome {
	case store.Unknown:
		return Tokens{}, errBadRefresh
	case store.Reused:
		s.Log.WarnContext(ctx, "refresh token reused: session revoked", "userId", cur.UserID, "sessionId", cur.SessionID)
		if err := s.sessions.End(ctx, cur.SessionID); err != nil {
			return Tokens{}, fault.Unavailable("sessions", err)
		}
		return Tokens{}, errBadRefresh
	}
	se, err := s.sessions.Touch(ctx, cur.SessionID, now)
	if errors.Is(err, ErrSessionEnded) {
		if err := s.st.RevokeFamily(ctx, cur.SessionID, now); err != nil {
			return Tokens{}, err
		}
		return Tokens{}, errBadRefresh
	}
	if err != nil {
		return Tokens{}, fault.Unavailable("sessions", err)
	}
	u, err := s.st.User(ctx, se.UserID)
	if err != nil || u.Status != "active" {
		return Tokens{}, errBadRefresh
	}
	t, err := s.access(u.ID, authn.Role(u.Role), se.ID)
	if err != nil {
		return Tokens{}, err
	}
	t.RefreshToken = next
	return t, nil
}

// logout ends the caller's session and its refresh tokens.
func (s *Service) logout(ctx context.Context, who authn.Principal) error {
	if who.Anonymous() || who.Session == "" {
		return fault.Unauthenticated("log in first")
	}
	if err := s.sessions.End(ctx, who.Session); err != nil {
		return fault.Unavailable("sessions", err)
	}
	if err := s.st.RevokeFamily(ctx, who.Session, s.now()); err != nil {
		return err
	}
	s.Log.InfoContext(ctx, "session ended", "userId", who.Subject, "sessionId", who.Session)
	return nil
}

// requestReset sends a reset token to a known, active user; to everyone
// else it does nothing, and the caller cannot tell the difference.
func (s *Service) requestReset(ctx context.Context, email, addr string) error {
	email = normEmail(email)
	if err := s.guard(ctx, addressKey("reset", addr)); err != nil {
		return err
	}
	if _, _, err := s.throttle.Fail(ctx, addressKey("reset", addr), addressPolicy, s.now()); err != nil {
		return fault.Unavailable("throttling", err)
	}
	u, err := s.st.UserByEmail(ctx, email)
	if p, ok := fault.As(err); ok && p.Kind == fault.KindNotFound {
		return nil
	}
	if err != nil || u.Status == "disabled" {
		return err
	}
	token, err := newToken()
	if err != nil {
		return err
	}
	ev, err := codeRequested(u.ID, vocab.Email, purposePasswordReset)
	if err != nil {
		return err
	}
	if err := s.st.AddResetToken(ctx, hashSecret("reset", token), u.ID, s.now().Add(ResetTokenTTL), ev); err != nil {
		return err
	}
	s.Relay.Notify()
	if err := s.cfg.Mailer.Send(ctx, Message{UserID: u.ID, Channel: "EMAIL", To: u.Email, Purpose: purposePasswordReset, Code: token}); err != nil {
		return fault.Unavailable("mail delivery", err)
	}
	s.Log.InfoContext(ctx, "password reset requested", "userId", u.ID)
	return nil
}

// confirmReset sets a new password with a reset token and ends every
// session of the user.
func (s *Service) confirmReset(ctx context.Context, token, password, addr string) error {
	ip := addressKey("reset", addr)
	if err := s.guard(ctx, ip); err != nil {
		return err
	}
	if err := CheckPassword("newPassword", password); err != nil {
		return err
	}
	now := s.now()
	userID, err := s.st.UseResetToken(ctx, hashSecret("reset", token), now)
	if errors.Is(err, store.ErrNotFound) {
		if _, _, err := s.throttle.Fail(ctx, ip, addressPolicy, now); err != nil {
			return fault.Unavailable("throttling", err)
		}
		return fault.Invalid("token", "is not valid, was used, or has expired")
	}
	if err != nil {
		return err
	}
	hash, err := hashPassword(password, s.cfg.BcryptCost)
	if err != nil {
		return err
	}
	if err := s.st.SetPassword(ctx, userID, hash, schemeBcryptSHA256, now); err != nil {
		return err
	}
	s.Log.InfoContext(ctx, "password reset", "userId", userID)
	return nil
}

// enrolTOTP makes a new TOTP secret for the caller, once the password is
// checked again (a stolen access token must not enrol its holder's
// authenticator), and returns its provisioning URI. The secret stays
// pending, apart from a working one, until confirmTOTP proves the
// authenticator: an abandoned enrolment changes nothing.
func (s *Service) enrolTOTP(ctx context.Context, who authn.Principal, password, addr string) (string, error) {
	u, err := s.reauthenticate(ctx, who, password, addr)
	if err != nil {
		return "", err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "Second Opinion", AccountName: u.Email})
	if err != nil {
		return "", fmt.Errorf("totp secret: %w", err)
	}
	sealed, err := s.box.seal(u.ID, key.Secret())
	if err != nil {
		return "", err
	}
	if err := s.st.SetPendingTOTPSecret(ctx, u.ID, sealed, s.now()); err != nil {
		return "", err
	}
	s.Log.InfoContext(ctx, "totp enrolment started", "userId", u.ID)
	return key.URL(), nil
}

// confirmTOTP makes the pending secret the caller's working one and TOTP
// the second factor once a code of it proves the app works, and returns
// the user's new recovery codes: shown this once, stored only as hashes.
func (s *Service) confirmTOTP(ctx context.Context, who authn.Principal, code string) ([]string, error) {
	if who.Anonymous() || who.Role == authn.RoleService {
		return nil, fault.Unauthenticated("log in first")
	}
	u, err := s.st.User(ctx, who.Subject)
	if err != nil {
		return nil, err
	}
	now := s.now()
	// Only this service writes the pending secret, always sealed.
	secret, _, err := s.box.open(u.ID, u.TOTPPending)
	if err != nil {
		s.Log.ErrorContext(ctx, "pending totp secret does not open", "userId", u.ID, "error", err)
	}
	if err != nil || !validTOTP(code, secret, now) {
		return nil, fault.Invalid("code", "does not match the authenticator; enrol again if it keeps failing")
	}
	codes, hashes, err := newRecoveryCodes(u.ID)
	if err != nil {
		return nil, err
	}
	ev, err := twoFactorChanged(u.ID, "TOTP", now)
	if err != nil {
		return nil, err
	}
	if err := s.st.EnableTOTP(ctx, u.ID, u.TOTPPending, hashes, now, ev); errors.Is(err, store.ErrPendingChanged) {
		return nil, fault.Conflict("TOTP enrolment changed", "another enrolment replaced or confirmed this one; confirm with a code of the latest")
	} else if err != nil {
		return nil, err
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "totp enabled", "userId", u.ID)
	return codes, nil
}

// ensureAdmin creates the first admin at start (ADMIN_EMAIL and
// ADMIN_PASSWORD) when no admin exists yet; otherwise it does nothing.
func (s *Service) ensureAdmin(ctx context.Context, email, password string) error {
	has, err := s.st.HasAdmin(ctx)
	if err != nil || has {
		return err
	}
	_, err = s.CreateAdmin(ctx, email, password)
	return err
}

// CreateAdmin creates an admin (`secondopinion admin create`).
func (s *Service) CreateAdmin(ctx context.Context, email, password string) (string, error) {
	return s.createUser(ctx, NewUser{Email: email, Password: password, Role: "admin"})
}

// deleteUser removes a user (undoing a half-done registration).
func (s *Service) deleteUser(ctx context.Context, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return fault.Invalid("user_id", "must be a UUID")
	}
	if err := s.st.DeleteUser(ctx, id); err != nil {
		return err
	}
	s.Log.InfoContext(ctx, "user deleted", "userId", id)
	return nil
}
