package pricing

import (
	"context"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

func TestConfig(t *testing.T) {
	load := func(env map[string]string) (*Config, error) {
		cfg, err := Module.LoadConfig(func(name string) (string, bool) { v, ok := env[name]; return v, ok })
		if err != nil {
			return nil, err
		}
		return cfg.(*Config), nil
	}
	cfg, err := load(nil)
	if err != nil || cfg.QuoteTTL != 30*time.Minute || len(cfg.QuoteKey) != 0 {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	key := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("s", 40)))
	if cfg, err := load(map[string]string{"PRICING_QUOTE_KEY": key, "PRICING_QUOTE_TTL": "15m"}); err != nil ||
		string(cfg.QuoteKey) != strings.Repeat("s", 40) || cfg.QuoteTTL != 15*time.Minute {
		t.Errorf("set: %+v, %v", cfg, err)
	}
	short := base64.RawURLEncoding.EncodeToString([]byte("too-short-a-secret"))
	for env, want := range map[string]string{"PRICING_QUOTE_KEY=" + short: "PRICING_QUOTE_KEY", "PRICING_QUOTE_TTL=10s": "PRICING_QUOTE_TTL",
		"PRICING_QUOTE_TTL=48h": "PRICING_QUOTE_TTL"} {
		name, value, _ := strings.Cut(env, "=")
		_, err := load(map[string]string{name: value})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), short) {
			t.Errorf("%s: %v", env, err)
		}
	}
	// The key is a secret: never printed.
	for _, s := range config.Settings(&Config{QuoteKey: QuoteKey(strings.Repeat("s", 40))}) {
		if s.Name == "PRICING_QUOTE_KEY" && (!s.Secret || strings.Contains(s.Value, "sss")) {
			t.Errorf("the key is shown: %+v", s)
		}
	}
}

// Without PRICING_QUOTE_KEY the key is made once under DATA_DIR, kept
// private, and read again on restart: quotes issued before still redeem.
func TestQuoteKeyFile(t *testing.T) {
	db := testkit.OpenDB(t, sqldb.SQLite, Name)
	dir := t.TempDir()
	first := newHarnessIn(t, db, dir, Config{QuoteTTL: time.Hour})
	info, err := os.Stat(filepath.Join(dir, QuoteKeyFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", info, err)
	}
	c := first.newCase(patientA, "EU-2030-000001", "ONCOLOGY", "STANDARD", "DRAFT")
	q, _ := first.quote("a", c, "")

	again := newHarnessIn(t, db, dir, Config{QuoteTTL: time.Hour})
	if string(again.svc.key) != string(first.svc.key) {
		t.Fatal("a restart made a new key")
	}
	again.cases.cases = first.cases.cases
	if _, err := again.pricing("service:payments").Redeem(context.Background(), q.Token, c, patientA); err != nil {
		t.Errorf("after a restart: %v", err)
	}
	other := newHarnessIn(t, db, t.TempDir(), Config{QuoteTTL: time.Hour})
	_, err = other.pricing("service:payments").Redeem(context.Background(), q.Token, c, patientA)
	invalid(t, "a quote signed with another key", err, "not a quote")

	if _, err := New(Config{QuoteTTL: time.Hour}, service.Deps{Region: "EU", DB: db, Bus: inproc.New(), Log: slog.New(slog.DiscardHandler)}); err == nil ||
		!strings.Contains(err.Error(), "PRICING_QUOTE_KEY") {
		t.Errorf("neither a key nor a data folder: %v", err)
	}
}
