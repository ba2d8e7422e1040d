package caseassignment

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/config"
)

func env(m map[string]string) config.Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func load(m map[string]string) (Config, error) {
	var c Config
	err := config.Load(env(m), &c)
	return c, err
}

// Each ASSIGNMENT_* duration takes a Go duration; the early-access window
// may be 0 (off), every other must be positive.
func TestConfigDurations(t *testing.T) {
	c, err := load(map[string]string{"ASSIGNMENT_DEADLINE_URGENT": "12h", "ASSIGNMENT_EARLY_ACCESS": "0s"})
	if err != nil || c.DeadlineUrgent != 12*time.Hour || c.EarlyAccess != 0 {
		t.Fatalf("%+v %v", c, err)
	}
	if c.DeadlineStandard != 72*time.Hour || c.EscalateAfter != 24*time.Hour || c.Interval != 30*time.Second {
		t.Errorf("defaults: %+v", c)
	}
	for _, bad := range []string{"soon", "-1h", "0"} {
		if _, err := load(map[string]string{"ASSIGNMENT_SWEEP_INTERVAL": bad}); err == nil || !strings.Contains(err.Error(), "ASSIGNMENT_SWEEP_INTERVAL") {
			t.Errorf("ASSIGNMENT_SWEEP_INTERVAL=%q: %v", bad, err)
		}
	}
	for _, name := range []string{"ASSIGNMENT_DEADLINE_STANDARD", "ASSIGNMENT_DEADLINE_URGENT", "ASSIGNMENT_ESCALATE_AFTER", "ASSIGNMENT_SWEEP_INTERVAL"} {
		want := name + ": must be a positive duration such as 72h"
		if _, err := load(map[string]string{name: "0"}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=0: %v, want %q", name, err, want)
		}
	}
	if _, err := load(map[string]string{"ASSIGNMENT_EARLY_ACCESS": "-1m"}); err == nil || !strings.Contains(err.Error(), "ASSIGNMENT_EARLY_ACCESS") {
		t.Errorf("a negative early-access window: %v", err)
	}
}

// ASSIGNMENT_REQUIRED_LEVELS is read and checked when loaded; a bad rule
// names the variable.
func TestConfigRequiredLevels(t *testing.T) {
	c, err := load(map[string]string{"ASSIGNMENT_REQUIRED_LEVELS": " URGENT=EXPERT, CARDIOLOGY/STANDARD=SENIOR ,"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.rules()
	if err != nil {
		t.Fatal(err)
	}
	if r.RequiredLevel("NEUROLOGY", vocab.Urgent) != vocab.Expert || r.RequiredLevel("CARDIOLOGY", vocab.Standard) != vocab.Senior ||
		r.RequiredLevel("NEUROLOGY", vocab.Standard) != vocab.Junior {
		t.Errorf("rules %v", r.RequiredLevels)
	}
	for _, bad := range []string{"URGENT", "CARDIOLOGY/SOON=SENIOR", "ASTROLOGY/URGENT=SENIOR", "URGENT=CHIEF"} {
		if _, err := load(map[string]string{"ASSIGNMENT_REQUIRED_LEVELS": bad}); err == nil || !strings.Contains(err.Error(), "ASSIGNMENT_REQUIRED_LEVELS: ") {
			t.Errorf("ASSIGNMENT_REQUIRED_LEVELS=%q: %v", bad, err)
		}
	}
}

// The variables' defaults are the rules a Config built in code gets, and
// the required levels print back as they are written.
func TestConfigDefaults(t *testing.T) {
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := c.rules()
	if err != nil {
		t.Fatal(err)
	}
	zero, err := Config{}.rules()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, zero) {
		t.Errorf("defaults %+v, a zero Config's %+v", loaded, zero)
	}
	for _, s := range config.Settings(c) {
		if s.Name == "ASSIGNMENT_REQUIRED_LEVELS" && s.Value != s.Default {
			t.Errorf("%s prints %q, its default is %q", s.Name, s.Value, s.Default)
		}
	}
}
