package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/secondopinion/platform/internal/gateway"
	"github.com/secondopinion/platform/internal/kit/config"
)

// Platform is the process's own configuration, which no one service owns:
// where it listens and keeps its data, the stores, bus and cache of every
// service, where its peers are, and how it reports (the migration plan's
// variable names).
type Platform struct {
	Port        string `env:"PORT" doc:"port to serve on (LISTEN wins)"`
	Listen      string `env:"LISTEN" doc:"host:port to serve on; default :8080, or :PORT"`
	DataDir     string `env:"DATA_DIR" default:"./data" doc:"folder of the embedded stores, key files and mailbox"`
	DatabaseURL string `env:"DATABASE_URL" secret:"url" doc:"PostgreSQL for every service without its own URL, one schema each; unset: SQLite under DATA_DIR"`
	// DatabaseConnectTimeout and DatabaseStatementTimeout bound every
	// PostgreSQL call, so that a database that is down or stopped is
	// answered 503 within seconds instead of holding requests (see
	// sqldb.Options).
	DatabaseConnectTimeout   time.Duration `env:"DATABASE_CONNECT_TIMEOUT" default:"3s" doc:"bound on opening a PostgreSQL connection; 0: none"`
	DatabaseStatementTimeout time.Duration `env:"DATABASE_STATEMENT_TIMEOUT" default:"5s" doc:"bound on a PostgreSQL statement (the server's statement_timeout) and, 1s later, on any call or wait for an answer; 0: none, e.g. for a long migration or audit verify"`
	RedisURL                 string        `env:"REDIS_URL" secret:"url" doc:"Redis for sessions, throttling and Idempotency-Key records shared by replicas"`
	// KafkaBrokers and NATSURL choose the event bus; neither is the
	// in-process bus.
	KafkaBrokers []string `env:"KAFKA_BROKERS" doc:"Kafka brokers host:port,… (topic medical-platform-events)"`
	NATSURL      string   `env:"NATS_URL" secret:"url" doc:"NATS JetStream servers (choose one of Kafka and NATS)"`
	Region       string   `env:"REGION" default:"EU" doc:"region prefixing case and professional numbers"`
	ServiceName  string   `env:"SERVICE_NAME" doc:"the process's name in traces; default the target's"`
	OTLPEndpoint string   `env:"OTEL_EXPORTER_OTLP_ENDPOINT" secret:"url" doc:"export traces over OTLP/HTTP"`
	LogLevel     LogLevel `env:"LOG_LEVEL" default:"info" doc:"debug, info, warn or error"`
	// ShutdownTimeout bounds a graceful shutdown.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" default:"30s" doc:"bound on graceful shutdown"`
	// The limits of the public listener (see newServer), so that slow,
	// idle or oversized clients cannot hold connections indefinitely.
	// Nothing is exempt from the write limit: the largest answer, the
	// report PDF, is small, and the gateway gives up on an upstream after
	// 30 s, which the write limit must stay above.
	HTTPReadTimeout    time.Duration `env:"HTTP_READ_TIMEOUT" default:"30s" doc:"bound on reading a request, headers and body; a slower client is cut off (408)"`
	HTTPWriteTimeout   time.Duration `env:"HTTP_WRITE_TIMEOUT" default:"60s" doc:"bound on answering a request once read; keep it above the gateway's 30 s upstream timeout"`
	HTTPIdleTimeout    time.Duration `env:"HTTP_IDLE_TIMEOUT" default:"120s" doc:"how long a keep-alive connection may wait for its next request"`
	HTTPMaxHeaderBytes int           `env:"HTTP_MAX_HEADER_BYTES" default:"65536" doc:"largest request header block, counted as HTTP/2 does (32 bytes more a field); larger is answered 431"`
	// MetricsListen is the operations listener (/metrics and the probes),
	// apart from the public port. Its default depends on the targets,
	// known only at start: see metricsAddr.
	MetricsListen string `env:"METRICS_LISTEN" doc:"host:port serving /metrics, or off; default 127.0.0.1:9090, or :9090 for a single target"`
	// TrustedProxies are the peers whose X-Forwarded-For names the client:
	// the gateway's and ingress' addresses; loopback for a mesh sidecar.
	// Set empty, nobody is trusted.
	TrustedProxies Prefixes `env:"TRUSTED_PROXIES,empty" default:"127.0.0.0/8,::1/128" doc:"CIDRs of the proxies whose X-Forwarded-For is believed"`
	// ServiceSecret is this process's service credential: a service whose
	// auth runs elsewhere exchanges it for the identity it presents.
	ServiceSecret string `env:"SERVICE_SECRET" secret:"true" doc:"this process's service credential, exchanged at auth when auth runs elsewhere"`

	// ServiceDatabaseURLs and ServiceURLs are the per-target variables
	// <TARGET>_DATABASE_URL and <TARGET>_SERVICE_URL.
	ServiceDatabaseURLs map[string]string
	ServiceURLs         map[string]string
}

