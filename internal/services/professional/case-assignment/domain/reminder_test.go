package domain

import (
	"testing"
	"time"
)

// A 100-hour assignment is reminded at 75 h and at 90 h, each once, the
// lower share skipped when the sweep comes after both, and never at or
// after the deadline.
func TestReminder(t *testing.T) {
	deadline := t0.Add(100 * time.Hour)
	for _, c := range []struct {
		name string
		now  time.Duration // since the claim
		told int
		want int
	}{
		{"at the claim", 0, 0, 0},
		{"just before 75 %", 75*time.Hour - time.Nanosecond, 0, 0},
		{"at 75 %", 75 * time.Hour, 0, 75},
		{"75 % told", 80 * time.Hour, 75, 0},
		{"just before 90 %", 90*time.Hour - time.Nanosecond, 75, 0},
		{"at 90 %", 90 * time.Hour, 75, 90},
		{"both passed, none told", 95 * time.Hour, 0, 90},
		{"90 % told", 99 * time.Hour, 90, 0},
		{"at the deadline", 100 * time.Hour, 75, 0},
		{"after the deadline, none told", 120 * time.Hour, 0, 0},
		{"before the claim", -time.Hour, 0, 0},
	} {
		if got := Reminder(t0, deadline, t0.Add(c.now), c.told); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

// A share that falls between nanoseconds is due only once it has fully
// passed.
func TestReminderRoundsUp(t *testing.T) {
	deadline := t0.Add(3 * time.Nanosecond) // 75 % is 2.25 ns, 90 % 2.7 ns
	if got := Reminder(t0, deadline, t0.Add(2*time.Nanosecond), 0); got != 0 {
		t.Errorf("at 2 ns: %d, want 0", got)
	}
	at, ok := NextReminder(t0, deadline, 0)
	if !ok || !at.Equal(t0.Add(3*time.Nanosecond)) {
		t.Errorf("next reminder at %v %v, want 3 ns", at.Sub(t0), ok)
	}
}

// The next reminder is the first share above the one told; after the
// last there is none. It falls exactly where Reminder makes it due.
func TestNextReminder(t *testing.T) {
	deadline := t0.Add(72 * time.Hour)
	for _, c := range []struct {
		told int
		want time.Duration
		ok   bool
	}{
		{0, 54 * time.Hour, true},
		{75, 64*time.Hour + 48*time.Minute, true},
		{90, 0, false},
	} {
		at, ok := NextReminder(t0, deadline, c.told)
		if ok != c.ok || (ok && !at.Equal(t0.Add(c.want))) {
			t.Errorf("after %d: %v %v, want %v %v", c.told, at.Sub(t0), ok, c.want, c.ok)
			continue
		}
		if !ok {
			continue
		}
		if got := Reminder(t0, deadline, at, c.told); got <= c.told {
			t.Errorf("after %d: nothing due at the next reminder %v", c.told, at.Sub(t0))
		}
		if got := Reminder(t0, deadline, at.Add(-time.Nanosecond), c.told); got != 0 {
			t.Errorf("after %d: %d due before the next reminder", c.told, got)
		}
	}
}
