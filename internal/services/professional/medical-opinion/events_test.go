package medicalopinion

import (
	"slices"
	"testing"

	contracts "github.com/secondopinion/platform/api/events"
	caseassignment "github.com/secondopinion/platform/internal/clients/case-assignment"
	casemanagement "github.com/secondopinion/platform/internal/clients/case-management"
	professionalidentity "github.com/secondopinion/platform/internal/clients/professional-identity"
)

// The service consumes case-assignment's assignment events, the
// projection of who may write a case's opinion, and case.erased, and its
// module says so along with the peers it calls.
func TestModule(t *testing.T) {
	want := []string{contracts.AssignmentExpiredV1.Type, contracts.AssignmentReleasedV1.Type, contracts.CaseAssignedV1.Type,
		contracts.CaseErasedV1.Type}
	if got := subscriptions.Types(); !slices.Equal(got, want) {
		t.Errorf("subscribed to %v, want %v", got, want)
	}
	if !slices.Equal(Module.Consumes, want) {
		t.Errorf("module declares it consumes %v, want %v", Module.Consumes, want)
	}
	peers := []string{casemanagement.Target, professionalidentity.Target, caseassignment.Target}
	if !slices.Equal(Module.Requires, peers) {
		t.Errorf("module requires %v, want %v", Module.Requires, peers)
	}
	if Module.Name != Name {
		t.Errorf("module %q", Module.Name)
	}
}
