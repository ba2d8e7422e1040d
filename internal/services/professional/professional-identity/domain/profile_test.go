package domain

import (
	"slices"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/kit/problem"
)

func valid() Registration {
	return Registration{
		FirstName: " Gregory ", LastName: "House", Email: "G.House@Example.org", Password: "vicodin and canes",
		Specialties: []string{"NEPHROLOGY", "GENERAL_MEDICINE", "NEPHROLOGY"}, Languages: []string{"en", "es"},
		Country: "US", Bio: "  Diagnostician.  ",
	}
}

func TestValidate(t *testing.T) {
	p, err := valid().Validate()
	if err != nil {
		t.Fatal(err)
	}
	if p.FirstName != "Gregory" || p.Email != "g.house@example.org" || p.Bio != "Diagnostician." ||
		!slices.Equal(p.Specialties, []string{"NEPHROLOGY", "GENERAL_MEDICINE"}) || !slices.Equal(p.Languages, []string{"en", "es"}) {
		t.Fatalf("profile %+v", p)
	}
	for _, c := range []struct {
		name  string
		edit  func(*Registration)
		field string
	}{
		{"blank first name", func(r *Registration) { r.FirstName = "  " }, "body.firstName"},
		{"long last name", func(r *Registration) { r.LastName = strings.Repeat("x", 101) }, "body.lastName"},
		{"no specialties", func(r *Registration) { r.Specialties = nil }, "body.specialties"},
		{"unknown specialty", func(r *Registration) { r.Specialties = []string{"ASTROLOGY"} }, "body.specialties"},
		{"lower-case specialty", func(r *Registration) { r.Specialties = []string{"cardiology"} }, "body.specialties"},
		{"no languages", func(r *Registration) { r.Languages = []string{} }, "body.languages"},
		{"upper-case language", func(r *Registration) { r.Languages = []string{"EN"} }, "body.languages"},
		{"three-letter language", func(r *Registration) { r.Languages = []string{"eng"} }, "body.languages"},
		{"unassigned language", func(r *Registration) { r.Languages = []string{"qq"} }, "body.languages"},
		{"lower-case country", func(r *Registration) { r.Country = "us" }, "body.country"},
		{"unassigned country", func(r *Registration) { r.Country = "XX" }, "body.country"},
		{"alpha-3 country", func(r *Registration) { r.Country = "USA" }, "body.country"},
		{"no country", func(r *Registration) { r.Country = "" }, "body.country"},
		{"long bio", func(r *Registration) { r.Bio = strings.Repeat("é", 2001) }, "body.bio"},
		{"bad email", func(r *Registration) { r.Email = "house" }, "body.email"},
		{"named email", func(r *Registration) { r.Email = "House <h@example.org>" }, "body.email"},
		{"short password", func(r *Registration) { r.Password = "short" }, "body.password"},
		{"long password", func(r *Registration) { r.Password = strings.Repeat("p", 129) }, "body.password"},
	} {
		r := valid()
		c.edit(&r)
		_, err := r.Validate()
		if p, ok := problem.As(err); !ok || p.Field != c.field || p.Kind != problem.KindInvalid {
			t.Errorf("%s: %v, want invalid %s", c.name, err, c.field)
		}
	}
	r := valid()
	r.Bio = strings.Repeat("é", 2000)
	if _, err := r.Validate(); err != nil {
		t.Errorf("a 2000-character bio: %v", err)
	}
}

func TestApply(t *testing.T) {
	p, err := valid().Validate()
	if err != nil {
		t.Fatal(err)
	}
	same, changed, err := Patch{FirstName: ptr("Gregory"), Languages: []string{"en", "es", "en"}}.Apply(p)
	if err != nil || changed || !slices.Equal(same.Languages, p.Languages) {
		t.Fatalf("a patch to the same values: %v %v %+v", changed, err, same)
	}
	next, changed, err := Patch{Specialties: []string{"CARDIOLOGY"}, Country: ptr("GB"), Bio: ptr("")}.Apply(p)
	if err != nil || !changed || next.Country != "GB" || next.Bio != "" || !slices.Equal(next.Specialties, []string{"CARDIOLOGY"}) ||
		next.FirstName != "Gregory" || next.Email != p.Email {
		t.Fatalf("patch: %v %v %+v", changed, err, next)
	}
	if !slices.Equal(p.Specialties, []string{"NEPHROLOGY", "GENERAL_MEDICINE"}) {
		t.Fatalf("the patch changed the original: %v", p.Specialties)
	}
	for name, pa := range map[string]Patch{
		"body.specialties": {Specialties: []string{}},
		"body.languages":   {Languages: []string{"xx"}},
		"body.lastName":    {LastName: ptr(" ")},
		"body.country":     {Country: ptr("de")},
	} {
		if _, _, err := pa.Apply(p); problem.StatusOf(err) != 422 {
			t.Errorf("%s: %v", name, err)
		} else if e, _ := problem.As(err); e.Field != name {
			t.Errorf("%s: field %s", name, e.Field)
		}
	}
}

func TestVocabularies(t *testing.T) {
	if n := len(strings.Fields(iso3166)); n != 249 {
		t.Errorf("%d countries, want 249", n)
	}
	if n := len(strings.Fields(iso639)); n != 183 {
		t.Errorf("%d languages, want 183", n)
	}
	for _, l := range strings.Fields(iso639) {
		if l != strings.ToLower(l) || len(l) != 2 {
			t.Errorf("language %q", l)
		}
	}
	for _, c := range strings.Fields(iso3166) {
		if c != strings.ToUpper(c) || len(c) != 2 {
			t.Errorf("country %q", c)
		}
	}
	if ValidLanguage("e") || ValidLanguage("en ") || ValidCountry("D") || ValidCountry(" DE") {
		t.Error("partial codes accepted")
	}
}

func ptr[T any](v T) *T { return &v }
