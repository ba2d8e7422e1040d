// Package config owns the binary's configuration: the migration plan's
// environment variables, their defaults for the embedded mode, their
// validation (a bad value stops start-up with the variable's name), and a
// redacted view for printing that never shows a secret.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is the effective configuration of one process.
type Config struct {
	Listen      string // host:port the HTTP server binds
	DataDir     string // embedded stores (SQLite files) live here
	DatabaseURL string // PostgreSQL for every service without its own URL; "" means SQLite
	// ServiceDatabaseURLs maps a target to its own PostgreSQL URL
	// (<SERVICE>_DATABASE_URL), overriding DatabaseURL.
	ServiceDatabaseURLs map[string]string
	RedisURL            string
	KafkaBrokers        []string
	NATSURL             string
	Region              string
	ServiceName         string // telemetry service name; "" lets the app choose
	// ServiceURLs maps a target to its base URL (<TARGET>_SERVICE_URL), for
	// peers that run in another process.
	ServiceURLs        map[string]string
	LegacyMonolithURL  string
	OTLPEndpoint       string
	LogLevel           slog.Level
	ShutdownTimeout    time.Duration
	CORSAllowedOrigins []string
	// JWTSigningKeys is the auth service's keyring (JWT_SIGNING_KEYS,
	// authn.ParseKeyring's format); "" makes a key file under DataDir.
	JWTSigningKeys string
	// AdminEmail and AdminPassword create the first admin at start when
	// none exists (ADMIN_EMAIL, ADMIN_PASSWORD); both or neither.
	AdminEmail, AdminPassword string
	// ServiceSecret is this process's service credential (SERVICE_SECRET):
	// a service whose auth runs elsewhere exchanges it for the identity it
	// presents to peers. ServiceSecrets is auth's list of them
	// (SERVICE_SECRETS, "target=secret,…").
	ServiceSecret  string
	ServiceSecrets map[string]string
	// AuthSecretKey encrypts auth's second-factor secrets at rest
	// (AUTH_SECRET_KEY, 32 bytes in base64url); empty: a key file under
	// DataDir. Replicas of auth must share it.
	AuthSecretKey []byte
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (TRUSTED_PROXIES, CIDRs): the gateway's and ingress' addresses.
	// Default loopback, where a mesh sidecar connects from.
	TrustedProxies []netip.Prefix
	// Durations are the schedules and deadlines of the services, by
	// variable (see DurationVars); a missing one keeps the service's default.
	Durations map[string]time.Duration
	// RequiredLevels is ASSIGNMENT_REQUIRED_LEVELS: the minimum level per
	// urgency or specialty/urgency, "URGENT=SENIOR,CARDIOLOGY/URGENT=EXPERT".
	RequiredLevels string
}

// DurationVars are the duration settings of the services; each takes a
// Go duration such as 72h or 30s.
var DurationVars = []string{
	"ASSIGNMENT_DEADLINE_STANDARD", // how long a STANDARD case's professional has
	"ASSIGNMENT_DEADLINE_URGENT",   // how long an URGENT case's professional has
	"ASSIGNMENT_EARLY_ACCESS",      // EXPERT/DISTINGUISHED see new cases first; 0 off
	"ASSIGNMENT_ESCALATE_AFTER",    // an unclaimed case alerts admins after
	"ASSIGNMENT_SWEEP_INTERVAL",    // how often expiry and escalation run
	"CREDENTIAL_CHECK_INTERVAL",    // how often licence expiry is checked
}

// EnvName is the environment variable prefix of a target:
// "patient-identity" → "PATIENT_IDENTITY".
func EnvName(target string) string {
	return strings.ToUpper(strings.ReplaceAll(target, "-", "_"))
}

// DatabaseURLVar and ServiceURLVar name a target's variables.
func DatabaseURLVar(target string) string { return EnvName(target) + "_DATABASE_URL" }
func ServiceURLVar(target string) string  { return EnvName(target) + "_SERVICE_URL" }

