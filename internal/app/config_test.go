package app

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	c, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":8080" || c.DataDir != "./data" || c.Region != "EU" || c.LogLevel.Level != slog.LevelInfo ||
		c.ShutdownTimeout != 30*time.Second || c.DatabaseURL != "" || c.DatabaseURLFor("patient-identity") != "" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestLoadAll(t *testing.T) {
	c, err := LoadConfig(env(map[string]string{
		"PORT":                          "9000",
		"DATA_DIR":                      "/var/lib/so",
		"DATABASE_URL":                  "postgresql://app:pw@db:5432/so",
		"PATIENT_IDENTITY_DATABASE_URL": "postgres://pi:pw2@pidb/pi",
		"REDIS_URL":                     "redis://:rpw@redis:6379/0",
		"KAFKA_BROKERS":                 "k1:9092, k2:9092",
		"REGION":                        "US",
		"SERVICE_NAME":                  "case-management",
		"PATIENT_IDENTITY_SERVICE_URL":  "http://patient-identity:8080",
		"LEGACY_MONOLITH_URL":           "https://legacy.example",
		"OTEL_EXPORTER_OTLP_ENDPOINT":   "http://otel:4318",
		"LOG_LEVEL":                     "DEBUG",
		"SHUTDOWN_TIMEOUT":              "5",
		"CORS_ALLOWED_ORIGINS":          "https://app.example, http://localhost:3000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":9000" || c.DataDir != "/var/lib/so" || c.Region != "US" || c.ServiceName != "case-management" ||
		c.LogLevel.Level != slog.LevelDebug || c.ShutdownTimeout != 5*time.Second {
		t.Fatalf("scalars: %+v", c)
	}
	if c.DatabaseURLFor("patient-identity") != "postgres://pi:pw2@pidb/pi" || c.DatabaseURLFor("case-management") != "postgresql://app:pw@db:5432/so" {
		t.Fatalf("database URLs: %v / %s", c.ServiceDatabaseURLs, c.DatabaseURL)
	}
	if !slices.Equal(c.KafkaBrokers, []string{"k1:9092", "k2:9092"}) || len(c.Gateway.CORSOrigins) != 2 {
		t.Fatalf("lists: %v %v", c.KafkaBrokers, c.Gateway.CORSOrigins)
	}
	if c.ServiceURLs["patient-identity"] != "http://patient-identity:8080" || len(c.ServiceURLs) != 1 {
		t.Fatalf("service URLs: %v", c.ServiceURLs)
	}
}

func TestListenOverridesPort(t *testing.T) {
	c, err := LoadConfig(env(map[string]string{"PORT": "9000", "LISTEN": "127.0.0.1:7000"}))
	if err != nil || c.Listen != "127.0.0.1:7000" {
		t.Fatalf("listen %q, %v", c.Listen, err)
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"REGION": "eu1"}, `REGION: must be 2–3 upper-case letters, got "eu1"`},
		{map[string]string{"PORT": "0"}, "PORT: must be a port number 1–65535"},
		{map[string]string{"PORT": "http"}, "PORT:"},
		{map[string]string{"LISTEN": "localhost"}, "LISTEN: must be host:port"},
		{map[string]string{"DATABASE_URL": "mysql://u:secret@db/x"}, `DATABASE_URL: scheme must be postgres or postgresql, got "mysql"`},
		{map[string]string{"CASE_MANAGEMENT_DATABASE_URL": "http://db"}, "CASE_MANAGEMENT_DATABASE_URL: scheme"},
		{map[string]string{"PATIENT_IDENTITY_SERVICE_URL": "patient-identity:8080"}, "PATIENT_IDENTITY_SERVICE_URL:"},
		{map[string]string{"REDIS_URL": "http://redis"}, "REDIS_URL: scheme must be redis or rediss"},
		{map[string]string{"KAFKA_BROKERS": "k1"}, `KAFKA_BROKERS: broker "k1"`},
		{map[string]string{"NATS_URL": "http://nats:4222"}, "NATS_URL: scheme"},
		{map[string]string{"KAFKA_BROKERS": "k1:9092", "NATS_URL": "nats://n:4222"}, "choose one event bus"},
		{map[string]string{"LOG_LEVEL": "trace"}, "LOG_LEVEL: must be debug, info, warn or error"},
		{map[string]string{"SHUTDOWN_TIMEOUT": "-1s"}, "SHUTDOWN_TIMEOUT: must be a positive duration"},
		{map[string]string{"CORS_ALLOWED_ORIGINS": "https://a.example/path"}, "CORS_ALLOWED_ORIGINS: origin must be"},
		{map[string]string{"SERVICE_NAME": "Case Management"}, "SERVICE_NAME:"},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "otel:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT:"},
	} {
		_, err := LoadConfig(env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%v: error leaks a password: %v", tc.env, err)
		}
	}
}