// Config is everything a process is configured with: the platform's
// settings, the gateway's, and each service's own, by target name.
type Config struct {
	Platform
	Gateway  gateway.Config
	Services map[string]any
}

// LoadConfig reads the configuration through get (the environment, or
// flags over it): the platform's, the gateway's and every
// service's. A bad value is an error naming its variable; all are
// reported together.
func LoadConfig(get config.Lookup) (Config, error) {
	c := Config{Services: map[string]any{}}
	errs := []error{config.Load(get, &c.Platform), c.Platform.perTarget(get), config.Load(get, &c.Gateway)}
	for _, m := range Catalogue() {
		cfg, err := m.LoadConfig(get)
		errs = append(errs, err)
		c.Services[m.Name] = cfg
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// DatabaseURLVar and ServiceURLVar name a target's own variables.
func DatabaseURLVar(target string) string { return config.EnvName(target) + "_DATABASE_URL" }
func ServiceURLVar(target string) string  { return config.EnvName(target) + "_SERVICE_URL" }

var (
	postgresSchemes = []string{"postgres", "postgresql"}
	webSchemes      = []string{"http", "https"}
	namePattern     = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
)

// perTarget reads every target's <TARGET>_DATABASE_URL and
// <TARGET>_SERVICE_URL.
func (p *Platform) perTarget(get config.Lookup) error {
	p.ServiceDatabaseURLs, p.ServiceURLs = map[string]string{}, map[string]string{}
	var errs []error
	for _, name := range Names() {
		for v, into := range map[string]struct {
			m       map[string]string
			schemes []string
		}{DatabaseURLVar(name): {p.ServiceDatabaseURLs, postgresSchemes}, ServiceURLVar(name): {p.ServiceURLs, webSchemes}} {
			raw, _ := get(v)
			if raw = strings.TrimSpace(raw); raw == "" {
				continue
			}
			if err := config.CheckURL(raw, into.schemes); err != nil {
				errs = append(errs, config.Errorf(v, "%v", err))
				continue
			}
			into.m[name] = raw
		}
	}
	return errors.Join(errs...)
}

// Validate checks what the fields' types do not, and settles Listen.
func (p *Platform) Validate() error {
	var errs []error
	fail := func(name, format string, args ...any) { errs = append(errs, config.Errorf(name, format, args...)) }
	if p.Port != "" {
		if n, err := strconv.Atoi(p.Port); err != nil || n < 1 || n > 65535 {
			fail("PORT", "must be a port number 1–65535, got %q", p.Port)
		}
	}
	switch {
	case p.Listen != "":
		if err := config.CheckHostPort(p.Listen); err != nil {
			fail("LISTEN", "%v", err)
		}
	case p.Port != "":
		p.Listen = ":" + p.Port
	default:
		p.Listen = ":8080"
	}
	if p.MetricsListen != "" && p.MetricsListen != MetricsOff {
		if err := config.CheckHostPort(p.MetricsListen); err != nil {
			fail("METRICS_LISTEN", "%v (or off)", err)
		}
	}
	for name, u := range map[string]struct {
		value   string
		schemes []string
	}{"DATABASE_URL": {p.DatabaseURL, postgresSchemes}, "REDIS_URL": {p.RedisURL, []string{"redis", "rediss"}},
		"OTEL_EXPORTER_OTLP_ENDPOINT": {p.OTLPEndpoint, webSchemes}} {
		if u.value == "" {
			continue
		}
		if err := config.CheckURL(u.value, u.schemes); err != nil {
			fail(name, "%v", err)
		}
	}
	for _, b := range p.KafkaBrokers {
		if err := config.CheckHostPort(b); err != nil {
			fail("KAFKA_BROKERS", "broker %q: %v", b, err)
		}
	}
	// nats.go takes a comma-separated list of servers.
	for _, u := range config.SplitList(p.NATSURL) {
		if err := config.CheckURL(u, []string{"nats", "tls", "ws", "wss"}); err != nil {
			fail("NATS_URL", "%v", err)
		}
	}
	if len(p.KafkaBrokers) > 0 && p.NATSURL != "" {
		errs = append(errs, errors.New("KAFKA_BROKERS and NATS_URL: both are set; choose one event bus"))
	}
	if !regionPattern.MatchString(p.Region) {
		fail("REGION", "must be 2–3 upper-case letters, got %q", p.Region)
	}
	if p.ServiceName != "" && !namePattern.MatchString(p.ServiceName) {
		fail("SERVICE_NAME", "must be lower-case letters, digits and '-', got %q", p.ServiceName)
	}
	if p.ShutdownTimeout <= 0 {
		fail("SHUTDOWN_TIMEOUT", "must be a positive duration such as 30s")
	}
	for name, d := range map[string]time.Duration{"HTTP_READ_TIMEOUT": p.HTTPReadTimeout, "HTTP_WRITE_TIMEOUT": p.HTTPWriteTimeout,
		"HTTP_IDLE_TIMEOUT": p.HTTPIdleTimeout} {
		if d <= 0 {
			fail(name, "must be a positive duration such as 30s")
		}
	}
	if p.HTTPMaxHeaderBytes < minHeaderBytes || p.HTTPMaxHeaderBytes > http.DefaultMaxHeaderBytes {
		fail("HTTP_MAX_HEADER_BYTES", "must be %d–%d bytes, got %d", minHeaderBytes, http.DefaultMaxHeaderBytes, p.HTTPMaxHeaderBytes)
	}
	if p.DatabaseConnectTimeout < 0 {
		fail("DATABASE_CONNECT_TIMEOUT", "must be a duration such as 3s, or 0 for none")
	}
	if p.DatabaseStatementTimeout < 0 {
		fail("DATABASE_STATEMENT_TIMEOUT", "must be a duration such as 5s, or 0 for none")
	}
	return errors.Join(errs...)
}

var regionPattern = regexp.MustCompile(`^[A-Z]{2,3}$`)

// minHeaderBytes leaves room for a bearer token and what browsers send.
const minHeaderBytes = 4 << 10

// DatabaseURLFor is the PostgreSQL URL of a target's store, or "" for
// SQLite under DataDir.
func (p Platform) DatabaseURLFor(target string) string {
	if u := p.ServiceDatabaseURLs[target]; u != "" {
		return u
	}
	return p.DatabaseURL
}

// LogLevel is LOG_LEVEL: debug, info, warn or error.
type LogLevel struct{ slog.Level }

func (l *LogLevel) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "debug":
		l.Level = slog.LevelDebug
	case "info":
		l.Level = slog.LevelInfo
	case "warn":
		l.Level = slog.LevelWarn
	case "error":
		l.Level = slog.LevelError
	default:
		return fmt.Errorf("must be debug, info, warn or error, got %q", b)
	}
	return nil
}

