// Package telemetry owns the platform's metrics (Prometheus, with the
// migration plan's metric names) and traces (OpenTelemetry, exported over
// OTLP when configured, W3C trace context across HTTP and events).
package telemetry

import (
	"database/sql"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the plan's metrics in one registry. In `all` mode every
// service shares it and is told apart by the service label.
//
// Label values come only from bounded sets (target names, route
// patterns, the standard methods, valid status codes), never from what a
// client sends: a series is kept for the life of the process, so a label
// a client can vary grows memory and the scrape with every request.
type Metrics struct {
	Registry     *prometheus.Registry
	HTTPDuration *prometheus.HistogramVec
	CaseDuration *prometheus.HistogramVec
	AIRequests   *prometheus.CounterVec
}

// NewMetrics registers the plan's metrics and the Go runtime collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Duration of HTTP requests in seconds",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .2, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status_code", "service"}),
		CaseDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "case_processing_duration_seconds",
			Help:    "Duration of case processing",
			Buckets: prometheus.ExponentialBuckets(60, 2, 14),
		}, []string{"case_type", "service"}),
		AIRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ai_provider_requests_total",
			Help: "Total AI provider requests",
		}, []string{"provider", "status"}),
	}
	reg.MustRegister(m.HTTPDuration, m.CaseDuration, m.AIRequests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchDB exports active_database_connections{service,database} for db,
// read at scrape time so the figure is never stale.
func (m *Metrics) WatchDB(service, database string, db *sql.DB) error {
	return m.Registry.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "active_database_connections",
		Help:        "Number of active database connections",
		ConstLabels: prometheus.Labels{"service": service, "database": database},
	}, func() float64 { return float64(db.Stats().InUse) }))
}
