package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/danielgtaylor/huma/v2"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"

	contracts "github.com/secondopinion/platform/api/events"
	authv1 "github.com/secondopinion/platform/api/gen/auth/v1"
	"github.com/secondopinion/platform/api/gen/auth/v1/authv1connect"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/auth"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	url   string
	svc   *auth.Service
	clock *clock
	sent  *sentBox
	dir   string // the data directory
	db    *sqldb.DB
	rpc   authv1connect.AuthServiceClient
	mem   *rpc.InProcess
}

func seed() string { return base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)) }

func start(t testing.TB, db *sqldb.DB, keys string) fixture {
	t.Helper()
	f, err := build(t, db, auth.Config{SigningKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// build starts the service over db with cfg and the test's clock, cost
// and service secrets.
func build(t testing.TB, db *sqldb.DB, cfg auth.Config) (fixture, error) {
	t.Helper()
	ctx := context.Background()
	if err := auth.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	box, _ := cfg.Mailer.(*sentBox)
	if cfg.Mailer == nil {
		box = &sentBox{}
		cfg.Mailer = box
	}
	cfg.BcryptCost, cfg.Now = bcrypt.MinCost, c.Now
	cfg.ServiceSecrets = map[string]string{"professional-identity": serviceSecret}
	svc, err := auth.New(cfg, service.Deps{DB: db, Bus: inproc.New(), DataDir: dir, Log: slog.Default()})
	if err != nil {
		return fixture{}, err
	}
	t.Cleanup(func() {
		for _, e := range written(t, db) {
			if err := contracts.Check(e); err != nil {
				t.Errorf("wrote an event its contract does not describe: %v", err)
			}
		}
	})
	// The test's requests come from loopback, as through a sidecar.
	h := httpapi.Wrap(svc.Handler(), httpapi.Options{Service: auth.Name, Verifier: svc.Verifier(),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = testkit.Listen(t)
	srv.Start()
	t.Cleanup(srv.Close)
	mem := rpc.NewInProcess(h)
	t.Cleanup(func() { mem.Close() })
	return fixture{url: srv.URL, svc: svc, clock: c, sent: box, dir: dir, db: db,
		mem: mem,
		rpc: authv1connect.NewAuthServiceClient(rpc.WithIdentity(mem.Client(), svc.ServiceToken("patient-identity")), rpc.BaseURL, rpc.ClientOptions()...)}, nil
}

// written reads the events the service wrote to its outbox, in order.
func written(t testing.TB, db *sqldb.DB) []bus.Event {
	t.Helper()
	return testkit.Outbox(t, db)
}

func startSQLite(t testing.TB) fixture {
	return start(t, testkit.OpenDB(t, sqldb.SQLite, auth.Name), "")
}

// forEachEngine runs an API test against a fresh service on every engine.
func forEachEngine(t *testing.T, fn func(t *testing.T, f fixture)) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) { fn(t, start(t, testkit.OpenDB(t, e, auth.Name), "")) })
	}
}

const password = "correct horse battery staple"

func (f fixture) user(t testing.TB, email, role, method string) string {
	t.Helper()
	res, err := f.rpc.CreateUser(context.Background(), connect.NewRequest(&authv1.CreateUserRequest{
		Email: email, Password: password, Role: role, TwoFactorMethod: method, Phone: "+4915112345678"}))
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	return res.Msg.UserId
}

type response struct {
	status int
	doc    map[string]any
	raw    string
	header http.Header
}

func (f fixture) call(t *testing.T, path, token string, body any) response {
	t.Helper()
	b, _ := json.Marshal(body)
	method := http.MethodPost
	if body == nil {
		method = http.MethodGet
		if strings.HasPrefix(path, "/api/") {
			method, b = http.MethodPost, nil
		}
	}
	req, _ := http.NewRequest(method, f.url+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, raw: string(raw), header: res.Header}
	_ = json.Unmarshal(raw, &r.doc)
	if strings.Contains(r.raw, password) || strings.Contains(r.raw, "$2a$") {
		t.Errorf("%s: response carries a password or hash: %s", path, raw)
	}
	return r
}

func (f fixture) login(t *testing.T, email, pw string) response {
	t.Helper()
	return f.call(t, "/api/v1/auth/login", "", map[string]string{"email": email, "password": pw})
}

func str(r response, k string) string { s, _ := r.doc[k].(string); return s }

// sentBox is the Mailer of the tests: it keeps what auth sent, as the
// notification service would have delivered it.
type sentBox struct {
	mu   sync.Mutex
	msgs []auth.Message
	fail error // while set, Send fails with it
}

func (b *sentBox) Send(_ context.Context, m auth.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	b.msgs = append(b.msgs, m)
	return nil
}

func (b *sentBox) messages() []auth.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]auth.Message(nil), b.msgs...)
}

