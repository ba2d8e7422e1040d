// Package domain holds reporting's rules in plain Go: the window a report
// covers and the periods it is cut into, percentiles, and how the KPIs of
// a window are computed from the facts the store keeps. It does no I/O.
package domain

import (
	"fmt"
	"time"
)

// Interval is the length of the periods a report is cut into.
type Interval string

const (
	Day   Interval = "DAY"
	Month Interval = "MONTH"
)

func (Interval) Values() []string { return []string{string(Day), string(Month)} }

const (
	// DefaultSpan is the window of a report that names neither end.
	DefaultSpan = 30 * 24 * time.Hour
	// MaxSpan bounds a window: a year of days is at most 366 periods.
	MaxSpan = 366 * 24 * time.Hour
	// DaysUpTo is the longest window cut into days unless told otherwise;
	// a longer one is cut into months.
	DaysUpTo = 92 * 24 * time.Hour
)

// Window is the half-open span [From, To) of a report, in UTC, and the
// length of its periods.
type Window struct {
	From, To time.Time
	Interval Interval
}

// WindowError is a bad window, naming the parameter at fault.
type WindowError struct {
	Field  string // "from", "to" or "interval"
	Reason string
}

func (e *WindowError) Error() string { return e.Field + ": " + e.Reason }

// ParseWindow reads a report's window from its parameters: from and to
// are RFC 3339 dates (midnight UTC) or date-times, either may be "". With
// neither the window is the DefaultSpan up to now; with one, the other is
// DefaultSpan away from it (to is never later than now when defaulted).
// An interval of "" is days for windows up to DaysUpTo, months beyond.
func ParseWindow(from, to string, interval Interval, now time.Time) (Window, error) {
	var w Window
	var err error
	if to != "" {
		if w.To, err = ParseTime(to); err != nil {
			return Window{}, &WindowError{"to", err.Error()}
		}
	}
	if from != "" {
		if w.From, err = ParseTime(from); err != nil {
			return Window{}, &WindowError{"from", err.Error()}
		}
	}
	switch {
	case from == "" && to == "":
		w.To = now.UTC()
		w.From = w.To.Add(-DefaultSpan)
	case from == "":
		w.From = w.To.Add(-DefaultSpan)
	case to == "":
		w.To = w.From.Add(DefaultSpan)
		if n := now.UTC(); w.To.After(n) && n.After(w.From) {
			w.To = n
		}
	}
	if !w.From.Before(w.To) {
		return Window{}, &WindowError{"to", "must be later than from"}
	}
	if w.To.Sub(w.From) > MaxSpan {
		return Window{}, &WindowError{"to", fmt.Sprintf("a report covers at most %d days", MaxSpan/(24*time.Hour))}
	}
	switch interval {
	case "":
		w.Interval = Day
		if w.To.Sub(w.From) > DaysUpTo {
			w.Interval = Month
		}
	case Day, Month:
		w.Interval = interval
	default:
		return Window{}, &WindowError{"interval", "must be DAY or MONTH"}
	}
	return w, nil
}

// ParseTime reads an RFC 3339 date ("2026-05-01", midnight UTC) or
// date-time, as UTC.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 date nor a date-time", s)
	}
	return t.UTC(), nil
}

// Contains reports whether t falls in the window.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.From) && t.Before(w.To) }

// Period is one period of a window, named by its UTC day ("2026-05-01")
// or month ("2026-05"). The first and last may be cut short by the window.
type Period struct {
	Label    string
	From, To time.Time
}

// Periods cuts the window into whole UTC days or months, in order; the
// first starts at From and the last ends at To.
func (w Window) Periods() []Period {
	var out []Period
	for start := w.From; start.Before(w.To); {
		end := w.next(start)
		if end.After(w.To) {
			end = w.To
		}
		out = append(out, Period{Label: w.Label(start), From: start, To: end})
		start = end
	}
	return out
}

// Label names the period of w that holds t.
func (w Window) Label(t time.Time) string {
	if w.Interval == Month {
		return t.UTC().Format("2006-01")
	}
	return t.UTC().Format(time.DateOnly)
}

// next is the start of the period after the one holding t.
func (w Window) next(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	if w.Interval == Month {
		return time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}
