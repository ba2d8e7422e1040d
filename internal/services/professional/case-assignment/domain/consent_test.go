package domain

import (
	"testing"
	"time"
)

// The later change of a consent wins whatever order its news comes in:
// by revision where both sides have one, else by time; a tie, as the same
// news twice, changes nothing.
func TestConsentSupersedes(t *testing.T) {
	none := Consent{}
	grant1 := Consent{Granted: true, Revision: 1, At: t0}
	withdraw2 := Consent{Revision: 2, At: t0.Add(time.Second)}
	for _, c := range []struct {
		name      string
		news, old Consent
		want      bool
	}{
		{"first news", grant1, none, true},
		{"first news without a revision", Consent{Granted: true, At: t0}, none, true},
		{"next revision", withdraw2, grant1, true},
		{"older revision", grant1, withdraw2, false},
		{"same news again", withdraw2, withdraw2, false},
		{"later revision, earlier clock", Consent{Granted: true, Revision: 3, At: t0.Add(-time.Hour)}, withdraw2, true},
		{"earlier revision, later clock", Consent{Granted: true, Revision: 1, At: t0.Add(time.Hour)}, withdraw2, false},
		{"no revision, later", Consent{At: t0.Add(time.Minute)}, grant1, true},
		{"no revision, earlier", Consent{At: t0.Add(-time.Minute)}, grant1, false},
		{"revision over none recorded, earlier", Consent{Granted: true, Revision: 4, At: t0}, Consent{At: t0.Add(time.Minute)}, false},
		{"same time, no revision", Consent{Granted: true, At: t0}, Consent{At: t0}, false},
	} {
		if got := c.news.Supersedes(c.old); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// Held cases join the pool only when the consent comes into force: not on
// a withdrawal, nor on a new grant while it is in force.
func TestConsentJoins(t *testing.T) {
	granted, withdrawn := Consent{Granted: true, Revision: 3, At: t0}, Consent{Revision: 2, At: t0}
	for _, c := range []struct {
		name      string
		news, old Consent
		want      bool
	}{
		{"first grant", granted, Consent{}, true},
		{"grant after a withdrawal", granted, withdrawn, true},
		{"grant while granted", Consent{Granted: true, Revision: 4}, granted, false},
		{"withdrawal", Consent{Revision: 4}, granted, false},
		{"withdrawal while withdrawn", Consent{Revision: 3}, withdrawn, false},
	} {
		if got := c.news.Joins(c.old); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