// lastMessage returns the secret (a six-digit code or a reset token) of
// the newest message sent to to.
func (f fixture) lastMessage(t *testing.T, to string) string {
	t.Helper()
	ms := f.sent.messages()
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].To == to {
			return ms[i].Code
		}
	}
	t.Fatalf("no message to %s", to)
	return ""
}

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

func TestLoginRefreshReuseLogout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		id := f.user(t, "Ada@Example.org", "patient", "")
		r := f.login(t, "ada@example.org", password)
		if r.status != 200 || str(r, "tokenType") != "Bearer" || r.doc["expiresIn"] != float64(900) || str(r, "refreshToken") == "" {
			t.Fatalf("login: %d %s", r.status, r.raw)
		}
		// The token verifies against the published JWKS, as the gateway does.
		v := authn.NewJWKSVerifier(f.url+"/.well-known/jwks.json", authn.VerifierOptions{TokenOptions: authn.TokenOptions{
			Issuer: authn.DefaultIssuer, Audience: authn.DefaultAudience, Now: f.clock.Now}})
		p, err := v.Verify(context.Background(), str(r, "accessToken"))
		if err != nil || p.Subject != id || p.Role != authn.RolePatient || p.Session == "" {
			t.Fatalf("verify: %+v %v", p, err)
		}
		first := str(r, "refreshToken")
		r2 := f.call(t, "/api/v1/auth/refresh", "", map[string]string{"refreshToken": first})
		if r2.status != 200 || str(r2, "refreshToken") == first {
			t.Fatalf("refresh: %d %s", r2.status, r2.raw)
		}
		// Reusing the rotated token revokes the family: the newer token dies too.
		if r := f.call(t, "/api/v1/auth/refresh", "", map[string]string{"refreshToken": first}); r.status != 401 {
			t.Fatalf("reuse: %d", r.status)
		}
		if r := f.call(t, "/api/v1/auth/refresh", "", map[string]string{"refreshToken": str(r2, "refreshToken")}); r.status != 401 {
			t.Fatalf("after reuse the family must be revoked: %d", r.status)
		}
		// Its access tokens stop working at once: the session ended.
		if r := f.call(t, "/api/v1/auth/logout", str(r2, "accessToken"), nil); r.status != 401 {
			t.Fatalf("access token of a revoked session: %d", r.status)
		}

		r = f.login(t, "ada@example.org", password)
		if r := f.call(t, "/api/v1/auth/logout", str(r, "accessToken"), nil); r.status != 204 {
			t.Fatalf("logout: %d %s", r.status, r.raw)
		}
		if r := f.call(t, "/api/v1/auth/refresh", "", map[string]string{"refreshToken": str(r, "refreshToken")}); r.status != 401 {
			t.Fatalf("refresh after logout: %d", r.status)
		}
		if r := f.call(t, "/api/v1/auth/logout", "", nil); r.status != 401 {
			t.Fatalf("anonymous logout: %d", r.status)
		}
	})
}

func TestIdleSessionLogsOff(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		f.user(t, "ada@example.org", "patient", "")
		r := f.login(t, "ada@example.org", password)
		f.clock.advance(14 * time.Minute)
		r = f.call(t, "/api/v1/auth/refresh", "", map[string]string{"refreshToken": str(r, "refreshToken")})
		if r.status != 200 {
			t.Fatalf("refresh within the idle limit: %d", r.status)
		}
		f.clock.advance(16 * time.Minute)
		if r := f.call(t, "/api/v1/auth/refresh", "", map[string]string{"refreshToken": str(r, "refreshToken")}); r.status != 401 {
			t.Fatalf("refresh after 16 idle minutes: %d", r.status)
		}
	})
}

func TestWrongPasswordAnswersLikeUnknownEmail(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		f.user(t, "ada@example.org", "patient", "")
		wrong := f.login(t, "ada@example.org", "not the right password")
		unknown := f.login(t, "nobody@example.org", password)
		if wrong.status != 401 || wrong.status != unknown.status || wrong.raw != unknown.raw {
			t.Fatalf("wrong password %d %s\nunknown email %d %s", wrong.status, wrong.raw, unknown.status, unknown.raw)
		}
	})
}

