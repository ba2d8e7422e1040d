package domain

import (
	"slices"
	"strings"
	"testing"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

func valid() Registration {
	return Registration{
		FirstName: " Gregory ", LastName: "House", Email: "G.House@Example.org", Password: "vicodin and canes",
		Specialties: []vocab.Specialty{"NEPHROLOGY", "GENERAL_MEDICINE", "NEPHROLOGY"}, Languages: []vocab.Language{"en", "es"},
		Country: "US", Bio: "  Diagnostician.  ",
	}
}

func TestValidate(t *testing.T) {
	p, err := valid().Validate()
	if err != nil {
		t.Fatal(err)
	}
	if p.FirstName != "Gregory" || p.Email != "g.house@example.org" || p.Bio != "Diagnostician." ||
		!slices.Equal(p.Specialties, []vocab.Specialty{"NEPHROLOGY", "GENERAL_MEDICINE"}) || !slices.Equal(p.Languages, []vocab.Language{"en", "es"}) {
		t.Fatalf("profile %+v", p)
	}
	for _, c := range []struct {
		name  string
		edit  func(*Registration)
		field string
	}{
		{"blank first name", func(r *Registration) { r.FirstName = "  " }, "firstName"},
		{"long last name", func(r *Registration) { r.LastName = strings.Repeat("x", 101) }, "lastName"},
		{"no specialties", func(r *Registration) { r.Specialties = nil }, "specialties"},
		{"unknown specialty", func(r *Registration) { r.Specialties = []vocab.Specialty{"ASTROLOGY"} }, "specialties"},
		{"lower-case specialty", func(r *Registration) { r.Specialties = []vocab.Specialty{"cardiology"} }, "specialties"},
		{"no languages", func(r *Registration) { r.Languages = []vocab.Language{} }, "languages"},
		{"upper-case language", func(r *Registration) { r.Languages = []vocab.Language{"EN"} }, "languages"},
		{"three-letter language", func(r *Registration) { r.Languages = []vocab.Language{"eng"} }, "languages"},
		{"unassigned language", func(r *Registration) { r.Languages = []vocab.Language{"qq"} }, "languages"},
		{"lower-case country", func(r *Registration) { r.Country = "us" }, "country"},
		{"unassigned country", func(r *Registration) { r.Country = "XX" }, "country"},
		{"alpha-3 country", func(r *Registration) { r.Country = "USA" }, "country"},
		{"no country", func(r *Registration) { r.Country = "" }, "country"},
		{"long bio", func(r *Registration) { r.Bio = strings.Repeat("é", 2001) }, "bio"},
		{"bad email", func(r *Registration) { r.Email = "house" }, "email"},
		{"named email", func(r *Registration) { r.Email = "House <h@example.org>" }, "email"},
		{"short password", func(r *Registration) { r.Password = "short" }, "password"},
		{"long password", func(r *Registration) { r.Password = strings.Repeat("p", 129) }, "password"},
	} {
		r := valid()
		c.edit(&r)
		_, err := r.Validate()
		if p, ok := fault.As(err); !ok || p.Field != c.field || p.Kind != fault.KindInvalid {
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
	same, changed, err := Patch{FirstName: ptr("Gregory"), Languages: []vocab.Language{"en", "es", "en"}}.Apply(p)
	if err != nil || changed || !slices.Equal(same.Languages, p.Languages) {
		t.Fatalf("a patch to the same values: %v %v %+v", changed, err, same)
	}
	next, changed, err := Patch{Specialties: []vocab.Specialty{"CARDIOLOGY"}, Country: ptr("GB"), Bio: ptr("")}.Apply(p)
	if err != nil || !changed || next.Country != "GB" || next.Bio != "" || !slices.Equal(next.Specialties, []vocab.Specialty{"CARDIOLOGY"}) ||
		next.FirstName != "Gregory" || next.Email != p.Email {
		t.Fatalf("patch: %v %v %+v", changed, err, next)
	}
	if !slices.Equal(p.Specialties, []vocab.Specialty{"NEPHROLOGY", "GENERAL_MEDICINE"}) {
		t.Fatalf("the patch changed the original: %v", p.Specialties)
	}
	for name, pa := range map[string]Patch{
		"specialties": {Specialties: []vocab.Specialty{}},
		"languages":   {Languages: []vocab.Language{"xx"}},
		"lastName":    {LastName: ptr(" ")},
		"country":     {Country: ptr("de")},
	} {
		if _, _, err := pa.Apply(p); fault.KindOf(err) != fault.KindInvalid {
			t.Errorf("%s: %v", name, err)
		} else if e, _ := fault.As(err); e.Field != name {
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
