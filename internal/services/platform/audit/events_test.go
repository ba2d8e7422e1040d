package audit

import (
	"slices"
	"testing"

	kitaudit "github.com/secondopinion/platform/internal/kit/audit"
)

// The trail consumes every event type: audit.recorded as an access, any
// other as a change; the module declares what the subscriptions are.
func TestConsumesEveryEvent(t *testing.T) {
	want := []string{"*", kitaudit.Recorded.Type}
	if got := subscriptions.Types(); !slices.Equal(got, want) {
		t.Errorf("subscribed to %v, want %v", got, want)
	}
	if !slices.Equal(Module.Consumes, subscriptions.Types()) {
		t.Errorf("module declares %v", Module.Consumes)
	}
}