func TestLockoutAndRetryAfter(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		f.user(t, "ada@example.org", "patient", "")
		for i := range 5 {
			if r := f.login(t, "ada@example.org", "wrong password "+string(rune('a'+i))); r.status != 401 {
				t.Fatalf("failure %d: %d", i+1, r.status)
			}
		}
		r := f.login(t, "ada@example.org", password)
		if r.status != 429 || r.header.Get("Retry-After") != "60" {
			t.Fatalf("locked account: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.raw)
		}
		// Unknown accounts lock the same way, so locking reveals nothing.
		for range 5 {
			f.login(t, "nobody@example.org", password)
		}
		if r := f.login(t, "nobody@example.org", password); r.status != 429 {
			t.Fatalf("unknown account after 5 failures: %d", r.status)
		}
		f.clock.advance(61 * time.Second)
		if r := f.login(t, "ada@example.org", password); r.status != 200 {
			t.Fatalf("after the lock: %d %s", r.status, r.raw)
		}
	})
}

func TestEmailCode(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		f.user(t, "ada@example.org", "patient", "EMAIL")
		r := f.login(t, "ada@example.org", password)
		if r.status != 200 || str(r, "method") != "EMAIL" || str(r, "accessToken") != "" {
			t.Fatalf("login: %d %s", r.status, r.raw)
		}
		code := sixDigits.FindString(f.lastMessage(t, "ada@example.org"))
		ok := f.call(t, "/api/v1/auth/2fa/verify", "", map[string]string{"challengeId": str(r, "challengeId"), "code": code})
		if ok.status != 200 || str(ok, "accessToken") == "" {
			t.Fatalf("verify: %d %s", ok.status, ok.raw)
		}
		if again := f.call(t, "/api/v1/auth/2fa/verify", "", map[string]string{"challengeId": str(r, "challengeId"), "code": code}); again.status != 401 {
			t.Fatalf("a code works once: %d", again.status)
		}

		t.Run("five wrong attempts spend the challenge", func(t *testing.T) {
			r := f.login(t, "ada@example.org", password)
			code := sixDigits.FindString(f.lastMessage(t, "ada@example.org"))
			wrong := "000000"
			if code == wrong {
				wrong = "111111"
			}
			for range 5 {
				f.call(t, "/api/v1/auth/2fa/verify", "", map[string]string{"challengeId": str(r, "challengeId"), "code": wrong})
			}
			if res := f.call(t, "/api/v1/auth/2fa/verify", "", map[string]string{"challengeId": str(r, "challengeId"), "code": code}); res.status != 401 {
				t.Fatalf("right code after 5 wrong ones: %d", res.status)
			}
		})
		t.Run("expired", func(t *testing.T) {
			r := f.login(t, "ada@example.org", password)
			code := sixDigits.FindString(f.lastMessage(t, "ada@example.org"))
			f.clock.advance(5*time.Minute + time.Second)
			if res := f.call(t, "/api/v1/auth/2fa/verify", "", map[string]string{"challengeId": str(r, "challengeId"), "code": code}); res.status != 401 {
				t.Fatalf("expired code: %d", res.status)
			}
		})
	})
}

func TestSMSCodeGoesToThePhone(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		f.user(t, "ada@example.org", "patient", "SMS")
		r := f.login(t, "ada@example.org", password)
		code := sixDigits.FindString(f.lastMessage(t, "+4915112345678"))
		if res := f.call(t, "/api/v1/auth/2fa/verify", "", map[string]string{"challengeId": str(r, "challengeId"), "code": code}); res.status != 200 {
			t.Fatalf("sms code: %d %s", res.status, res.raw)
		}
	})
}

