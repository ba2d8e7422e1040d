// Package auth is the auth service: it owns users and their credentials,
// logs them in (password, then an EMAIL/SMS code or TOTP as second factor),
// issues EdDSA-signed access tokens and rotating refresh tokens, keeps
// sessions with idle logoff, throttles and locks on repeated failures,
// resets passwords (codes and reset tokens go out through the notification
// service, see mailer.go), publishes its JWKS, and serves the internal
// AuthService gRPC API that the registrations of patients and
// professionals create logins through.
//
// TOTP secrets are sealed at rest with AES-256-GCM under the deployment's
// secret key (Config.SecretKey, else the key file DataDir/auth-secret-key)
// with the user id as additional data. Secrets stored in plaintext before
// that need no migration: a value without the "v1:" prefix is read as
// plaintext and sealed when the user next uses TOTP or enrols again. A new
// enrolment, which needs the password again, keeps its secret pending
// beside the working one until a code confirms it. TOTP users hold ten
// one-time recovery codes, stored as SHA-256 hashes.
//
// Read it top-down: module.go (what the binary knows of it), this file
// (its settings and how it is built), http.go (the public API), login.go
// (logins, codes, tokens, resets, TOTP enrolment), recovery.go (recovery
// codes and the choice of second factor), events.go (what it publishes),
// rpc.go and services.go (the internal AuthService and service
// identities), sessions.go and throttle.go (state replicas share through
// Redis), store/ (its SQL).
package auth

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/secondopinion/platform/api/gen/auth/v1/authv1connect"
	"github.com/secondopinion/platform/internal/clients/notification"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/platform/auth/store"
)

// Config is what the service is configured with: the env-tagged fields are
// its settings, the others hooks for tests.
type Config struct {
	// SigningKeys is the keyring (authn.ParseKeyring's format). Empty: the
	// key file DataDir/auth-jwt-keys, made on first start.
	SigningKeys string `env:"JWT_SIGNING_KEYS" secret:"true" doc:"Ed25519 keyring kid:seed,… (seeds in base64url); the first signs, the others still verify. Empty: a key file under DATA_DIR, made on first start"`
	// SecretKey seals TOTP secrets at rest. Empty: the key file
	// DataDir/auth-secret-key, made on first start. Losing the key
	// disables every TOTP login but recovery codes.
	SecretKey SecretKey `env:"AUTH_SECRET_KEY" secret:"true" doc:"32 bytes in base64url that seal TOTP secrets at rest; replicas of auth must share it. Empty: a key file under DATA_DIR, made on first start"`
	// ServiceSecrets are the credentials of services that run in other
	// processes: target name → secret. They exchange them for service
	// tokens; in-process services get theirs from ServiceToken.
	ServiceSecrets ServiceSecrets `env:"SERVICE_SECRETS" secret:"true" doc:"credentials of services in other processes, target=secret,… with secrets of at least 16 characters"`
	// AdminEmail and AdminPassword create the first admin in New when no
	// admin exists; both or neither.
	AdminEmail    string `env:"ADMIN_EMAIL" doc:"creates the first admin at start when none exists, with ADMIN_PASSWORD"`
	AdminPassword string `env:"ADMIN_PASSWORD" secret:"true" doc:"the password of the first admin (see ADMIN_EMAIL)"`
	// BcryptCost hashes passwords; 0 (a Config not read by config.Load)
	// is the default, 12.
	BcryptCost int `env:"AUTH_BCRYPT_COST" default:"12" doc:"bcrypt cost of password hashes, 4–31: lower only in tests; production keeps 12"`

	// Issuer and Audience of access tokens; default authn.DefaultIssuer
	// and authn.DefaultAudience.
	Issuer, Audience string
	// Redis keeps sessions and throttling counts; default the app's
	// (REDIS_URL). Without either, sessions live in the store and counts
	// in memory.
	Redis       redis.UniversalClient
	RedisPrefix string // default "auth:"
	// Mailer delivers codes and reset tokens; default the notification
	// service (its peer).
	Mailer Mailer
	Now    func() time.Time // the clock; default time.Now
}

// defaultBcryptCost is the plan's cost of password hashes.
const defaultBcryptCost = 12

// Validate checks what the fields' own forms do not.
func (c *Config) Validate() error {
	var errs []error
	if c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost {
		errs = append(errs, config.Errorf("AUTH_BCRYPT_COST", "must be %d–%d, got %d", bcrypt.MinCost, bcrypt.MaxCost, c.BcryptCost))
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		errs = append(errs, config.Errorf("ADMIN_EMAIL and ADMIN_PASSWORD", "set both to create the first admin, or neither"))
	}
	if c.SigningKeys != "" {
		// ParseKeyring's errors name a key by its kid, never its seed.
		if _, err := authn.ParseKeyring(c.SigningKeys); err != nil {
			errs = append(errs, config.Errorf("JWT_SIGNING_KEYS", "%v", err))
		}
	}
	return errors.Join(errs...)
}

