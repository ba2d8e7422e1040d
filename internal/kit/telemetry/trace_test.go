package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/telemetry"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// With an endpoint, spans reach an OTLP/HTTP receiver when the provider
// shuts down; the trace context survives a round trip through the
// envelope's traceparent.
func TestSpansAreExportedOverOTLP(t *testing.T) {
	got := make(chan string, 10)
	ln := testkit.Listen(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.URL.Path + " " + string(b)
		w.WriteHeader(http.StatusOK)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	ctx := context.Background()
	shutdown, err := telemetry.SetupTracing(ctx, "telemetry-test", "http://"+ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := telemetry.Tracer().Start(ctx, "claim case")
	tp := telemetry.Traceparent(ctx)
	span.End()

	_, child := telemetry.Tracer().Start(telemetry.WithTraceparent(context.Background(), tp), "consume")
	if child.SpanContext().TraceID() != span.SpanContext().TraceID() {
		t.Fatalf("trace id lost across traceparent %q", tp)
	}
	child.End()

	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case req := <-got:
		if !strings.HasPrefix(req, "/v1/traces ") || !strings.Contains(req, "claim case") {
			t.Fatalf("export %q", req[:min(len(req), 200)])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no spans exported")
	}
}