func TestTOTPEnrolAndLogin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		f.user(t, "ada@example.org", "patient", "")
		tok := str(f.login(t, "ada@example.org", password), "accessToken")
		if r := f.call(t, "/api/v1/auth/2fa/totp", "", map[string]string{"password": password}); r.status != 401 {
			t.Fatalf("anonymous enrolment: %d", r.status)
		}
		if r := f.call(t, "/api/v1/auth/2fa/totp", tok, nil); r.status != 400 {
			t.Fatalf("enrolment without a body: %d %s", r.status, r.raw)
		}
		if r := f.call(t, "/api/v1/auth/2fa/totp", tok, map[string]string{"password": "not the password at all"}); r.status != 403 {
			t.Fatalf("enrolment with a wrong password: %d %s", r.status, r.raw)
		}
		r := f.call(t, "/api/v1/auth/2fa/totp", tok, map[string]string{"password": password})
		u, err := url.Parse(str(r, "provisioningUri"))
		if r.status != 200 || err != nil || u.Scheme != "otpauth" {
			t.Fatalf("enrol: %d %s", r.status, r.raw)
		}
		secret := u.Query().Get("secret")
		if r := f.call(t, "/api/v1/auth/2fa/totp/confirm", tok, map[string]string{"code": "000000"}); r.status != 422 {
			t.Fatalf("confirm with a wrong code: %d", r.status)
		}
		code, _ := totp.GenerateCode(secret, f.clock.Now())
		r = f.call(t, "/api/v1/auth/2fa/totp/confirm", tok, map[string]string{"code": code})
		codes := recoveryCodes(t, r)
		if r.status != 200 || r.header.Get("Cache-Control") != "no-store" || len(codes) != 10 {
			t.Fatalf("confirm: %d %s", r.status, r.raw)
		}
		r = f.login(t, "ada@example.org", password)
		if str(r, "method") != "TOTP" {
			t.Fatalf("login after enrolment: %s", r.raw)
		}
		f.clock.advance(time.Minute)
		code, _ = totp.GenerateCode(secret, f.clock.Now())
		if res := f.call(t, "/api/v1/auth/2fa/verify", "", map[string]string{"challengeId": str(r, "challengeId"), "code": code}); res.status != 200 {
			t.Fatalf("totp verify: %d %s", res.status, res.raw)
		}
	})
}

func TestPasswordReset(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		f.user(t, "ada@example.org", "patient", "")
		old := f.login(t, "ada@example.org", password)
		if r := f.call(t, "/api/v1/auth/password-reset", "", map[string]string{"email": "nobody@example.org"}); r.status != 202 {
			t.Fatalf("unknown email: %d", r.status)
		}
		if r := f.call(t, "/api/v1/auth/password-reset", "", map[string]string{"email": "ada@example.org"}); r.status != 202 {
			t.Fatalf("reset: %d", r.status)
		}
		lines := strings.Fields(f.lastMessage(t, "ada@example.org"))
		token := ""
		for _, w := range lines {
			if len(w) == 43 {
				token = w
			}
		}
		const next = "a brand new passphrase"
		if r := f.call(t, "/api/v1/auth/password-reset/confirm", "", map[string]string{"token": token, "newPassword": "password1234"}); r.status != 422 {
			t.Fatalf("common password: %d", r.status)
		}
		if r := f.call(t, "/api/v1/auth/password-reset/confirm", "", map[string]string{"token": token, "newPassword": next}); r.status != 204 {
			t.Fatalf("confirm: %d %s", r.status, r.raw)
		}
		if r := f.call(t, "/api/v1/auth/password-reset/confirm", "", map[string]string{"token": token, "newPassword": next + "!"}); r.status != 422 {
			t.Fatalf("a reset token works once: %d", r.status)
		}
		if r := f.login(t, "ada@example.org", next); r.status != 200 {
			t.Fatalf("login with the new password: %d", r.status)
		}
		if r := f.call(t, "/api/v1/auth/refresh", "", map[string]string{"refreshToken": str(old, "refreshToken")}); r.status != 401 {
			t.Fatalf("sessions before the reset must end: %d", r.status)
		}

		f.call(t, "/api/v1/auth/password-reset", "", map[string]string{"email": "ada@example.org"})
		for _, w := range strings.Fields(f.lastMessage(t, "ada@example.org")) {
			if len(w) == 43 {
				token = w
			}
		}
		f.clock.advance(30*time.Minute + time.Second)
		if r := f.call(t, "/api/v1/auth/password-reset/confirm", "", map[string]string{"token": token, "newPassword": next + "?"}); r.status != 422 {
			t.Fatalf("expired reset token: %d", r.status)
		}
	})
}

