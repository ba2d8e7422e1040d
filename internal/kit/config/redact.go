package config

import (
	"net/url"
	"strings"
)

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
