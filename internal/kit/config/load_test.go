package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

type level string

func (l *level) UnmarshalText(b []byte) error {
	if s := string(b); s == "low" || s == "high" {
		*l = level(s)
		return nil
	}
	return errors.New("must be low or high")
}

type sample struct {
	Name     string            `env:"SAMPLE_NAME" default:"anon" doc:"who"`
	Every    time.Duration     `env:"SAMPLE_EVERY" default:"30s"`
	Count    int               `env:"SAMPLE_COUNT"`
	On       bool              `env:"SAMPLE_ON"`
	Hosts    []string          `env:"SAMPLE_HOSTS"`
	Pairs    map[string]string `env:"SAMPLE_PAIRS" secret:"true"`
	DB       string            `env:"SAMPLE_DB_URL" secret:"url"`
	Token    string            `env:"SAMPLE_TOKEN" secret:"true"`
	Level    level             `env:"SAMPLE_LEVEL" default:"low"`
	Allowed  []string          `env:"SAMPLE_ALLOWED,empty" default:"a,b"`
	Internal func()            // not a setting: no env tag
}

func (s *sample) Validate() error {
	if s.On && s.Count == 0 {
		return Errorf("SAMPLE_COUNT", "must be set when SAMPLE_ON is")
	}
	return nil
}

func env(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadDefaultsAndValues(t *testing.T) {
	var c sample
	if err := Load(env(nil), &c); err != nil {
		t.Fatal(err)
	}
	if c.Name != "anon" || c.Every != 30*time.Second || c.Level != "low" || !slices.Equal(c.Allowed, []string{"a", "b"}) {
		t.Fatalf("defaults %+v", c)
	}
	c = sample{}
	err := Load(env(map[string]string{"SAMPLE_NAME": " jo ", "SAMPLE_EVERY": "90", "SAMPLE_COUNT": "3", "SAMPLE_ON": "true",
		"SAMPLE_HOSTS": "a:1, ,b:2", "SAMPLE_PAIRS": "x=1,y = 2", "SAMPLE_LEVEL": "high", "SAMPLE_ALLOWED": ""}), &c)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "jo" || c.Every != 90*time.Second || c.Count != 3 || !c.On || !slices.Equal(c.Hosts, []string{"a:1", "b:2"}) ||
		c.Pairs["y"] != "2" || c.Level != "high" || len(c.Allowed) != 0 {
		t.Fatalf("values %+v", c)
	}
}

func TestEmptyCountsAsUnset(t *testing.T) {
	var c sample
	if err := Load(env(map[string]string{"SAMPLE_NAME": "", "SAMPLE_EVERY": " "}), &c); err != nil || c.Name != "anon" || c.Every != 30*time.Second {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	var c sample
	err := Load(env(map[string]string{"SAMPLE_EVERY": "soon", "SAMPLE_COUNT": "many", "SAMPLE_LEVEL": "mid",
		"SAMPLE_PAIRS": "s3cret", "SAMPLE_ON": "yes please"}), &c)
	for _, want := range []string{"SAMPLE_EVERY: must be a duration", "SAMPLE_COUNT: must be a whole number",
		"SAMPLE_LEVEL: must be low or high", "SAMPLE_PAIRS: want key=value", "SAMPLE_ON: must be true or false"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error repeats a secret: %v", err)
	}
	if err := Load(env(map[string]string{"SAMPLE_ON": "true"}), &c); err == nil || !strings.HasPrefix(err.Error(), "SAMPLE_COUNT:") {
		t.Errorf("Validate: %v", err)
	}
	if err := Load(env(nil), c); err == nil {
		t.Error("loaded into a value")
	}
}

func TestSettingsMaskSecrets(t *testing.T) {
	var c sample
	if err := Load(env(map[string]string{"SAMPLE_TOKEN": "s3cret-token", "SAMPLE_PAIRS": "a=s3cret-pair",
		"SAMPLE_DB_URL": "postgres://app:s3cret-db@db/x"}), &c); err != nil {
		t.Fatal(err)
	}
	got := map[string]Setting{}
	for _, s := range Settings(&c) {
		if strings.Contains(s.Value, "s3cret") {
			t.Errorf("%s leaks: %s", s.Name, s.Value)
		}
		got[s.Name] = s
	}
	if len(got) != 10 {
		t.Errorf("%d settings, want 10 (untagged fields are not settings)", len(got))
	}
	if got["SAMPLE_TOKEN"].Value != "(set)" || got["SAMPLE_DB_URL"].Value != "postgres://app:xxxxx@db/x" ||
		got["SAMPLE_EVERY"].Value != "30s" || got["SAMPLE_NAME"].Doc != "who" || got["SAMPLE_LEVEL"].Value != "low" {
		t.Errorf("settings %s", fmt.Sprint(got))
	}
}

func TestRedactURLKeepsUserWithoutPassword(t *testing.T) {
	if got := RedactURL("postgres://postgres@127.0.0.1:5432/test?sslmode=disable"); got != "postgres://postgres@127.0.0.1:5432/test?sslmode=disable" {
		t.Fatal(got)
	}
	if got := RedactURL("%zz://x"); got != Masked {
		t.Fatal(got)
	}
}