func TestProfessionalAuth(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		id := f.user(t, "house@example.org", "professional", "")
		f.user(t, "ada@example.org", "patient", "")
		r := f.call(t, "/api/v1/professionals/auth", "", map[string]string{"email": "house@example.org", "password": password})
		pro, _ := r.doc["professional"].(map[string]any)
		if r.status != 200 || str(r, "token") == "" || pro["id"] != id || pro["email"] != "house@example.org" || len(r.doc) != 2 {
			t.Fatalf("professional auth: %d %s", r.status, r.raw)
		}
		if r := f.call(t, "/api/v1/professionals/auth", "", map[string]string{"email": "ada@example.org", "password": password}); r.status != 401 {
			t.Fatalf("a patient through professionals/auth: %d", r.status)
		}
	})
}

func TestJWKSAndKeyRotation(t *testing.T) {
	db := testkit.OpenDB(t, sqldb.SQLite, auth.Name)
	oldKeys := "old:" + seed()
	f := start(t, db, oldKeys)
	f.user(t, "ada@example.org", "patient", "")
	tok := str(f.login(t, "ada@example.org", password), "accessToken")

	// Restart with a new current key; the old one stays as previous.
	other := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))
	g := start(t, db, "new:"+other+","+oldKeys)
	r := g.call(t, "/.well-known/jwks.json", "", nil)
	keys, _ := r.doc["keys"].([]any)
	if r.status != 200 || len(keys) != 2 {
		t.Fatalf("jwks: %d %s", r.status, r.raw)
	}
	for i, want := range []string{"new", "old"} {
		k := keys[i].(map[string]any)
		if k["kid"] != want || k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["d"] != nil {
			t.Fatalf("key %d: %v", i, k)
		}
	}
	if _, err := g.svc.Verifier().Verify(context.Background(), tok); err != nil {
		t.Fatalf("token of the previous key after rotation: %v", err)
	}
	fresh := str(g.login(t, "ada@example.org", password), "accessToken")
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(fresh, ".")[0])
	if !strings.Contains(string(hdr), `"kid":"new"`) {
		t.Fatalf("new tokens are signed by the current key: %s", hdr)
	}
}

// The first admin comes from ADMIN_EMAIL and ADMIN_PASSWORD when the
// service is built, once: a later start names no second one.
func TestFirstAdmin(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			db := testkit.OpenDB(t, e, auth.Name)
			if _, err := build(t, db, auth.Config{AdminEmail: "root@example.org", AdminPassword: password}); err != nil {
				t.Fatal(err)
			}
			f, err := build(t, db, auth.Config{AdminEmail: "second@example.org", AdminPassword: password})
			if err != nil {
				t.Fatal(err)
			}
			if r := f.login(t, "second@example.org", password); r.status != 401 {
				t.Fatalf("a second start must not create another admin: %d", r.status)
			}
			r := f.login(t, "root@example.org", password)
			p, err := f.svc.Verifier().Verify(ctx, str(r, "accessToken"))
			if err != nil || p.Role != authn.RoleAdmin {
				t.Fatalf("admin: %+v %v", p, err)
			}
			if _, err := f.svc.CreateAdmin(ctx, "weak@example.org", "password1234"); err == nil {
				t.Fatal("an admin with a common password")
			}
			_, err = build(t, testkit.OpenDB(t, e, auth.Name), auth.Config{AdminEmail: "weak@example.org", AdminPassword: "password1234"})
			if err == nil || !strings.HasPrefix(err.Error(), "ADMIN_EMAIL: create the first admin: ") {
				t.Fatalf("a first admin with a common password: %v", err)
			}
		})
	}
}

