package config

import (
	"net/url"
	"sort"
	"strings"
)

// Setting is one printable configuration entry.
type Setting struct {
	Key   string // the environment variable
	Value string
}

// Redacted lists the effective configuration in a fixed order, with every
// credential in a URL masked, ready to print.
func (c Config) Redacted() []Setting {
	out := []Setting{
		{"LISTEN", c.Listen},
		{"DATA_DIR", c.DataDir},
		{"DATABASE_URL", RedactURL(c.DatabaseURL)},
	}
	for _, t := range sortedKeys(c.ServiceDatabaseURLs) {
		out = append(out, Setting{DatabaseURLVar(t), RedactURL(c.ServiceDatabaseURLs[t])})
	}
	nats := strings.Split(c.NATSURL, ",")
	for i, u := range nats {
		nats[i] = RedactURL(strings.TrimSpace(u))
	}
	out = append(out,
		Setting{"REDIS_URL", RedactURL(c.RedisURL)},
		Setting{"KAFKA_BROKERS", strings.Join(c.KafkaBrokers, ",")},
		Setting{"NATS_URL", strings.Join(nats, ",")},
		Setting{"REGION", c.Region},
		Setting{"SERVICE_NAME", c.ServiceName},
	)
	for _, t := range sortedKeys(c.ServiceURLs) {
		out = append(out, Setting{ServiceURLVar(t), RedactURL(c.ServiceURLs[t])})
	}
	for _, name := range DurationVars {
		if d, ok := c.Durations[name]; ok {
			out = append(out, Setting{name, d.String()})
		}
	}
	out = append(out, Setting{"ASSIGNMENT_REQUIRED_LEVELS", c.RequiredLevels})
	var proxies []string
	for _, p := range c.TrustedProxies {
		proxies = append(proxies, p.String())
	}
	out = append(out, Setting{"TRUSTED_PROXIES", strings.Join(proxies, ",")})
	return append(out,
		Setting{"LEGACY_MONOLITH_URL", RedactURL(c.LegacyMonolithURL)},
		Setting{"OTEL_EXPORTER_OTLP_ENDPOINT", RedactURL(c.OTLPEndpoint)},
		Setting{"LOG_LEVEL", strings.ToLower(c.LogLevel.String())},
		Setting{"SHUTDOWN_TIMEOUT", c.ShutdownTimeout.String()},
		Setting{"CORS_ALLOWED_ORIGINS", strings.Join(c.CORSAllowedOrigins, ",")},
		Setting{"JWT_SIGNING_KEYS", masked(c.JWTSigningKeys)},
		Setting{"ADMIN_EMAIL", c.AdminEmail},
		Setting{"ADMIN_PASSWORD", masked(c.AdminPassword)},
		Setting{"AUTH_SECRET_KEY", masked(string(c.AuthSecretKey))},
		Setting{"SERVICE_SECRET", masked(c.ServiceSecret)},
		Setting{"SERVICE_SECRETS", masked(strings.Join(sortedKeys(c.ServiceSecrets), ","))},
	)
}

// Masked replaces a secret in printed values.
const Masked = "xxxxx"

// secretParams are query parameters that carry credentials in connection
// URLs (libpq's password, tokens of brokers and collectors).
var secretParams = []string{"password", "pass", "passwd", "pwd", "secret", "token", "key", "auth", "sslpassword", "apikey", "api_key", "access_token"}

// RedactURL masks the credentials of a URL: the password, a user-only
// token (nats://TOKEN@host) and credential query parameters. What does not
// parse as a URL is masked whole, since it may be anything.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Masked
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), Masked)
		} else if strings.HasPrefix(u.Scheme, "nats") || u.Scheme == "tls" || u.Scheme == "ws" || u.Scheme == "wss" {
			u.User = url.User(Masked)
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			for _, s := range secretParams {
				if strings.EqualFold(k, s) {
					q.Set(k, Masked)
				}
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// masked shows whether a secret is set, never the secret.
func masked(secret string) string {
	if secret == "" {
		return ""
	}
	return "(set)"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
