package patientidentity

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
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
		{"blank first name", func(r *Registration) { r.FirstName = "  " }, "firstName"},
		{"no last name", func(r *Registration) { r.LastName = "" }, "lastName"},
		{"long first name", func(r *Registration) { r.FirstName = strings.Repeat("f", 101) }, "firstName"},
		{"long last name", func(r *Registration) { r.LastName = strings.Repeat("l", 101) }, "lastName"},
		{"long middle name", func(r *Registration) { r.MiddleName = strings.Repeat("m", 101) }, "middleName"},
		{"100-letter names", func(r *Registration) { r.FirstName = strings.Repeat("é", 100) }, ""},
		{"no middle name", func(r *Registration) { r.MiddleName = "" }, ""},
		{"29 Feb of a common year", func(r *Registration) { r.DateOfBirth = "2023-02-29" }, "dateOfBirth"},
		{"29 Feb of a leap year", func(r *Registration) { r.DateOfBirth = "2024-02-29" }, ""},
		{"born today", func(r *Registration) { r.DateOfBirth = "2026-11-25" }, "dateOfBirth"},
		{"born tomorrow", func(r *Registration) { r.DateOfBirth = "2026-11-26" }, "dateOfBirth"},
		{"too old", func(r *Registration) { r.DateOfBirth = "1890-01-01" }, "dateOfBirth"},
		{"130 years old today", func(r *Registration) { r.DateOfBirth = "1896-11-25" }, ""},
		{"130 years and a day", func(r *Registration) { r.DateOfBirth = "1896-11-24" }, "dateOfBirth"},
		{"no date", func(r *Registration) { r.DateOfBirth = "" }, "dateOfBirth"},
		{"not a date", func(r *Registration) { r.DateOfBirth = "10/12/1990" }, "dateOfBirth"},
		{"bad email", func(r *Registration) { r.Email = "ada@" }, "email"},
		{"named email", func(r *Registration) { r.Email = "Ada <ada@example.org>" }, "email"},
		{"email without domain dot", func(r *Registration) { r.Email = "ada@localhost" }, "email"},
		{"email of 255 characters", func(r *Registration) { r.Email = strings.Repeat("a", 243) + "@example.org" }, "email"},
		{"email of 254 characters", func(r *Registration) { r.Email = strings.Repeat("a", 242) + "@example.org" }, ""},
		{"phone not E.164", func(r *Registration) { r.Phone = "0151 1234567" }, "phone"},
		{"phone E.164", func(r *Registration) { r.Phone = "+4915112345678" }, ""},
		{"phone with leading zero", func(r *Registration) { r.Phone = "+0915112345678" }, "phone"},
		{"phone of 6 digits", func(r *Registration) { r.Phone = "+123456" }, "phone"},
		{"phone of 7 digits", func(r *Registration) { r.Phone = "+1234567" }, ""},
		{"phone of 15 digits", func(r *Registration) { r.Phone = "+123456789012345" }, ""},
		{"phone of 16 digits", func(r *Registration) { r.Phone = "+1234567890123456" }, "phone"},
		{"SMS without phone", func(r *Registration) { r.PreferredChannel = vocab.SMS }, "phone"},
		{"SMS with phone", func(r *Registration) { r.PreferredChannel, r.Phone = vocab.SMS, "+4915112345678" }, ""},
		{"SMS notifications without phone", func(r *Registration) { r.SMSNotifications = &yes }, "phone"},
		{"unknown channel", func(r *Registration) { r.PreferredChannel = "FAX" }, "preferredChannel"},
		{"short password", func(r *Registration) { r.Password = "short" }, "password"},
		{"11-character password", func(r *Registration) { r.Password = strings.Repeat("p", 11) }, "password"},
		{"12-character password", func(r *Registration) { r.Password = strings.Repeat("ü", 12) }, ""},
		{"128-character password", func(r *Registration) { r.Password = strings.Repeat("p", 128) }, ""},
		{"129-character password", func(r *Registration) { r.Password = strings.Repeat("p", 129) }, "password"},
		{"metadata not an object", func(r *Registration) { r.Metadata = json.RawMessage(`[1]`) }, "metadata"},
		{"metadata object", func(r *Registration) { r.Metadata = json.RawMessage(`{"a":1}`) }, ""},
		{"metadata null", func(r *Registration) { r.Metadata = json.RawMessage(`null`) }, ""},
		{"metadata not JSON", func(r *Registration) { r.Metadata = json.RawMessage(`{a}`) }, "metadata"},
		{"metadata too large", func(r *Registration) {
			r.Metadata = json.RawMessage(`{"a":"` + strings.Repeat("x", 17000) + `"}`)
		}, "metadata"},
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
		pe, ok := fault.As(err)
		if !ok || pe.Field != c.field || pe.Kind != fault.KindInvalid {
			t.Errorf("%s: got %v (%+v), want a 422 naming %s", c.name, err, pe, c.field)
		}
	}
}