// Service is a running auth target.
type Service struct {
	*service.Base
	cfg       Config
	st        *store.Store
	keys      *authn.Keyring
	box       secretBox
	issuer    *authn.Issuer
	tokens    *authn.JWKSVerifier
	sessions  Sessions
	throttle  Throttle
	dummyHash string // compared against for unknown emails, so timing matches
}

// The app verifies every token and mints every service identity through
// auth when it runs in the same process.
var _ service.Authority = (*Service)(nil)

// Migrate creates or upgrades the service's tables, its outbox and inbox.
var Migrate = service.WithOutbox(store.Migrate)

// adminTimeout bounds creating the first admin in New: a store query and
// one bcrypt hash.
const adminTimeout = 30 * time.Second

// New builds the service over a migrated store, and creates the first
// admin when ADMIN_EMAIL asks for one.
func New(cfg Config, deps service.Deps) (*Service, error) {
	cfg = withDefaults(cfg, deps)
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	s := &Service{cfg: cfg}
	base, err := service.NewBase(Name, deps, subscriptions.Bind(s))
	if err != nil {
		return nil, err
	}
	if s.cfg.Mailer == nil {
		p, err := base.Peer(notification.Target)
		if err != nil {
			return nil, err
		}
		s.cfg.Mailer = notifier{c: notification.New(p)}
	}
	keys, err := loadKeys(cfg, deps.DataDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	secretKey, err := loadSecretKey(cfg, deps.DataDir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	box, err := newSecretBox(secretKey)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	set, err := keys.PublicSet()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	dummy, err := hashPassword("not a password of anyone", cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	topts := authn.TokenOptions{Issuer: cfg.Issuer, Audience: cfg.Audience, Now: cfg.Now}
	st := store.New(deps.DB)
	s.Base, s.st, s.keys, s.box = base, st, keys, box
	s.issuer = authn.NewIssuer(keys, topts)
	s.tokens = authn.NewKeySetVerifier(set, authn.VerifierOptions{TokenOptions: topts})
	s.sessions, s.throttle, s.dummyHash = storeSessions{st: st}, NewMemoryThrottle(), dummy
	if cfg.Redis != nil {
		s.sessions = NewRedisSessions(cfg.Redis, cfg.RedisPrefix)
		s.throttle = NewRedisThrottle(cfg.Redis, cfg.RedisPrefix)
		// Sessions live there: without it nobody logs in.
		s.Check("redis", func(ctx context.Context) error { return cfg.Redis.Ping(ctx).Err() })
	}
	s.routes(s.API)
	path, h := authv1connect.NewAuthServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers))
	s.ServeRPC(authv1connect.AuthServiceName, path, h)
	if cfg.AdminEmail != "" {
		// Before anyone can call: an operator's first login must work.
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		if err := s.ensureAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword); err != nil {
			return nil, fmt.Errorf("ADMIN_EMAIL: create the first admin: %w", err)
		}
	}
	return s, nil
}

func withDefaults(cfg Config, deps service.Deps) Config {
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = defaultBcryptCost
	}
	if cfg.Issuer == "" {
		cfg.Issuer = authn.DefaultIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = authn.DefaultAudience
	}
	// A nil *redis.Client must not become a non-nil interface.
	if cfg.Redis == nil && deps.Redis != nil {
		cfg.Redis = deps.Redis
	}
	if cfg.RedisPrefix == "" {
		cfg.RedisPrefix = "auth:"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

func loadKeys(cfg Config, dataDir string) (*authn.Keyring, error) {
	if cfg.SigningKeys != "" {
		return authn.ParseKeyring(cfg.SigningKeys)
	}
	if dataDir == "" {
		return nil, errors.New("JWT_SIGNING_KEYS or a data directory for the key file is required")
	}
	return authn.LoadKeyFile(filepath.Join(dataDir, "auth-jwt-keys"), cfg.Now())
}

// Verifier verifies access tokens against this service's own keys and
// touches their session, so a logged-out or idle session's tokens stop
// working at once. The app uses it in-process; remote services verify
// against the JWKS with authn.NewJWKSVerifier.
func (s *Service) Verifier() authn.Verifier { return sessionVerifier{s: s} }

type sessionVerifier struct{ s *Service }

func (v sessionVerifier) Verify(ctx context.Context, token string) (authn.Principal, error) {
	p, err := v.s.tokens.Verify(ctx, token)
	if err != nil {
		return authn.Principal{}, err
	}
	if p.Role == authn.RoleService {
		// Service tokens belong to no session: they live their 15 minutes.
		return p, nil
	}
	if _, err := v.s.sessions.Touch(ctx, p.Session, v.s.now()); err != nil {
		if errors.Is(err, ErrSessionEnded) {
			return authn.Principal{}, err
		}
		// The session could not be checked: that is no verdict on the
		// token, which must not be answered 401 (see authn.Middleware).
		return authn.Principal{}, fault.Unavailable("sessions", err)
	}
	return p, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }
