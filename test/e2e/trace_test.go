package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/app"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// The caller's trace travels from the gateway through the service into
// the envelope of the event the outbox relays.
func TestTraceReachesTheEvent(t *testing.T) {
	env := map[string]string{"DATA_DIR": t.TempDir(), "AUTH_BCRYPT_COST": "4"}
	cfg, err := app.LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), cfg, []string{app.All}, app.Options{
		Listener: testkit.Listen(t), Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	events := newProbe()
	probe, err := a.Bus().Subscribe(t.Context(), "trace-probe", func(_ context.Context, e bus.Event) error {
		events.add(e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { probe.Close(); stop(); <-done })

	const traceID = "0af7651916cd43dd8448eb211c80319c"
	req, _ := http.NewRequest(http.MethodPost, "http://"+a.Addr().String()+"/api/v1/patients", strings.NewReader(
		`{"firstName":"Emmy","lastName":"Noether","dateOfBirth":"1982-03-23","email":"emmy.trace@example.org","password":"symmetry and conservation"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-b7ad6b7169203331-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d", res.StatusCode)
	}
	e, ok := events.wait(15*time.Second, func(e bus.Event) bool { return e.Type == "patient.registered" })
	if !ok {
		t.Fatal("patient.registered never reached the bus")
	}
	if !strings.Contains(e.Traceparent, traceID) {
		t.Fatalf("event traceparent %q lost the caller's trace %s", e.Traceparent, traceID)
	}
}
