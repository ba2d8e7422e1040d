package reporting_test

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/reporting"
)

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// gauges are the reporting_* series of a scrape, as `name{labels} value`.
func (h *harness) gauges() map[string]float64 {
	h.t.Helper()
	families, err := h.metrics.Registry.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "reporting_") {
			continue
		}
		if f.GetType().String() != "GAUGE" {
			h.t.Errorf("%s is a %s", f.GetName(), f.GetType())
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			out[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

// The gauges are the totals of the trailing window (31 days here: all of
// May) at the time of the scrape.
func TestGauges(t *testing.T) {
	h := start(t, testkit.OpenDB(t, sqldb.SQLite, reporting.Name))
	empty := h.gauges()
	if empty["reporting_cases{status=SUBMITTED}"] != 0 || empty["reporting_claims{}"] != 0 || len(empty) == 0 {
		t.Errorf("an empty store: %v", empty)
	}
	if _, ok := empty["reporting_turnaround_seconds{quantile=0.5,step=claim}"]; ok {
		t.Error("a turnaround without a case")
	}
	w := newWorld(t)
	h.consume(w.all()...)
	got := h.gauges()
	want := map[string]float64{
		"reporting_cases{status=COMPLETED}":                          1,
		"reporting_cases{status=ASSIGNED}":                           1,
		"reporting_cases{status=AWAITING_ASSIGNMENT}":                1,
		"reporting_cases{status=CANCELLED}":                          0,
		"reporting_cases_submitted{specialty=ONCOLOGY}":              2,
		"reporting_cases_submitted{specialty=CARDIOLOGY}":            1,
		"reporting_cases_submitted{specialty=UROLOGY}":               0,
		"reporting_turnaround_seconds{quantile=0.5,step=claim}":      7200,
		"reporting_turnaround_seconds{quantile=0.9,step=claim}":      86400,
		"reporting_turnaround_seconds{quantile=0.9,step=opinion}":    108000,
		"reporting_turnaround_seconds{quantile=0.5,step=completion}": 104400,
		"reporting_claims{}":                                         3,
		"reporting_deadline_breaches{}":                              1,
		"reporting_escalations{}":                                    1,
		"reporting_ai_requests{}":                                    3,
		"reporting_ai_tokens_per_case{}":                             750,
		"reporting_ai_cost_micros{}":                                 2901,
		"reporting_ai_cost_micros_per_case{}":                        950.5,
		"reporting_opinions_approved{}":                              1,
		"reporting_payments_minor_units{currency=EUR}":               27000,
		"reporting_payments_minor_units{currency=CHF}":               20000,
		"reporting_refunds_minor_units{currency=CHF}":                5000,
		"reporting_refunds_minor_units{currency=EUR}":                0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	// They agree with the overview of the same window.
	o := h.overview("?from=2031-05-01&to=2031-06-01")
	for _, c := range o.Total.CasesByStatus {
		if got["reporting_cases{status="+string(c.Status)+"}"] != float64(c.Count) {
			t.Errorf("status %s: gauge %v, overview %d", c.Status, got["reporting_cases{status="+string(c.Status)+"}"], c.Count)
		}
	}
	if p50 := *o.Total.ToOpinion.P50Seconds; got["reporting_turnaround_seconds{quantile=0.5,step=opinion}"] != p50 {
		t.Errorf("opinion p50: gauge %v, overview %s", got["reporting_turnaround_seconds{quantile=0.5,step=opinion}"],
			strconv.FormatFloat(p50, 'f', -1, 64))
	}
	for k := range got {
		if strings.Contains(k, w.pro1) || strings.Contains(k, w.caseA) {
			t.Errorf("an id in a label: %s", k)
		}
	}
}
