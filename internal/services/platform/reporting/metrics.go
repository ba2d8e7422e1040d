package reporting

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/services/platform/reporting/domain"
)

// The gauges are the overview's totals over the trailing window
// REPORTING_METRICS_WINDOW, computed from the facts at each scrape, so
// they are never stale and cost nothing between scrapes. Their labels come
// from bounded sets (statuses, specialties, steps, currencies): no
// professional or case ids, which belong to the overview.
var (
	casesGauge = prometheus.NewDesc("reporting_cases",
		"Cases submitted in the reporting window, by their current status", []string{"status"}, nil)
	specialtyGauge = prometheus.NewDesc("reporting_cases_submitted",
		"Cases submitted in the reporting window, by specialty", []string{"specialty"}, nil)
	turnaroundGauge = prometheus.NewDesc("reporting_turnaround_seconds",
		"Time from submission to claim, opinion or completion of the cases submitted in the reporting window that reached it",
		[]string{"step", "quantile"}, nil)
	claimsGauge = prometheus.NewDesc("reporting_claims",
		"Cases claimed in the reporting window", nil, nil)
	breachesGauge = prometheus.NewDesc("reporting_deadline_breaches",
		"Assignments that passed their deadline without an opinion in the reporting window", nil, nil)
	escalationsGauge = prometheus.NewDesc("reporting_escalations",
		"Cases escalated for waiting unclaimed in the reporting window", nil, nil)
	aiRequestsGauge = prometheus.NewDesc("reporting_ai_requests",
		"Requests to AI providers in the reporting window", nil, nil)
	aiTokensGauge = prometheus.NewDesc("reporting_ai_tokens_per_case",
		"Mean AI tokens (input and output) of the cases with AI requests in the reporting window", nil, nil)
	aiCostGauge = prometheus.NewDesc("reporting_ai_cost_micros",
		"What the requests to AI providers in the reporting window cost, in millionths of a US dollar", nil, nil)
	aiCostPerCaseGauge = prometheus.NewDesc("reporting_ai_cost_micros_per_case",
		"Mean AI cost, in millionths of a US dollar, of the cases with AI requests in the reporting window", nil, nil)
	opinionsGauge = prometheus.NewDesc("reporting_opinions_approved",
		"Opinions approved in the reporting window", nil, nil)
	paidGauge = prometheus.NewDesc("reporting_payments_minor_units",
		"Payments in the reporting window, in minor units of the currency", []string{"currency"}, nil)
	refundedGauge = prometheus.NewDesc("reporting_refunds_minor_units",
		"Refunds in the reporting window, in minor units of the currency", []string{"currency"}, nil)
)

// scrapeTimeout bounds the store's work for one scrape.
const scrapeTimeout = 10 * time.Second

// gauges is the collector of the reporting_* gauges.
type gauges struct{ s *Service }

func (g *gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{casesGauge, specialtyGauge, turnaroundGauge, claimsGauge, breachesGauge,
		escalationsGauge, aiRequestsGauge, aiTokensGauge, aiCostGauge, aiCostPerCaseGauge, opinionsGauge, paidGauge, refundedGauge} {
		ch <- d
	}
}

// Collect computes the window's figures. A store that cannot answer
// leaves the gauges out of this scrape rather than failing every other
// metric of the process.
func (g *gauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	to := g.s.cfg.Now().UTC()
	// Months: the fewest periods to compute, since the gauges show none.
	w := domain.Window{From: to.Add(-g.s.cfg.MetricsWindow), To: to, Interval: domain.Month}
	facts, err := g.s.store.Facts(ctx, w.From, w.To)
	if err != nil {
		g.s.Log.WarnContext(ctx, "reporting gauges left out of the scrape", "error", err)
		return
	}
	o := domain.Report(w, "", facts)
	f := o.Total
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, st := range vocab.CaseStatuses {
		gauge(casesGauge, float64(f.ByStatus[st]), string(st))
	}
	for _, s := range o.BySpecialty {
		gauge(specialtyGauge, float64(s.Submitted), string(s.Specialty))
	}
	for _, t := range []struct {
		step string
		t    domain.Turnaround
	}{{"claim", f.ToClaim}, {"opinion", f.ToOpinion}, {"completion", f.ToCompletion}} {
		if t.t.Count > 0 {
			gauge(turnaroundGauge, t.t.P50.Seconds(), t.step, "0.5")
			gauge(turnaroundGauge, t.t.P90.Seconds(), t.step, "0.9")
		}
	}
	gauge(claimsGauge, float64(f.Claims))
	gauge(breachesGauge, float64(f.Breaches))
	gauge(escalationsGauge, float64(f.Escalations))
	gauge(aiRequestsGauge, float64(f.AI.Requests))
	gauge(aiTokensGauge, f.AI.TokensPerCase())
	gauge(aiCostGauge, float64(f.AI.CostMicros))
	gauge(aiCostPerCaseGauge, f.AI.CostPerCase())
	gauge(opinionsGauge, float64(f.OpinionsApproved))
	for _, r := range f.Revenue {
		gauge(paidGauge, float64(r.Gross), r.Currency)
		gauge(refundedGauge, float64(r.Refunded), r.Currency)
	}
}