// DatabaseURLFor is the PostgreSQL URL of a target's store, or "" for
// SQLite under DataDir.
func (c Config) DatabaseURLFor(target string) string {
	if u := c.ServiceDatabaseURLs[target]; u != "" {
		return u
	}
	return c.DatabaseURL
}

var (
	regionPattern = regexp.MustCompile(`^[A-Z]{2,3}$`)
	namePattern   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
)

// Load reads the configuration through getenv (os.LookupEnv, or a lookup
// that lets flags override the environment). targets are the names whose
// <TARGET>_DATABASE_URL and <TARGET>_SERVICE_URL are read. An empty value
// counts as unset, as Kubernetes ConfigMaps often carry them.
func Load(getenv func(string) (string, bool), targets ...string) (Config, error) {
	get := func(name string) string {
		v, _ := getenv(name)
		return strings.TrimSpace(v)
	}
	c := Config{
		DataDir:             "./data",
		Region:              "EU",
		LogLevel:            slog.LevelInfo,
		ShutdownTimeout:     30 * time.Second,
		ServiceDatabaseURLs: map[string]string{},
		ServiceURLs:         map[string]string{},
	}
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}

	c.Listen = ":8080"
	if v := get("PORT"); v != "" {
		if p, err := strconv.Atoi(v); err != nil || p < 1 || p > 65535 {
			fail("PORT", "must be a port number 1–65535, got %q", v)
		} else {
			c.Listen = ":" + v
		}
	}
	if v := get("LISTEN"); v != "" {
		if err := checkHostPort(v); err != nil {
			fail("LISTEN", "%v", err)
		} else {
			c.Listen = v
		}
	}
	if v := get("DATA_DIR"); v != "" {
		c.DataDir = v
	}

	urlVar := func(name string, schemes ...string) string {
		v := get(name)
		if v == "" {
			return ""
		}
		if err := checkURL(v, schemes); err != nil {
			fail(name, "%v", err)
			return ""
		}
		return v
	}
	postgres := []string{"postgres", "postgresql"}
	web := []string{"http", "https"}
	c.DatabaseURL = urlVar("DATABASE_URL", postgres...)
	for _, t := range targets {
		if v := urlVar(DatabaseURLVar(t), postgres...); v != "" {
			c.ServiceDatabaseURLs[t] = v
		}
		if v := urlVar(ServiceURLVar(t), web...); v != "" {
			c.ServiceURLs[t] = v
		}
	}
	c.RedisURL = urlVar("REDIS_URL", "redis", "rediss")
	c.LegacyMonolithURL = urlVar("LEGACY_MONOLITH_URL", web...)
	c.OTLPEndpoint = urlVar("OTEL_EXPORTER_OTLP_ENDPOINT", web...)

	if v := get("KAFKA_BROKERS"); v != "" {
		c.KafkaBrokers = splitList(v)
		for _, b := range c.KafkaBrokers {
			if err := checkHostPort(b); err != nil {
				fail("KAFKA_BROKERS", "broker %q: %v", b, err)
			}
		}
	}
	if v := get("NATS_URL"); v != "" {
		// nats.go takes a comma-separated list of servers.
		for _, u := range splitList(v) {
			if err := checkURL(u, []string{"nats", "tls", "ws", "wss"}); err != nil {
				fail("NATS_URL", "%v", err)
			}
		}
		c.NATSURL = v
	}
	if len(c.KafkaBrokers) > 0 && c.NATSURL != "" {
		errs = append(errs, errors.New("KAFKA_BROKERS and NATS_URL: both are set; choose one event bus"))
	}

	if v := get("REGION"); v != "" {
		if !regionPattern.MatchString(v) {
			fail("REGION", "must be 2–3 upper-case letters, got %q", v)
		}
		c.Region = v
	}
	if v := get("SERVICE_NAME"); v != "" {
		if !namePattern.MatchString(v) {
			fail("SERVICE_NAME", "must be lower-case letters, digits and '-', got %q", v)
		}
		c.ServiceName = v
	}
	if v := get("LOG_LEVEL"); v != "" {
		switch strings.ToLower(v) {
		case "debug":
			c.LogLevel = slog.LevelDebug
		case "info":
			c.LogLevel = slog.LevelInfo
		case "warn":
			c.LogLevel = slog.LevelWarn
		case "error":
			c.LogLevel = slog.LevelError
		default:
			fail("LOG_LEVEL", "must be debug, info, warn or error, got %q", v)
		}
	}
	if v := get("SHUTDOWN_TIMEOUT"); v != "" {
		d, err := parseDuration(v)
		if err != nil || d <= 0 {
			fail("SHUTDOWN_TIMEOUT", "must be a positive duration such as 30s, got %q", v)
		} else {
			c.ShutdownTimeout = d
		}
	}
	if v := get("CORS_ALLOWED_ORIGINS"); v != "" {
		c.CORSAllowedOrigins = splitList(v)
		for _, o := range c.CORSAllowedOrigins {
			if err := checkOrigin(o); err != nil {
				fail("CORS_ALLOWED_ORIGINS", "%v", err)
			}
		}
	}
	c.JWTSigningKeys = get("JWT_SIGNING_KEYS")
	c.AdminEmail, c.AdminPassword = get("ADMIN_EMAIL"), get("ADMIN_PASSWORD")
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		errs = append(errs, errors.New("ADMIN_EMAIL and ADMIN_PASSWORD: set both to create the first admin, or neither"))
	}
	for _, name := range DurationVars {
		v := get(name)
		if v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || (d == 0 && name != "ASSIGNMENT_EARLY_ACCESS") {
			fail(name, "must be a positive duration such as 72h, got %q", v)
			continue
		}
		if c.Durations == nil {
			c.Durations = map[string]time.Duration{}
		}
		c.Durations[name] = d
	}
	c.RequiredLevels = get("ASSIGNMENT_REQUIRED_LEVELS")
	proxies := "127.0.0.0/8,::1/128"
	if v, ok := getenv("TRUSTED_PROXIES"); ok {
		proxies = v
	}
	for _, cidr := range splitList(proxies) {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			fail("TRUSTED_PROXIES", "want CIDRs such as 10.0.0.0/8, got %q", cidr)
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	if v := get("AUTH_SECRET_KEY"); v != "" {
		k, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "="))
		if err != nil || len(k) != 32 {
			fail("AUTH_SECRET_KEY", "must be 32 bytes in base64url")
		}
		c.AuthSecretKey = k
	}
	c.ServiceSecret = get("SERVICE_SECRET")
	if v := get("SERVICE_SECRETS"); v != "" {
		c.ServiceSecrets = map[string]string{}
		for _, pair := range splitList(v) {
			name, secret, ok := strings.Cut(pair, "=")
			if !ok || name == "" || len(secret) < 16 {
				fail("SERVICE_SECRETS", "want target=secret pairs with secrets of at least 16 characters")
				break
			}
			c.ServiceSecrets[name] = secret
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parseDuration accepts Go durations ("30s", "1m") and bare seconds ("30").
func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

func checkHostPort(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("must be host:port, got %q", v)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port must be 1–65535, got %q", v)
	}
	return nil
}

// checkURL reports a URL that does not parse or has the wrong scheme. The
// value is not echoed: it may hold a password.
func checkURL(v string, schemes []string) error {
	u, err := url.Parse(v)
	if err != nil {
		return errors.New("not a valid URL")
	}
	for _, s := range schemes {
		if strings.EqualFold(u.Scheme, s) {
			if u.Host == "" && !strings.HasPrefix(s, "postgres") {
				return errors.New("the URL has no host")
			}
			return nil
		}
	}
	return fmt.Errorf("scheme must be %s, got %q", strings.Join(schemes, " or "), u.Scheme)
}

func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("origin must be * or scheme://host[:port], got %q", RedactURL(o))
	}
	return nil
}
