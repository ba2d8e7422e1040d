package domain_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/services/platform/reporting/domain"
)

var now = time.Date(2031, 5, 20, 9, 30, 0, 0, time.UTC)

func TestPercentileIsTheNearestRank(t *testing.T) {
	m := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Minute
		}
		return out
	}
	for _, c := range []struct {
		in       []time.Duration
		p50, p90 time.Duration
	}{
		{m(7), 7 * time.Minute, 7 * time.Minute},
		{m(4, 1, 3, 2), 2 * time.Minute, 4 * time.Minute},
		{m(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), 5 * time.Minute, 9 * time.Minute},
		{m(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 6 * time.Minute, 10 * time.Minute},
		{m(5, 5, 100), 5 * time.Minute, 100 * time.Minute},
		// 90 % of 6 is 5.4: the rank is 6, not 5.
		{m(6, 5, 4, 3, 2, 1), 3 * time.Minute, 6 * time.Minute},
	} {
		in := slices.Clone(c.in)
		if got := domain.Percentile(in, 50); got != c.p50 {
			t.Errorf("p50 of %v = %v, want %v", c.in, got, c.p50)
		}
		if got := domain.Percentile(in, 90); got != c.p90 {
			t.Errorf("p90 of %v = %v, want %v", c.in, got, c.p90)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("Percentile sorted its input: %v", in)
		}
	}
}

func TestParseWindow(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	for _, c := range []struct {
		from, to string
		interval domain.Interval
		want     domain.Window
	}{
		{"", "", "", domain.Window{From: now.Add(-domain.DefaultSpan), To: now, Interval: domain.Day}},
		{"2031-05-01", "2031-06-01", "", domain.Window{From: day("2031-05-01"), To: day("2031-06-01"), Interval: domain.Day}},
		{"2031-05-01T10:00:00+02:00", "2031-05-02", "", domain.Window{From: time.Date(2031, 5, 1, 8, 0, 0, 0, time.UTC),
			To: day("2031-05-02"), Interval: domain.Day}},
		{"", "2031-03-01", "", domain.Window{From: day("2031-01-30"), To: day("2031-03-01"), Interval: domain.Day}},
		{"2031-01-01", "", "", domain.Window{From: day("2031-01-01"), To: day("2031-01-31"), Interval: domain.Day}},
		// From alone, near now: the default end is not in the future.
		{"2031-05-10", "", "", domain.Window{From: day("2031-05-10"), To: now, Interval: domain.Day}},
		// 93 days are months by default, 92 days still days.
		{"2031-01-01", "2031-04-04", "", domain.Window{From: day("2031-01-01"), To: day("2031-04-04"), Interval: domain.Month}},
		{"2031-01-01", "2031-04-03", "", domain.Window{From: day("2031-01-01"), To: day("2031-04-03"), Interval: domain.Day}},
		{"2031-01-01", "2031-04-04", domain.Day, domain.Window{From: day("2031-01-01"), To: day("2031-04-04"), Interval: domain.Day}},
		{"2030-01-01", "2031-01-02", "", domain.Window{From: day("2030-01-01"), To: day("2031-01-02"), Interval: domain.Month}},
	} {
		got, err := domain.ParseWindow(c.from, c.to, c.interval, now)
		if err != nil || !got.From.Equal(c.want.From) || !got.To.Equal(c.want.To) || got.Interval != c.want.Interval {
			t.Errorf("ParseWindow(%q, %q, %q) = %+v, %v; want %+v", c.from, c.to, c.interval, got, err, c.want)
		}
	}
	for _, c := range []struct{ from, to, interval, field string }{
		{"2031-05-01", "2031-05-01", "", "to"},
		{"2031-05-02", "2031-05-01", "", "to"},
		{"2030-01-01", "2031-01-03", "", "to"}, // 367 days
		{"yesterday", "", "", "from"},
		{"", "2031-13-01", "", "to"},
		{"2031-05-01", "2031-05-02", "WEEK", "interval"},
	} {
		_, err := domain.ParseWindow(c.from, c.to, domain.Interval(c.interval), now)
		var bad *domain.WindowError
		if !errors.As(err, &bad) || bad.Field != c.field {
			t.Errorf("ParseWindow(%q, %q, %q) = %v, want an error of %s", c.from, c.to, c.interval, err, c.field)
		}
	}
}

