package audit

import (
	"slices"
	"testing"

	"github.com/secondopinion/platform/api/events"
	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
)

// The trail consumes every event type: audit.recorded as an access,
// patient.erased and case.erased as erasures to carry out, any other as a change; the
// module declares what the subscriptions are.
func TestConsumesEveryEvent(t *testing.T) {
	want := []string{"*", kitaudit.Recorded.Type, events.CaseErasedV1.Type, events.PatientErasedV1.Type}
	if got := subscriptions.Types(); !slices.Equal(got, want) {
		t.Errorf("subscribed to %v, want %v", got, want)
	}
	if !slices.Equal(Module.Consumes, subscriptions.Types()) {
		t.Errorf("module declares %v", Module.Consumes)
	}
}
