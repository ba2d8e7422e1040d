package professionalidentity

import (
	"slices"
	"testing"

	"github.com/secondopinion/platform/api/events"
)

// The module declares what the service subscribes to: credentialing's
// verdicts on standing and level.
func TestSubscriptions(t *testing.T) {
	want := []string{events.ProfessionalLevelChangedV1.Type, events.ProfessionalSuspendedV1.Type, events.ProfessionalVerifiedV1.Type}
	if got := subscriptions.Types(); !slices.Equal(got, want) {
		t.Errorf("subscribed to %v, want %v", got, want)
	}
	if !slices.Equal(Module.Consumes, subscriptions.Types()) {
		t.Errorf("module declares %v", Module.Consumes)
	}
}
