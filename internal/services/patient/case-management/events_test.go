package casemanagement

import (
	"slices"
	"testing"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/services/patient/case-management/domain"
)

// The service consumes patient.erased, which removes cases, and exactly
// the event types its rule table moves cases on: a rule without a
// subscription would never fire, a subscription without a rule would be
// ignored.
func TestSubscriptionsFollowTheRules(t *testing.T) {
	want := slices.Sorted(slices.Values(append(domain.EventTypes(), events.PatientErasedV1.Type)))
	if got := subscriptions.Types(); !slices.Equal(got, want) {
		t.Errorf("subscribed to %v, want patient.erased and the types the rules move cases on, %v", got, want)
	}
	if !slices.Equal(Module.Consumes, subscriptions.Types()) {
		t.Errorf("module declares %v", Module.Consumes)
	}
}
