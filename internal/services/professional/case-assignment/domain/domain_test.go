package domain

import (
	"slices"
	"testing"
	"time"

	"github.com/secondopinion/platform/api/vocab"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func defaults(t *testing.T, r Rules) Rules {
	t.Helper()
	r, err := r.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLevels(t *testing.T) {
	if !vocab.Senior.AtLeast(vocab.Junior) || !vocab.Senior.AtLeast(vocab.Senior) || vocab.Senior.AtLeast(vocab.Expert) || !vocab.Distinguished.AtLeast(vocab.Expert) {
		t.Error("level order is wrong")
	}
	if vocab.Level("CHIEF").AtLeast(vocab.Junior) || vocab.Level("CHIEF").Valid() {
		t.Error("an unknown level meets a requirement")
	}
}

func TestRequiredLevel(t *testing.T) {
	r := defaults(t, Rules{})
	if got := r.RequiredLevel("CARDIOLOGY", vocab.Standard); got != vocab.Junior {
		t.Errorf("default STANDARD: %s", got)
	}
	if got := r.RequiredLevel("CARDIOLOGY", vocab.Urgent); got != vocab.Senior {
		t.Errorf("default URGENT: %s", got)
	}
	r = defaults(t, Rules{RequiredLevels: map[KeyFor]vocab.Level{
		{Specialty: "ONCOLOGY", Urgency: vocab.Urgent}: vocab.Expert,
		{Urgency: vocab.Standard}:                      vocab.Senior,
	}})
	for _, c := range []struct {
		specialty vocab.Specialty
		urgency   vocab.Urgency
		want      vocab.Level
	}{
		{"ONCOLOGY", vocab.Urgent, vocab.Expert},   // its own rule
		{"CARDIOLOGY", vocab.Urgent, vocab.Senior}, // default fallback kept
		{"ONCOLOGY", vocab.Standard, vocab.Senior}, // configured fallback
		{"NEUROLOGY", "UNHEARD", vocab.Junior},     // no rule at all
	} {
		if got := r.RequiredLevel(c.specialty, c.urgency); got != c.want {
			t.Errorf("%s/%s: %s, want %s", c.specialty, c.urgency, got, c.want)
		}
	}
}

func TestDeadline(t *testing.T) {
	r := defaults(t, Rules{})
	if got := r.Deadline(vocab.Standard, t0); !got.Equal(t0.Add(72 * time.Hour)) {
		t.Errorf("STANDARD: %s", got)
	}
	if got := r.Deadline(vocab.Urgent, t0); !got.Equal(t0.Add(24 * time.Hour)) {
		t.Errorf("URGENT: %s", got)
	}
	r = defaults(t, Rules{Deadlines: map[vocab.Urgency]time.Duration{vocab.Urgent: 6 * time.Hour}})
	if got := r.Deadline(vocab.Urgent, t0); !got.Equal(t0.Add(6 * time.Hour)) {
		t.Errorf("configured URGENT: %s", got)
	}
	if got := r.DeadlineFor("UNHEARD"); got != 6*time.Hour {
		t.Errorf("unknown urgency gets %s, want the shortest", got)
	}
}

func TestRulesRejectBadConfig(t *testing.T) {
	for name, r := range map[string]Rules{
		"unknown specialty": {RequiredLevels: map[KeyFor]vocab.Level{{Specialty: "ASTROLOGY", Urgency: vocab.Urgent}: vocab.Senior}},
		"unknown urgency":   {RequiredLevels: map[KeyFor]vocab.Level{{Urgency: "SOMEDAY"}: vocab.Senior}},
		"unknown level":     {RequiredLevels: map[KeyFor]vocab.Level{{Urgency: vocab.Urgent}: "CHIEF"}},
		"zero deadline":     {Deadlines: map[vocab.Urgency]time.Duration{vocab.Urgent: 0}},
		"negative window":   {EarlyAccess: -time.Minute},
	} {
		if _, err := r.WithDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMatch(t *testing.T) {
	r := defaults(t, Rules{EarlyAccess: 10 * time.Minute})
	pro := Professional{ID: "p", Status: Verified, Level: vocab.Senior, Specialties: []vocab.Specialty{"CARDIOLOGY", "NEUROLOGY"}, Languages: []vocab.Language{"en", "de"}}
	entry := Entry{Specialty: "NEUROLOGY", Urgency: vocab.Urgent, Language: "de", RequiredLevel: vocab.Senior, OpenedAt: t0}
	later := t0.Add(10 * time.Minute)
	with := func(f func(*Professional)) Professional {
		p := pro
		f(&p)
		return p
	}
	for _, c := range []struct {
		name string
		p    Professional
		e    Entry
		at   time.Time
		want Mismatch
	}{
		{"matches after the window", pro, entry, later, Match},
		{"pending", with(func(p *Professional) { p.Status = Pending }), entry, later, NotVerified},
		{"suspended", with(func(p *Professional) { p.Status = Suspended }), entry, later, NotVerified},
		{"other specialty", pro, Entry{Specialty: "ONCOLOGY", Language: "de", RequiredLevel: vocab.Junior}, later, WrongSpecialty},
		{"level too low", with(func(p *Professional) { p.Level = vocab.Junior }), entry, later, LevelTooLow},
		{"higher level matches", with(func(p *Professional) { p.Level = vocab.Distinguished }), entry, later, Match},
		{"other language", pro, Entry{Specialty: "NEUROLOGY", Language: "fr", RequiredLevel: vocab.Junior}, later, WrongLanguage},
		{"senior in the window", pro, entry, later.Add(-time.Nanosecond), EarlyAccess},
		{"expert in the window", with(func(p *Professional) { p.Level = vocab.Expert }), entry, t0, Match},
		{"distinguished in the window", with(func(p *Professional) { p.Level = vocab.Distinguished }), entry, t0, Match},
	} {
		if got := r.Match(c.p, c.e, c.at); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// Without a window everybody matching sees a case at once.
	if got := defaults(t, Rules{}).Match(pro, entry, t0); got != Match {
		t.Errorf("window off: %q", got)
	}
}

func TestEscalationCutoff(t *testing.T) {
	if got := defaults(t, Rules{}).EscalationCutoff(t0); !got.Equal(t0.Add(-24 * time.Hour)) {
		t.Errorf("default cutoff %s", got)
	}
	if got := defaults(t, Rules{EscalateAfter: time.Hour}).EscalationCutoff(t0); !got.Equal(t0.Add(-time.Hour)) {
		t.Errorf("configured cutoff %s", got)
	}
}

func TestParseRequiredLevels(t *testing.T) {
	got, err := ParseRequiredLevels(" URGENT=EXPERT, CARDIOLOGY/STANDARD=SENIOR ,")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Rules{RequiredLevels: got}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if r.RequiredLevel("NEUROLOGY", vocab.Urgent) != vocab.Expert || r.RequiredLevel("CARDIOLOGY", vocab.Standard) != vocab.Senior || r.RequiredLevel("NEUROLOGY", vocab.Standard) != vocab.Junior {
		t.Errorf("rules %v", r.RequiredLevels)
	}
	if _, err := ParseRequiredLevels("URGENT"); err == nil {
		t.Error("a rule without a level was accepted")
	}
	bad, _ := ParseRequiredLevels("CARDIOLOGY/SOON=SENIOR")
	if _, err := (Rules{RequiredLevels: bad}).WithDefaults(); err == nil {
		t.Error("an unknown urgency was accepted")
	}
}

// Matching keeps, in order, exactly the professionals Match admits.
func TestMatching(t *testing.T) {
	r := defaults(t, Rules{EarlyAccess: 10 * time.Minute})
	entry := Entry{Specialty: "CARDIOLOGY", Urgency: vocab.Standard, Language: "en", RequiredLevel: vocab.Senior, OpenedAt: t0}
	pro := func(id string, st Status, l vocab.Level, sp vocab.Specialty, lang vocab.Language) Professional {
		return Professional{ID: id, Status: st, Level: l, Specialties: []vocab.Specialty{sp}, Languages: []vocab.Language{lang}}
	}
	ps := []Professional{
		pro("expert", Verified, vocab.Expert, "CARDIOLOGY", "en"),
		pro("suspended", Suspended, vocab.Expert, "CARDIOLOGY", "en"),
		pro("senior", Verified, vocab.Senior, "CARDIOLOGY", "en"),
		pro("junior", Verified, vocab.Junior, "CARDIOLOGY", "en"),
		pro("neuro", Verified, vocab.Expert, "NEUROLOGY", "en"),
		pro("french", Verified, vocab.Expert, "CARDIOLOGY", "fr"),
		pro("distinguished", Verified, vocab.Distinguished, "CARDIOLOGY", "en"),
	}
	if got := r.Matching(ps, entry, t0.Add(10*time.Minute)); !slices.Equal(got, []string{"expert", "senior", "distinguished"}) {
		t.Errorf("after the window: %v", got)
	}
	if got := r.Matching(ps, entry, t0); !slices.Equal(got, []string{"expert", "distinguished"}) {
		t.Errorf("in the window: %v", got)
	}
	if got := r.Matching(nil, entry, t0); got == nil || len(got) != 0 {
		t.Errorf("nobody: %#v, want an empty list", got)
	}
}
