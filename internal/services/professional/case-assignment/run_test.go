package caseassignment

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// End to end through Run on the real clock: events arrive from the bus,
// a claim's assignment expires after a short deadline, the scheduler
// returns the case to the pool and the relay publishes every event.
func TestRunExpiresShortDeadline(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := build(t, db, Config{})
		svc, err := New(Config{DeadlineUrgent: 300 * time.Millisecond, Interval: 50 * time.Millisecond}, depsOf(h))
		if err != nil {
			t.Fatal(err)
		}
		h.svc = svc
		h.serve(h.tokens)
		ctx, cancel := context.WithCancel(t.Context())
		stopped := make(chan error, 1)
		go func() { stopped <- svc.Run(ctx) }()
		deliver := func(typ, aggregate string, payload map[string]any) {
			t.Helper()
			e, err := bus.New("test", typ, aggregate, payload)
			if err != nil {
				t.Fatal(err)
			}
			eventually(t, "subscribed", func() bool { h.bus.mu.Lock(); defer h.bus.mu.Unlock(); return h.bus.handler != nil })
			if err := h.bus.handler(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		pro, patient, c := uuid.NewString(), uuid.NewString(), uuid.NewString()
		h.tokens.add("pro", tokenOf(pro))
		now := time.Now()
		deliver("professional.registered", pro, map[string]any{"professionalId": pro, "specialties": cardio, "languages": en, "level": "SENIOR", "timestamp": now})
		deliver("professional.verified", pro, map[string]any{"professionalId": pro, "timestamp": now})
		deliver("consent.granted", patient, map[string]any{"patientId": patient, "purpose": "SHARE_WITH_PROFESSIONALS",
			"version": "2026-12-01", "revision": 1, "timestamp": now})
		deliver("case.awaiting_assignment", c, map[string]any{"caseId": c, "customerId": patient, "caseNumber": "EU-2031-RUN001", "specialty": "CARDIOLOGY",
			"urgency": "URGENT", "language": "en", "ageBand": "80+", "timestamp": now})
		res := h.do("pro", "POST", "/api/v1/assignments/claim/"+c, nil)
		if res.status != 201 {
			t.Fatalf("claim: %d %v", res.status, res.body)
		}
		eventually(t, "assignment.expired published", func() bool { return len(published(h, "assignment.expired")) == 1 })
		if got := published(h, "case.assigned"); len(got) != 1 || got[0].AggregateID != c {
			t.Errorf("case.assigned published: %v", got)
		}
		if e, err := svc.store.Entry(t.Context(), c); err != nil || e.Status != "OPEN" || e.Stay != 2 {
			t.Errorf("pool entry after expiry: %+v %v", e, err)
		}
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func published(h *harness, typ string) []bus.Event {
	h.bus.mu.Lock()
	defer h.bus.mu.Unlock()
	var out []bus.Event
	for _, e := range h.bus.published {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