func (l LogLevel) String() string { return strings.ToLower(l.Level.String()) }

// Prefixes is a list of CIDRs, as TRUSTED_PROXIES takes them.
type Prefixes []netip.Prefix

func (ps *Prefixes) UnmarshalText(b []byte) error {
	*ps = nil
	for _, cidr := range config.SplitList(string(b)) {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return fmt.Errorf("want CIDRs such as 10.0.0.0/8, got %q", cidr)
		}
		*ps = append(*ps, p.Masked())
	}
	return nil
}

func (ps Prefixes) String() string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return strings.Join(out, ",")
}

// Settings lists the whole configuration as `secondopinion config` prints
// it, secrets masked: the platform's, each target's URLs that are set,
// the gateway's, then every service's own.
func (c Config) Settings() []config.Setting {
	out := config.Settings(&c.Platform)
	for _, name := range Names() {
		if u := c.ServiceDatabaseURLs[name]; u != "" {
			out = append(out, config.Setting{Name: DatabaseURLVar(name), Value: config.RedactURL(u), Secret: true})
		}
		if u := c.ServiceURLs[name]; u != "" {
			out = append(out, config.Setting{Name: ServiceURLVar(name), Value: config.RedactURL(u), Secret: true})
		}
	}
	out = append(out, config.Settings(&c.Gateway)...)
	for _, m := range Catalogue() {
		if cfg, ok := c.Services[m.Name]; ok {
			out = append(out, config.Settings(cfg)...)
		}
	}
	return slices.Clip(out)
}