func TestPeriodsCutTheWindowAtUTCDaysOrMonths(t *testing.T) {
	labels := func(w domain.Window) []string {
		var out []string
		for _, p := range w.Periods() {
			out = append(out, p.Label+" "+p.From.Format(time.RFC3339)+" "+p.To.Format(time.RFC3339))
		}
		return out
	}
	days := domain.Window{From: time.Date(2031, 5, 30, 12, 0, 0, 0, time.UTC), To: time.Date(2031, 6, 2, 0, 0, 0, 0, time.UTC), Interval: domain.Day}
	want := []string{"2031-05-30 2031-05-30T12:00:00Z 2031-05-31T00:00:00Z", "2031-05-31 2031-05-31T00:00:00Z 2031-06-01T00:00:00Z",
		"2031-06-01 2031-06-01T00:00:00Z 2031-06-02T00:00:00Z"}
	if got := labels(days); !slices.Equal(got, want) {
		t.Errorf("days: %v", got)
	}
	months := domain.Window{From: time.Date(2030, 11, 15, 0, 0, 0, 0, time.UTC), To: time.Date(2031, 1, 10, 6, 0, 0, 0, time.UTC), Interval: domain.Month}
	want = []string{"2030-11 2030-11-15T00:00:00Z 2030-12-01T00:00:00Z", "2030-12 2030-12-01T00:00:00Z 2031-01-01T00:00:00Z",
		"2031-01 2031-01-01T00:00:00Z 2031-01-10T06:00:00Z"}
	if got := labels(months); !slices.Equal(got, want) {
		t.Errorf("months: %v", got)
	}
	year, _ := domain.ParseWindow("2030-01-01", "2031-01-02", domain.Day, now)
	if n := len(year.Periods()); n != 366 {
		t.Errorf("a year and a day has %d days", n)
	}
}

func TestPseudonyms(t *testing.T) {
	id := "0190a0a0-0000-7000-8000-000000000001"
	p := domain.Pseudonym(id)
	if p == id || p != domain.Pseudonym(id) || !domain.IsPseudonym(p) || domain.IsPseudonym(id) {
		t.Errorf("pseudonym %s of %s", p, id)
	}
	if domain.Pseudonym(p) == p || domain.IsPseudonym("not a uuid") {
		t.Error("a pseudonym of a pseudonym")
	}
}

