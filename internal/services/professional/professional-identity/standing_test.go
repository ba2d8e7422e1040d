package professionalidentity_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
)

func credentialingEvent(t *testing.T, typ, id string, at time.Time, extra map[string]any) bus.Event {
	t.Helper()
	payload := map[string]any{"professionalId": id, "timestamp": at}
	for k, v := range extra {
		payload[k] = v
	}
	e, err := bus.New("credentialing", typ, id, payload)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// credentialing's events keep status and level: each once, in the order
// they happened, whatever order and however often they arrive.
func testStanding(t *testing.T, f fixture, id string) {
	ctx := context.Background()
	t0 := time.Now().UTC()
	verified := credentialingEvent(t, events.ProfessionalVerifiedV1.Type, id, t0, nil)
	senior := credentialingEvent(t, events.ProfessionalLevelChangedV1.Type, id, t0.Add(time.Second), map[string]any{"from": "JUNIOR", "to": "SENIOR"})
	expert := credentialingEvent(t, events.ProfessionalLevelChangedV1.Type, id, t0.Add(2*time.Second), map[string]any{"from": "SENIOR", "to": "EXPERT"})
	suspended := credentialingEvent(t, events.ProfessionalSuspendedV1.Type, id, t0.Add(3*time.Second), map[string]any{"reason": "licence expired"})
	stale := credentialingEvent(t, events.ProfessionalVerifiedV1.Type, id, t0.Add(-time.Hour), nil)
	stranger := credentialingEvent(t, events.ProfessionalVerifiedV1.Type, uuid.NewString(), t0, nil)
	standing := func() (string, string) {
		r := callAs(t, "pro:"+id, http.MethodGet, f.url+"/api/v1/professionals/"+id, "")
		s, _ := r.doc["status"].(string)
		l, _ := r.doc["level"].(string)
		return s, l
	}
	for _, step := range []struct {
		e             bus.Event
		status, level string
	}{
		{verified, "VERIFIED", "JUNIOR"},
		{verified, "VERIFIED", "JUNIOR"},
		{expert, "VERIFIED", "EXPERT"},
		{senior, "VERIFIED", "EXPERT"}, // older than EXPERT, late
		{suspended, "SUSPENDED", "EXPERT"},
		{stale, "SUSPENDED", "EXPERT"},
		{verified, "SUSPENDED", "EXPERT"}, // a redelivery, seen before
		{stranger, "SUSPENDED", "EXPERT"},
	} {
		if err := f.svc.Consume(ctx, step.e); err != nil {
			t.Fatalf("handle %s: %v", step.e.Type, err)
		}
		if s, l := standing(); s != step.status || l != step.level {
			t.Fatalf("after %s at %s: %s/%s, want %s/%s", step.e.Type, step.e.Payload, s, l, step.status, step.level)
		}
	}
	var status string
	if err := f.db.QueryRow(`SELECT status FROM inbox WHERE event_id = $1`, stranger.ID).Scan(&status); err != nil || status == "retry" {
		t.Errorf("the event of an unknown professional: inbox %q, %v; want it done", status, err)
	}

	// A level this service does not know is kept for retry, not applied.
	bad := credentialingEvent(t, events.ProfessionalLevelChangedV1.Type, id, t0.Add(time.Hour), map[string]any{"from": "EXPERT", "to": "GODLIKE"})
	if err := f.svc.Consume(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if err := f.db.QueryRow(`SELECT status FROM inbox WHERE event_id = $1`, bad.ID).Scan(&status); err != nil || status != "retry" {
		t.Errorf("unknown level: inbox %q, %v; want retry", status, err)
	}
	if _, l := standing(); l != "EXPERT" {
		t.Errorf("unknown level applied: %s", l)
	}
	// Consuming publishes nothing.
	for _, e := range outboxEvents(t, f.db, id) {
		if !strings.HasPrefix(e, events.ProfessionalRegisteredV1.Type+" ") && !strings.HasPrefix(e, events.ProfessionalUpdatedV1.Type+" ") {
			t.Errorf("unexpected event %s", e)
		}
	}
}