func TestRegistrationDefaultsAndNormalisation(t *testing.T) {
	p, err := valid().Validate(now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Email != "ada@example.org" || p.PreferredChannel != vocab.Email || !p.EmailNotifications || p.SMSNotifications ||
		p.Metadata != nil || !p.DateOfBirth.Equal(time.Date(1990, 12, 10, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("defaults: %+v", p)
	}
	r := valid()
	no := false
	r.FirstName, r.Email, r.EmailNotifications = "  Ada ", " ADA@EXAMPLE.ORG ", &no
	r.Metadata = json.RawMessage("{ \"a\" : [ 1, 2 ] }")
	p, err = r.Validate(now)
	if err != nil || p.FirstName != "Ada" || p.Email != "ada@example.org" || p.EmailNotifications || string(p.Metadata) != `{"a":[1,2]}` {
		t.Fatalf("normalised: %+v %v", p, err)
	}
}

func TestPatch(t *testing.T) {
	base, err := valid().Validate(now)
	if err != nil {
		t.Fatal(err)
	}
	base.Metadata = json.RawMessage(`{"a":1}`)
	withPhone := base
	withPhone.Phone = "+4915112345678"
	str := func(s string) *string { return &s }
	ch := func(c vocab.Channel) *vocab.Channel { return &c }
	yes := true
	cases := []struct {
		name    string
		from    Profile
		patch   Patch
		changed string // comma-separated; ignored when field is set
		field   string
		check   func(Profile) bool // optional, on the result
	}{
		{"nothing", base, Patch{}, "", "", nil},
		{"same values", base, Patch{FirstName: str("Ada"), PreferredChannel: ch(vocab.Email), Metadata: json.RawMessage(`{ "a": 1 }`)}, "", "", nil},
		{"names trimmed", base, Patch{FirstName: str(" Augusta "), MiddleName: str("King")}, "firstName,middleName", "",
			func(p Profile) bool {
				return p.FirstName == "Augusta" && p.MiddleName == "King" && p.Email == base.Email
			}},
		{"blank first name", base, Patch{FirstName: str(" ")}, "", "firstName", nil},
		{"long last name", base, Patch{LastName: str(strings.Repeat("l", 101))}, "", "lastName", nil},
		{"SMS without phone", base, Patch{PreferredChannel: ch(vocab.SMS)}, "", "phone", nil},
		{"SMS with new phone", base, Patch{PreferredChannel: ch(vocab.SMS), Phone: str("+4915112345678")}, "phone,preferredChannel", "", nil},
		{"SMS with stored phone", withPhone, Patch{PreferredChannel: ch(vocab.SMS)}, "preferredChannel", "", nil},
		{"SMS notifications without phone", base, Patch{SMSNotifications: &yes}, "", "phone", nil},
		{"unknown channel", withPhone, Patch{PreferredChannel: ch("FAX")}, "", "preferredChannel", nil},
		{"bad phone", base, Patch{Phone: str("12345")}, "", "phone", nil},
		{"metadata cleared", base, Patch{Metadata: json.RawMessage(`null`)}, "metadata", "",
			func(p Profile) bool { return p.Metadata == nil }},
		{"metadata replaced", base, Patch{Metadata: json.RawMessage(`{"b":2}`)}, "metadata", "", nil},
		{"metadata not an object", base, Patch{Metadata: json.RawMessage(`"x"`)}, "", "metadata", nil},
	}
	for _, c := range cases {
		got, changed, err := c.patch.Apply(c.from)
		if c.field != "" {
			if pe, ok := fault.As(err); !ok || pe.Field != c.field || pe.Kind != fault.KindInvalid {
				t.Errorf("%s: got %v, want a 422 naming %s", c.name, err, c.field)
			}
			continue
		}
		if err != nil || strings.Join(changed, ",") != c.changed {
			t.Errorf("%s: changed %v, %v; want %q", c.name, changed, err, c.changed)
		}
		if c.check != nil && !c.check(got) {
			t.Errorf("%s: result %+v", c.name, got)
		}
	}
}

// bodyFields are the JSON fields of the registration body, which the
// HTTP edge locates faults of the rules in.
func bodyFields() []string {
	var out []string
	for f := range reflect.TypeFor[PatientRegistration]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}

// FuzzRegistrationBody feeds arbitrary JSON bodies to the registration
// rules: they never panic, and every refusal names a field of the body.
func FuzzRegistrationBody(f *testing.F) {
	f.Add(`{"firstName":"Ada","lastName":"Lovelace","dateOfBirth":"1990-12-10","email":"ada@example.org","password":"correct horse battery"}`)
	f.Add(`{"firstName":"Ada","lastName":"L","dateOfBirth":"2024-02-30","email":"a@b","phone":"+1","preferredChannel":"SMS","password":"x"}`)
	f.Add(`{"firstName":"\u0000","lastName":"","dateOfBirth":"","email":"","metadata":[1,2],"password":""}`)
	f.Add(`{"metadata":{"a":{"b":null}},"smsNotifications":true}`)
	fields := bodyFields()
	f.Fuzz(func(t *testing.T, body string) {
		var in struct {
			FirstName, MiddleName, LastName, DateOfBirth, Email, Phone, Password string
			PreferredChannel                                                     vocab.Channel
			EmailNotifications, SMSNotifications                                 *bool
			Metadata                                                             json.RawMessage
		}
		if json.Unmarshal([]byte(body), &in) != nil {
			return
		}
		r := Registration{
			FirstName: in.FirstName, MiddleName: in.MiddleName, LastName: in.LastName, DateOfBirth: in.DateOfBirth,
			Email: in.Email, Phone: in.Phone, PreferredChannel: in.PreferredChannel, EmailNotifications: in.EmailNotifications,
			SMSNotifications: in.SMSNotifications, Metadata: in.Metadata, Password: in.Password,
		}
		p, err := r.Validate(now)
		if err != nil {
			pe, ok := fault.As(err)
			if !ok || pe.Kind != fault.KindInvalid || !slices.Contains(fields, pe.Field) {
				t.Fatalf("refusal %v is not a 422 naming a body field", err)
			}
			return
		}
		if p.FirstName == "" || p.LastName == "" || p.Email != strings.ToLower(p.Email) || !p.DateOfBirth.Before(now) {
			t.Fatalf("accepted an invalid registration: %+v", p)
		}
	})
}
