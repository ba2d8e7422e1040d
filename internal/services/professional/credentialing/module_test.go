package credentialing

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/service"
)

func TestModule(t *testing.T) {
	if want := []string{"professional.registered"}; !slices.Equal(Module.Consumes, want) || !slices.Equal(subscriptions.Types(), want) {
		t.Errorf("module consumes %v, subscriptions %v; want %v", Module.Consumes, subscriptions.Types(), want)
	}
	if len(Module.Requires) != 0 {
		t.Errorf("requires %v, want no peer", Module.Requires)
	}
}

func env(m map[string]string) config.Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// CREDENTIAL_CHECK_INTERVAL is a positive duration, daily by default; a
// bad one is refused naming the variable.
func TestConfig(t *testing.T) {
	var c Config
	if err := config.Load(env(nil), &c); err != nil || c.Interval != 24*time.Hour {
		t.Fatalf("default %v, %v", c.Interval, err)
	}
	c = Config{}
	if err := config.Load(env(map[string]string{"CREDENTIAL_CHECK_INTERVAL": "12h"}), &c); err != nil || c.Interval != 12*time.Hour {
		t.Fatalf("12h: %v, %v", c.Interval, err)
	}
	for _, bad := range []string{"soon", "-1h", "0"} {
		c = Config{}
		if err := config.Load(env(map[string]string{"CREDENTIAL_CHECK_INTERVAL": bad}), &c); err == nil ||
			!strings.Contains(err.Error(), "CREDENTIAL_CHECK_INTERVAL") {
			t.Errorf("CREDENTIAL_CHECK_INTERVAL=%q: %v", bad, err)
		}
	}
	c = Config{}
	err := config.Load(env(map[string]string{"CREDENTIAL_CHECK_INTERVAL": "0s"}), &c)
	if err == nil || !strings.Contains(err.Error(), "CREDENTIAL_CHECK_INTERVAL: must be a positive duration such as 24h") {
		t.Errorf("zero interval: %v", err)
	}
	if _, err := New(Config{}, service.Deps{}); err == nil || !strings.Contains(err.Error(), "CREDENTIAL_CHECK_INTERVAL") {
		t.Errorf("New without an interval: %v", err)
	}
}