func TestCreateAndDeleteUserRPC(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		id := f.user(t, "ada@example.org", "patient", "")
		_, err := f.rpc.CreateUser(ctx, connect.NewRequest(&authv1.CreateUserRequest{Email: "ADA@example.org", Password: password, Role: "patient"}))
		if connect.CodeOf(err) != connect.CodeAlreadyExists {
			t.Fatalf("duplicate email: %v", err)
		}
		// The registrations read the bare field at fault (clients/auth).
		for field, bad := range map[string]*authv1.CreateUserRequest{
			"password": {Email: "x@example.org", Password: "short", Role: "patient"},
			"role":     {Email: "x@example.org", Password: password, Role: "root"},
			"email":    {Email: "not an email", Password: password, Role: "patient"},
			"phone":    {Email: "x@example.org", Password: password, Role: "patient", TwoFactorMethod: "SMS"},
		} {
			_, err := f.rpc.CreateUser(ctx, connect.NewRequest(bad))
			var ce *connect.Error
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !errors.As(err, &ce) || !strings.HasPrefix(ce.Message(), field+": ") {
				t.Errorf("CreateUser(%s %s %s): %v", bad.Email, bad.Role, bad.TwoFactorMethod, err)
			}
		}
		if _, err := f.rpc.DeleteUser(ctx, connect.NewRequest(&authv1.DeleteUserRequest{UserId: id})); err != nil {
			t.Fatal(err)
		}
		if r := f.login(t, "ada@example.org", password); r.status != 401 {
			t.Fatalf("login of a deleted user: %d", r.status)
		}
		if _, err := f.rpc.DeleteUser(ctx, connect.NewRequest(&authv1.DeleteUserRequest{UserId: id})); connect.CodeOf(err) != connect.CodeNotFound {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

func FuzzLoginBody(f *testing.F) {
	for _, s := range []string{`{"email":"ada@example.org","password":"` + password + `"}`, `{}`, `{"email":1}`,
		`{"email":"a@b","password":"x","extra":true}`, `[]`, `{"email":"` + strings.Repeat("a", 300) + `","password":""}`, "\x00"} {
		f.Add(s)
	}
	fx := startSQLite(f)
	fx.user(f, "ada@example.org", "patient", "")
	f.Fuzz(func(t *testing.T, body string) {
		res, err := http.Post(fx.url+"/api/v1/auth/login", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case 200:
			if !strings.Contains(body, password) {
				t.Fatalf("logged in without the password: %s", body)
			}
		case 400, 401, 422, 429:
		default:
			t.Fatalf("status %d for %q: %s", res.StatusCode, body, raw)
		}
	})
}

func TestPolicies(t *testing.T) {
	forEachEngine(t, func(t *testing.T, f fixture) {
		person := "authenticated:patient,professional,admin"
		want := map[string]string{
			"POST /api/v1/auth/login":                  "public",
			"POST /api/v1/auth/2fa/verify":             "public",
			"POST /api/v1/auth/refresh":                "public",
			"POST /api/v1/auth/password-reset":         "public",
			"POST /api/v1/auth/password-reset/confirm": "public",
			"POST /api/v1/professionals/auth":          "public",
			"GET /.well-known/jwks.json":               "public",
			"POST /api/v1/auth/logout":                 person,
			"POST /api/v1/auth/2fa/totp":               person,
			"POST /api/v1/auth/2fa/totp/confirm":       person,
			"POST /api/v1/auth/2fa/recovery-codes":     person,
			"POST /api/v1/auth/2fa/method":             person,
		}
		got := map[string]string{}
		for path, item := range f.svc.OpenAPI().Paths {
			for method, op := range map[string]*huma.Operation{"GET": item.Get, "POST": item.Post, "PUT": item.Put,
				"PATCH": item.Patch, "DELETE": item.Delete} {
				if op != nil {
					got[method+" "+path], _ = op.Extensions[authz.Extension].(string)
				}
			}
		}
		if !maps.Equal(got, want) {
			t.Fatalf("policies %v, want %v", got, want)
		}
		// The policy answers before the body is read: an anonymous caller
		// learns nothing from validation.
		if r := f.call(t, "/api/v1/auth/2fa/totp/confirm", "", map[string]string{"code": strings.Repeat("1", 40)}); r.status != 401 {
			t.Fatalf("anonymous TOTP confirm with an invalid body: %d %s", r.status, r.raw)
		}
	})
}

// Behind the gateway every request comes from one peer: the address the
// gateway forwards keys the per-address limit, so one client's failures
// do not lock out every other client.
func TestAddressLimitIsPerForwardedClient(t *testing.T) {
	f := startSQLite(t)
	f.user(t, "ada@example.org", "patient", "")
	login := func(from, email, pw string) int {
		b, _ := json.Marshal(map[string]string{"email": email, "password": pw})
		req, _ := http.NewRequest(http.MethodPost, f.url+"/api/v1/auth/login", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", from)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	// An attacker tries many accounts from one address until it is locked.
	for i := range 25 {
		login("203.0.113.7", fmt.Sprintf("guess%d@example.org", i), password)
	}
	if code := login("203.0.113.7", "ada@example.org", password); code != http.StatusTooManyRequests {
		t.Fatalf("the attacking address is not locked: %d", code)
	}
	if code := login("198.51.100.20", "ada@example.org", password); code != http.StatusOK {
		t.Fatalf("another client is locked out by the attacker: %d", code)
	}
}