// The facts of a small window, and the figures they make.
func TestReport(t *testing.T) {
	w := domain.Window{From: time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2031, 5, 3, 0, 0, 0, 0, time.UTC), Interval: domain.Day}
	may1, may2 := w.From.Add(8*time.Hour), w.From.Add(32*time.Hour)
	cardio, onco := vocab.Specialty("CARDIOLOGY"), vocab.Specialty("ONCOLOGY")
	at := func(s vocab.Specialty, t time.Time) domain.Fact { return domain.Fact{Specialty: s, At: t} }
	h := time.Hour
	f := domain.Facts{
		Cases: []domain.Case{
			{Fact: at(cardio, may1), Status: vocab.Completed, Claimed: may1.Add(1 * h), Opinion: may1.Add(5 * h), Completed: may1.Add(6 * h)},
			{Fact: at(cardio, may1), Status: vocab.Assigned, Claimed: may1.Add(3 * h)},
			{Fact: at(onco, may2), Status: vocab.AwaitingAssignment},
			// Claimed before its submission by another service's clock: no time.
			{Fact: at(onco, may2), Status: vocab.Assigned, Claimed: may2.Add(-time.Minute)},
			{Fact: at(cardio, w.To), Status: vocab.Submitted}, // outside the window
		},
		Claims:      []domain.Fact{at(cardio, may1.Add(h)), at(cardio, may1.Add(3*h)), at(onco, may2)},
		Breaches:    []domain.Fact{at(onco, may2.Add(h))},
		Escalations: []domain.Fact{at(onco, may2), at("", may2), at(onco, w.From.Add(-time.Millisecond))},
		AI: []domain.AIRequest{
			{Fact: at(cardio, may1), CaseID: "a", InputTokens: 100, OutputTokens: 20, CostMicros: 300},
			{Fact: at(cardio, may1), CaseID: "a", InputTokens: 50, Failed: true, CostMicros: 101},
			{Fact: at(onco, may2), CaseID: "b", InputTokens: 30, CostMicros: 50},
			{Fact: at("", may2), InputTokens: 1000, CostMicros: 2000}, // for no case: not in the cost per case
		},
		Submitted: []domain.Opinion{{Fact: at(cardio, may1), ProfessionalID: "p2"}, {Fact: at(cardio, may2), ProfessionalID: "p1"}},
		Approved:  []domain.Opinion{{Fact: at(cardio, may2), ProfessionalID: "p2"}},
		Payments: []domain.Money{
			{Fact: at(cardio, may1), Currency: "EUR", Amount: 12000},
			{Fact: at(onco, may2), Currency: "EUR", Amount: 15000},
			{Fact: at(onco, may2), Currency: "CHF", Amount: 20000},
		},
		Refunds: []domain.Money{{Fact: at(onco, may2), Currency: "EUR", Amount: 5000}},
	}
	o := domain.Report(w, "", f)
	tot := o.Total
	if tot.Submitted != 4 || tot.ByStatus[vocab.Assigned] != 2 || tot.ByStatus[vocab.Completed] != 1 ||
		tot.ByStatus[vocab.AwaitingAssignment] != 1 || tot.ByStatus[vocab.Submitted] != 0 {
		t.Errorf("cases: %d %v", tot.Submitted, tot.ByStatus)
	}
	if want := (domain.Turnaround{Count: 3, P50: h, P90: 3 * h}); tot.ToClaim != want {
		t.Errorf("to claim %+v, want %+v", tot.ToClaim, want)
	}
	if want := (domain.Turnaround{Count: 1, P50: 5 * h, P90: 5 * h}); tot.ToOpinion != want || tot.ToCompletion.P90 != 6*h {
		t.Errorf("to opinion %+v, to completion %+v", tot.ToOpinion, tot.ToCompletion)
	}
	if tot.Claims != 3 || tot.Breaches != 1 || tot.Escalations != 2 || tot.OpinionsSubmitted != 2 || tot.OpinionsApproved != 1 {
		t.Errorf("counts %+v", tot)
	}
	if ai := tot.AI; ai.Requests != 4 || ai.Failed != 1 || ai.InputTokens != 1180 || ai.OutputTokens != 20 || ai.Cases != 2 ||
		ai.TokensPerCase() != 100 || ai.CostMicros != 2451 || ai.CaseCostMicros != 451 || ai.CostPerCase() != 225.5 {
		t.Errorf("AI %+v per case %v tokens, %v micros", ai, ai.TokensPerCase(), ai.CostPerCase())
	}
	if none := (domain.AIUsage{}); none.CostPerCase() != 0 || none.TokensPerCase() != 0 {
		t.Errorf("no case: %v micros, %v tokens per case", none.CostPerCase(), none.TokensPerCase())
	}
	want := []domain.Revenue{{Currency: "CHF", Payments: 1, Gross: 20000},
		{Currency: "EUR", Payments: 2, Gross: 27000, Refunds: 1, Refunded: 5000}}
	if !slices.Equal(tot.Revenue, want) || tot.Revenue[1].Net() != 22000 {
		t.Errorf("revenue %+v", tot.Revenue)
	}
	if want := []domain.ProfessionalFigures{{"p2", 1, 1}, {"p1", 1, 0}}; !slices.Equal(o.Professionals, want) {
		t.Errorf("professionals %+v", o.Professionals)
	}

	if len(o.BySpecialty) != len(vocab.Specialties) || o.BySpecialty[0].Specialty != cardio || o.BySpecialty[1].Specialty != onco {
		t.Fatalf("by specialty %+v", o.BySpecialty)
	}
	c, on := o.BySpecialty[0].Figures, o.BySpecialty[1].Figures
	if c.Submitted != 2 || c.ToClaim.Count != 2 || c.ToClaim.P90 != 3*h || on.Submitted != 2 || on.Breaches != 1 ||
		on.Escalations != 1 || on.AI.Cases != 1 || on.AI.CostPerCase() != 50 || c.AI.CostPerCase() != 401 || len(on.Revenue) != 2 || o.BySpecialty[2].Figures.Submitted != 0 ||
		on.ToClaim != (domain.Turnaround{Count: 1}) {
		t.Errorf("cardiology %+v, oncology %+v", c, on)
	}

	if len(o.ByPeriod) != 2 || o.ByPeriod[0].Period.Label != "2031-05-01" || o.ByPeriod[1].Period.Label != "2031-05-02" {
		t.Fatalf("periods %+v", o.ByPeriod)
	}
	d1, d2 := o.ByPeriod[0].Figures, o.ByPeriod[1].Figures
	if d1.Submitted != 2 || d2.Submitted != 2 || d1.Claims != 2 || d2.Claims != 1 || d1.OpinionsApproved != 0 ||
		d2.OpinionsApproved != 1 || d1.AI.Requests != 2 || d2.Escalations != 2 || len(d1.Revenue) != 1 || d2.Revenue[1].Refunded != 5000 {
		t.Errorf("day 1 %+v, day 2 %+v", d1, d2)
	}

	only := domain.Report(w, onco, f)
	if only.Total.Submitted != 2 || only.Total.Escalations != 1 || only.Total.AI.Requests != 1 || len(only.BySpecialty) != 1 ||
		len(only.Professionals) != 0 || only.Total.Revenue[1].Gross != 15000 {
		t.Errorf("oncology alone %+v", only.Total)
	}
}
