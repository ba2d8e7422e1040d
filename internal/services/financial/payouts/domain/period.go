package domain

import (
	"time"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// Period is a span of whole UTC days, From and To included, as a payout
// batch covers it: an earning is in it when accrued at or after From's
// midnight and before the midnight after To.
type Period struct{ From, To time.Time }

// DateLayout is how days are written: 2031-05-31.
const DateLayout = "2006-01-02"

// ParsePeriod reads a batch's period, which may end today but not later:
// a batch gathers what has accrued when it is made, and an earning of the
// rest of today waits, unbatched, for the next batch whose period holds
// it.
func ParsePeriod(start, end string, now time.Time) (Period, error) {
	from, err := time.Parse(DateLayout, start)
	if err != nil {
		return Period{}, fault.Invalid("periodStart", "a date, YYYY-MM-DD")
	}
	to, err := time.Parse(DateLayout, end)
	if err != nil {
		return Period{}, fault.Invalid("periodEnd", "a date, YYYY-MM-DD")
	}
	p := Period{From: from, To: to}
	switch {
	case to.Before(from):
		return Period{}, fault.Invalid("periodEnd", "the period ends before it starts")
	case to.After(now.UTC()):
		return Period{}, fault.Invalid("periodEnd", "the period ends after today")
	}
	return p, nil
}

// Start is the first instant of the period.
func (p Period) Start() time.Time { return p.From }

// End is the first instant after the period: midnight after its last day.
func (p Period) End() time.Time { return p.To.AddDate(0, 0, 1) }

// Month is a statement's month, from its first instant up to the next
// month's.
type Month struct{ Start time.Time }

// ParseMonth reads YYYY-MM.
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return Month{}, fault.Invalid("month", "a month, YYYY-MM")
	}
	return Month{Start: t}, nil
}

// End is the first instant of the next month.
func (m Month) End() time.Time { return m.Start.AddDate(0, 1, 0) }

func (m Month) String() string { return m.Start.Format("2006-01") }