func TestEmptyCountsAsUnset(t *testing.T) {
	c, err := LoadConfig(env(map[string]string{"REGION": "", "PORT": " ", "DATABASE_URL": ""}))
	if err != nil || c.Region != "EU" || c.Listen != ":8080" {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestRedactedHidesSecrets(t *testing.T) {
	c, err := LoadConfig(env(map[string]string{
		"DATABASE_URL":                  "postgres://app:s3cret-db@db:5432/so?sslmode=disable&password=s3cret-q",
		"PATIENT_IDENTITY_DATABASE_URL": "postgres://pi:s3cret-pi@pidb/pi",
		"REDIS_URL":                     "rediss://:s3cret-redis@redis:6380/0",
		"NATS_URL":                      "nats://s3cret-token@nats:4222",
		"OTEL_EXPORTER_OTLP_ENDPOINT":   "https://collector:4318?token=s3cret-otel",
		"PATIENT_IDENTITY_SERVICE_URL":  "http://svc:s3cret-svc@pi:8080",
		"SERVICE_SECRET":                "s3cret-of-this-service",
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var keys []string
	for _, s := range c.Settings() {
		if strings.Contains(s.Value, "s3cret") {
			t.Errorf("%s leaks a secret: %s", s.Name, s.Value)
		}
		got[s.Name] = s.Value
		keys = append(keys, s.Name)
	}
	if got["DATABASE_URL"] != "postgres://app:xxxxx@db:5432/so?password=xxxxx&sslmode=disable" {
		t.Errorf("DATABASE_URL = %s", got["DATABASE_URL"])
	}
	if got["PATIENT_IDENTITY_DATABASE_URL"] != "postgres://pi:xxxxx@pidb/pi" || got["NATS_URL"] != "nats://xxxxx@nats:4222" {
		t.Errorf("redacted: %v", got)
	}
	if got["SERVICE_SECRET"] != "(set)" {
		t.Errorf("secrets not shown as set: %v", got)
	}
	// The platform's settings first, then each service's own.
	if keys[0] != "PORT" || !slices.Contains(keys, "PATIENT_IDENTITY_SERVICE_URL") ||
		slices.Index(keys, "SERVICE_SECRET") > slices.Index(keys, "ASSIGNMENT_DEADLINE_STANDARD") {
		t.Errorf("order: %v", keys)
	}
	for _, name := range []string{"JWT_SIGNING_KEYS", "ADMIN_PASSWORD", "ASSIGNMENT_SWEEP_INTERVAL", "CREDENTIAL_CHECK_INTERVAL",
		"LEGACY_MONOLITH_URL", "AUTH_BCRYPT_COST"} {
		if !slices.Contains(keys, name) {
			t.Errorf("config lacks %s: %v", name, keys)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := LoadConfig(env(nil))
	if err != nil || len(c.Platform.TrustedProxies) != 2 || c.Platform.TrustedProxies[0].String() != "127.0.0.0/8" {
		t.Fatalf("default: %v %v", c.Platform.TrustedProxies, err)
	}
	c, err = LoadConfig(env(map[string]string{"TRUSTED_PROXIES": "10.1.2.3/8, 192.168.0.0/16"}))
	if err != nil || len(c.Platform.TrustedProxies) != 2 || c.Platform.TrustedProxies[0].String() != "10.0.0.0/8" {
		t.Fatalf("%v %v", c.Platform.TrustedProxies, err)
	}
	if c, err := LoadConfig(env(map[string]string{"TRUSTED_PROXIES": ""})); err != nil || len(c.Platform.TrustedProxies) != 0 {
		t.Fatalf("empty: %v %v", c.Platform.TrustedProxies, err)
	}
	if _, err := LoadConfig(env(map[string]string{"TRUSTED_PROXIES": "gateway"})); err == nil {
		t.Fatal("a name was accepted")
	}
}
