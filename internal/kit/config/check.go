package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// EnvName is the environment variable prefix of a target:
// "patient-identity" → "PATIENT_IDENTITY".
func EnvName(target string) string {
	return strings.ToUpper(strings.ReplaceAll(target, "-", "_"))
}

// SplitList splits a comma-separated list, dropping empty items.
func SplitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ParseDuration accepts Go durations ("30s", "1m") and bare seconds ("30").
func ParseDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

// CheckHostPort reports a value that is not host:port with a valid port.
func CheckHostPort(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("must be host:port, got %q", v)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("port must be 1–65535, got %q", v)
	}
	return nil
}

// CheckURL reports a URL that does not parse or has the wrong scheme. The
// value is not echoed: it may hold a password.
func CheckURL(v string, schemes []string) error {
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

// CheckOrigin reports a CORS origin that is neither * nor scheme://host[:port].
func CheckOrigin(o string) error {
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
