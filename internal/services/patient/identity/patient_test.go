package identity

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/problem"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func valid() Registration {
	return Registration{
		FirstName: "Ada", LastName: "Lovelace", DateOfBirth: "1990-12-10",
		Email: "Ada@Example.org", Password: "correct horse battery",
	}
}

func TestRegistrationRules(t *testing.T) {
	yes := true
	cases := []struct {
		name  string
		edit  func(*Registration)
		field string // "" when valid
	}{
		{"valid", func(*Registration) {}, ""},
		{"blank first name", func(r *Registration) { r.FirstName = "  " }, "body.firstName"},
		{"no last name", func(r *Registration) { r.LastName = "" }, "body.lastName"},
		{"long middle name", func(r *Registration) { r.MiddleName = strings.Repeat("m", 101) }, "body.middleName"},
		{"29 Feb of a common year", func(r *Registration) { r.DateOfBirth = "2023-02-29" }, "body.dateOfBirth"},
		{"29 Feb of a leap year", func(r *Registration) { r.DateOfBirth = "2024-02-29" }, ""},
		{"born today", func(r *Registration) { r.DateOfBirth = "2026-11-25" }, "body.dateOfBirth"},
		{"born tomorrow", func(r *Registration) { r.DateOfBirth = "2026-11-26" }, "body.dateOfBirth"},
		{"too old", func(r *Registration) { r.DateOfBirth = "1890-01-01" }, "body.dateOfBirth"},
		{"not a date", func(r *Registration) { r.DateOfBirth = "10/12/1990" }, "body.dateOfBirth"},
		{"bad email", func(r *Registration) { r.Email = "ada@" }, "body.email"},
		{"named email", func(r *Registration) { r.Email = "Ada <ada@example.org>" }, "body.email"},
		{"email without domain dot", func(r *Registration) { r.Email = "ada@localhost" }, "body.email"},
		{"phone not E.164", func(r *Registration) { r.Phone = "0151 1234567" }, "body.phone"},
		{"phone E.164", func(r *Registration) { r.Phone = "+4915112345678" }, ""},
		{"SMS without phone", func(r *Registration) { r.PreferredChannel = ChannelSMS }, "body.phone"},
		{"SMS with phone", func(r *Registration) { r.PreferredChannel, r.Phone = ChannelSMS, "+4915112345678" }, ""},
		{"SMS notifications without phone", func(r *Registration) { r.SMSNotifications = &yes }, "body.phone"},
		{"unknown channel", func(r *Registration) { r.PreferredChannel = "FAX" }, "body.preferredChannel"},
		{"short password", func(r *Registration) { r.Password = "short" }, "body.password"},
		{"metadata not an object", func(r *Registration) { r.Metadata = json.RawMessage(`[1]`) }, "body.metadata"},
		{"metadata object", func(r *Registration) { r.Metadata = json.RawMessage(`{"a":1}`) }, ""},
		{"metadata too large", func(r *Registration) {
			r.Metadata = json.RawMessage(`{"a":"` + strings.Repeat("x", 17000) + `"}`)
		}, "body.metadata"},
	}
	for _, c := range cases {
		r := valid()
		c.edit(&r)
		_, err := r.Validate(now)
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		pe, ok := problem.As(err)
		if !ok || pe.Field != c.field || pe.Status() != 422 {
			t.Errorf("%s: got %v (%+v), want a 422 naming %s", c.name, err, pe, c.field)
		}
	}
}

func TestRegistrationDefaultsAndNormalisation(t *testing.T) {
	p, err := valid().Validate(now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Email != "ada@example.org" || p.PreferredChannel != ChannelEmail || !p.EmailNotifications || p.SMSNotifications {
		t.Fatalf("defaults: %+v", p)
	}
}

func TestPatch(t *testing.T) {
	p, _ := valid().Validate(now)
	sms := ChannelSMS
	if _, _, err := (Patch{PreferredChannel: &sms}).Apply(p); problem.StatusOf(err) != 422 {
		t.Fatalf("SMS without phone accepted: %v", err)
	}
	phone := "+4915112345678"
	got, changed, err := (Patch{PreferredChannel: &sms, Phone: &phone}).Apply(p)
	if err != nil || got.PreferredChannel != ChannelSMS || strings.Join(changed, ",") != "phone,preferredChannel" {
		t.Fatalf("patch: %+v %v %v", got, changed, err)
	}
	blank := " "
	if _, _, err := (Patch{FirstName: &blank}).Apply(p); problem.StatusOf(err) != 422 {
		t.Fatalf("blank name accepted: %v", err)
	}
	if _, changed, _ := (Patch{FirstName: &p.FirstName}).Apply(p); len(changed) != 0 {
		t.Fatalf("unchanged value reported as changed: %v", changed)
	}
}
