package casemanagement

import (
	"slices"
	"testing"

	"github.com/secondopinion/platform/internal/services/patient/case-management/domain"
)

// The service consumes exactly the event types its rule table moves cases
// on: a rule without a subscription would never fire, a subscription
// without a rule would be ignored.
func TestSubscriptionsFollowTheRules(t *testing.T) {
	if got, want := subscriptions.Types(), domain.EventTypes(); !slices.Equal(got, want) {
		t.Errorf("subscribed to %v, the rules move cases on %v", got, want)
	}
	if !slices.Equal(Module.Consumes, subscriptions.Types()) {
		t.Errorf("module declares %v", Module.Consumes)
	}
}
