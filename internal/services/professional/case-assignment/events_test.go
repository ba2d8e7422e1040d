package caseassignment

import (
	"slices"
	"testing"
)

// The service consumes what keeps its projections of professionals, of
// consents and of the pool, and the erasures, and the module declares
// exactly that.
func TestSubscriptions(t *testing.T) {
	want := []string{"case.awaiting_assignment", "case.cancelled", "case.completed", "case.erased", "consent.granted", "consent.withdrawn",
		"opinion.submitted", "patient.erased", "professional.level_changed", "professional.registered", "professional.suspended",
		"professional.updated", "professional.verified"}
	if got := subscriptions.Types(); !slices.Equal(got, want) {
		t.Errorf("subscribed to %v, want %v", got, want)
	}
	if !slices.Equal(Module.Consumes, subscriptions.Types()) {
		t.Errorf("module declares %v", Module.Consumes)
	}
}
