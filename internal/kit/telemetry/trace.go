package telemetry

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Propagator carries W3C trace context over HTTP headers and the event
// envelope's traceparent.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Tracer is the platform's tracer; spans are no-ops until SetupTracing
// installs an exporting provider.
func Tracer() trace.Tracer { return otel.Tracer("github.com/secondopinion/platform") }

// SetupTracing exports spans over OTLP/HTTP to endpoint, the base URL of
// OTEL_EXPORTER_OTLP_ENDPOINT: as the OpenTelemetry spec says, traces go
// to its /v1/traces. With no endpoint, spans are
// still created — so trace ids reach logs and events — but not exported.
// The returned shutdown flushes pending spans.
func SetupTracing(ctx context.Context, service, endpoint string) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(Propagator)
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(sdkresource.NewSchemaless(semconv.ServiceName(service))),
	}
	if endpoint != "" {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimSuffix(endpoint, "/")+"/v1/traces"))
		if err != nil {
			return nil, fmt.Errorf("otlp exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// Traceparent is the W3C traceparent of the span in ctx, or "".
func Traceparent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	Propagator.Inject(ctx, c)
	return c["traceparent"]
}

// WithTraceparent returns ctx carrying the remote span context named by tp.
func WithTraceparent(ctx context.Context, tp string) context.Context {
	if tp == "" {
		return ctx
	}
	return Propagator.Extract(ctx, propagation.MapCarrier{"traceparent": tp})
}
