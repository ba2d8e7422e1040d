package payouts_test

import (
	"slices"
	"testing"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/services/financial/payouts"
)

// The module says what the service consumes, needs no peer, and every
// route declares its policy.
func TestModule(t *testing.T) {
	m := payouts.Module
	if m.Name != "payouts" || m.Domain != service.Financial || len(m.Requires) != 0 {
		t.Errorf("module %+v", m)
	}
	if want := []string{events.CaseErasedV1.Type, events.OpinionApprovedV1.Type}; !slices.Equal(m.Consumes, want) {
		t.Errorf("consumes %v, want %v", m.Consumes, want)
	}
	spec := m.Spec()
	if missing := authz.Missing(spec); len(missing) != 0 {
		t.Errorf("routes without a policy: %v", missing)
	}
	for _, path := range []string{"/api/v1/professionals/{id}/earnings", "/api/v1/professionals/{id}/statements/{month}",
		"/api/v1/professionals/{id}/payout-account", "/api/v1/payouts", "/api/v1/payouts/{id}", "/api/v1/payouts/{id}/paid",
		"/api/v1/payouts/{id}/csv", "/api/v1/payouts/{id}/sepa", "/api/v1/payouts/rates"} {
		if spec.Paths[path] == nil {
			t.Errorf("no route %s", path)
		}
	}
}
