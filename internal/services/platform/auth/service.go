// Package auth is the auth service: it owns users and their credentials,
// logs them in (password, then an EMAIL/SMS code or TOTP as second factor),
// issues EdDSA-signed access tokens and rotating refresh tokens, keeps
// sessions with idle logoff, throttles and locks on repeated failures,
// resets passwords, publishes its JWKS, and serves the internal
// AuthService gRPC API that patient registration creates logins through.
//
// TOTP secrets are sealed at rest with AES-256-GCM under the deployment's
// secret key (Config.SecretKey, else the key file DataDir/auth-secret-key)
// with the user id as additional data. Secrets stored in plaintext before
// that need no migration: a value without the "v1:" prefix is read as
// plaintext and sealed when the user next uses TOTP or enrols again. A new
// enrolment, which needs the password again, keeps its secret pending
// beside the working one until a code confirms it. TOTP users hold ten
// one-time recovery codes, stored as SHA-256 hashes.
package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"time"

	"connectrpc.com/grpchealth"
	"github.com/danielgtaylor/huma/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/secondopinion/platform/api/gen/auth/v1/authv1connect"
	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/services/platform/auth/store"
)

// Name is the service's target name.
const Name = "auth"

// Config is what the service is configured with.
type Config struct {
	// BcryptCost hashes passwords; 0 means 12, the plan's cost.
	BcryptCost int
	// SigningKeys is JWT_SIGNING_KEYS (see authn.ParseKeyring). Empty: the
	// keyring is the key file DataDir/auth-jwt-keys, made on first start.
	SigningKeys string
	// SecretKey (32 bytes) seals TOTP secrets at rest. Empty: the key is the
	// key file DataDir/auth-secret-key, made on first start. Losing the key
	// disables every TOTP login but recovery codes.
	SecretKey []byte
	// Issuer and Audience of access tokens; default authn.DefaultIssuer
	// and authn.DefaultAudience.
	Issuer, Audience string
	// Redis, when set (REDIS_URL), keeps sessions and throttling counts;
	// otherwise sessions live in the store and counts in memory.
	Redis       redis.UniversalClient
	RedisPrefix string // default "auth:"
	// Mailer delivers codes and reset links; default the Mailbox folder
	// DataDir/mailbox.
	Mailer   Mailer
	MailFrom string // default "Second Opinion <no-reply@secondopinion.local>"
	// ServiceSecrets are the credentials of services that run in other
	// processes (SERVICE_SECRETS): target name → secret. They exchange them
	// for service tokens; in-process services get theirs from ServiceToken.
	ServiceSecrets map[string]string
	Now            func() time.Time // the clock; default time.Now
}

// Service is a running auth target.
type Service struct {
	cfg       Config
	log       *slog.Logger
	st        *store.Store
	relay     *outbox.Relay
	mux       *http.ServeMux
	api       huma.API
	keys      *authn.Keyring
	box       secretBox
	issuer    *authn.Issuer
	tokens    *authn.JWKSVerifier
	sessions  Sessions
	throttle  Throttle
	dummyHash string // compared against for unknown emails, so timing matches
}

// Migrate creates or upgrades the service's tables and its outbox.
func Migrate(ctx context.Context, db *sqldb.DB) error {
	if err := outbox.Migrate(ctx, db); err != nil {
		return err
	}
	return store.Migrate(ctx, db)
}

// New builds the service over a migrated store.
func New(cfg Config, deps service.Deps) (*Service, error) {
	if deps.DB == nil || deps.Bus == nil {
		return nil, errors.New(Name + ": needs a store and a bus")
	}
	cfg = withDefaults(cfg, deps.DataDir)
	if cfg.BcryptCost < bcrypt.MinCost || cfg.BcryptCost > bcrypt.MaxCost {
		return nil, fmt.Errorf("%s: bcrypt cost %d is outside %d..%d", Name, cfg.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
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
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	topts := authn.TokenOptions{Issuer: cfg.Issuer, Audience: cfg.Audience, Now: cfg.Now}
	s := &Service{
		cfg:       cfg,
		log:       log.With("service", Name),
		st:        store.New(deps.DB),
		relay:     outbox.NewRelay(deps.DB, deps.Bus, outbox.RelayOptions{Logger: log}),
		mux:       http.NewServeMux(),
		keys:      keys,
		box:       box,
		issuer:    authn.NewIssuer(keys, topts),
		tokens:    authn.NewKeySetVerifier(set, authn.VerifierOptions{TokenOptions: topts}),
		dummyHash: dummy,
	}
	s.sessions, s.throttle = storeSessions{st: s.st}, NewMemoryThrottle()
	if cfg.Redis != nil {
		s.sessions = NewRedisSessions(cfg.Redis, cfg.RedisPrefix)
		s.throttle = NewRedisThrottle(cfg.Redis, cfg.RedisPrefix)
	}
	s.api = httpapi.NewAPI(s.mux, Name, "1.0.0")
	s.routes()
	s.mux.Handle(authv1connect.NewAuthServiceHandler(&rpcServer{s: s}, rpc.Guard(rpcCallers)))
	s.mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(authv1connect.AuthServiceName)))
	return s, nil
}

func withDefaults(cfg Config, dataDir string) Config {
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = 12
	}
	if cfg.Issuer == "" {
		cfg.Issuer = authn.DefaultIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = authn.DefaultAudience
	}
	if cfg.RedisPrefix == "" {
		cfg.RedisPrefix = "auth:"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MailFrom == "" {
		cfg.MailFrom = "Second Opinion <no-reply@secondopinion.local>"
	}
	if cfg.Mailer == nil {
		cfg.Mailer = Mailbox{Dir: filepath.Join(dataDir, "mailbox"), From: cfg.MailFrom, Now: cfg.Now}
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

// Handler serves the public REST API, the JWKS and the AuthService gRPC API.
func (s *Service) Handler() http.Handler { return s.mux }

// OpenAPI describes the public REST API.
func (s *Service) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// Checks holds Redis when sessions live there: without it nobody logs in.
func (s *Service) Checks() map[string]httpapi.Check {
	if s.cfg.Redis == nil {
		return nil
	}
	return map[string]httpapi.Check{"redis": func(ctx context.Context) error { return s.cfg.Redis.Ping(ctx).Err() }}
}

// Run relays the outbox until ctx ends, then flushes it.
func (s *Service) Run(ctx context.Context) error { return s.relay.Run(ctx) }

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
		return authn.Principal{}, err
	}
	return p, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }
