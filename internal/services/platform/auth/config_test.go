package auth_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/services/platform/auth"
)

func env(m map[string]string) config.Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func load(m map[string]string) (auth.Config, error) {
	var c auth.Config
	err := config.Load(env(m), &c)
	return c, err
}

func TestConfigDefaults(t *testing.T) {
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.BcryptCost != 12 || c.SigningKeys != "" || len(c.SecretKey) != 0 || len(c.ServiceSecrets) != 0 || c.AdminEmail != "" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestBcryptCost(t *testing.T) {
	if c, err := load(map[string]string{"AUTH_BCRYPT_COST": "4"}); err != nil || c.BcryptCost != 4 {
		t.Fatalf("%d %v", c.BcryptCost, err)
	}
	for _, bad := range []string{"3", "32", "twelve"} {
		if _, err := load(map[string]string{"AUTH_BCRYPT_COST": bad}); err == nil || !strings.HasPrefix(err.Error(), "AUTH_BCRYPT_COST: ") {
			t.Errorf("AUTH_BCRYPT_COST=%q: %v", bad, err)
		}
	}
}

func TestServiceSecretsNeedPairsOfLength(t *testing.T) {
	for _, v := range []string{"case-management", "case-management=short", "=a secret long enough"} {
		_, err := load(map[string]string{"SERVICE_SECRETS": v})
		if err == nil || err.Error() != "SERVICE_SECRETS: want target=secret pairs with secrets of at least 16 characters" {
			t.Errorf("SERVICE_SECRETS=%q: %v", v, err)
		}
	}
	c, err := load(map[string]string{"SERVICE_SECRETS": "case-management=a secret long enough,audit=another long secret"})
	if err != nil || c.ServiceSecrets["audit"] != "another long secret" || len(c.ServiceSecrets) != 2 {
		t.Fatalf("%v %v", c.ServiceSecrets, err)
	}
}

func TestAuthSecretKey(t *testing.T) {
	key := strings.Repeat("A", 43) // 32 zero bytes in base64url
	for _, v := range []string{key, key + "="} {
		c, err := load(map[string]string{"AUTH_SECRET_KEY": v})
		if err != nil || len(c.SecretKey) != 32 {
			t.Fatalf("%q: %v %v", v, c.SecretKey, err)
		}
	}
	for _, bad := range []string{"c2hvcnQ", "not*base64url" + key} {
		_, err := load(map[string]string{"AUTH_SECRET_KEY": bad})
		if err == nil || !strings.HasPrefix(err.Error(), "AUTH_SECRET_KEY: ") {
			t.Errorf("a bad key was accepted: %v", err)
		}
		if err != nil && strings.Contains(err.Error(), bad) {
			t.Errorf("the error repeats the key: %v", err)
		}
	}
}

func TestAdminNeedsBothEmailAndPassword(t *testing.T) {
	_, err := load(map[string]string{"ADMIN_EMAIL": "admin@example.org"})
	if err == nil || !strings.Contains(err.Error(), "ADMIN_PASSWORD") {
		t.Fatalf("err = %v", err)
	}
	_, err = load(map[string]string{"ADMIN_PASSWORD": "s3cret-admin-password"})
	if err == nil || err.Error() != "ADMIN_EMAIL and ADMIN_PASSWORD: set both to create the first admin, or neither" {
		t.Fatalf("err = %v", err)
	}
}

func TestBadSigningKeysNameTheVariable(t *testing.T) {
	_, err := load(map[string]string{"JWT_SIGNING_KEYS": "k1:s3cret-seed"})
	if err == nil || !strings.HasPrefix(err.Error(), "JWT_SIGNING_KEYS: ") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v", err)
	}
}

func TestSettingsHideSecrets(t *testing.T) {
	c, err := load(map[string]string{
		"JWT_SIGNING_KEYS": "k1:" + seed(),
		"AUTH_SECRET_KEY":  seed(),
		"ADMIN_EMAIL":      "admin@example.org",
		"ADMIN_PASSWORD":   "s3cret-admin-password",
		"SERVICE_SECRETS":  "case-management=s3cret-of-case-mgmt",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var names []string
	for _, s := range config.Settings(&c) {
		if strings.Contains(s.Value, "s3cret") || strings.Contains(s.Value, seed()) {
			t.Errorf("%s leaks a secret: %s", s.Name, s.Value)
		}
		got[s.Name] = s.Value
		names = append(names, s.Name)
	}
	for _, name := range []string{"JWT_SIGNING_KEYS", "AUTH_SECRET_KEY", "ADMIN_PASSWORD", "SERVICE_SECRETS"} {
		if got[name] != "(set)" {
			t.Errorf("%s not shown as set: %q", name, got[name])
		}
	}
	if got["ADMIN_EMAIL"] != "admin@example.org" || got["AUTH_BCRYPT_COST"] != "12" {
		t.Errorf("settings: %v", got)
	}
	want := []string{"JWT_SIGNING_KEYS", "AUTH_SECRET_KEY", "SERVICE_SECRETS", "ADMIN_EMAIL", "ADMIN_PASSWORD", "AUTH_BCRYPT_COST"}
	if !slices.Equal(names, want) {
		t.Errorf("settings %v, want %v (the test hooks are not settings)", names, want)
	}
}
