package patientconsent

import (
	"slices"
	"testing"

	"github.com/secondopinion/platform/internal/kit/authz"
)

func TestModule(t *testing.T) {
	if !slices.Equal(Module.Consumes, []string{"patient.erased"}) || len(Module.Requires) != 0 {
		t.Errorf("consumes %v, requires %v; want patient.erased and nothing", Module.Consumes, Module.Requires)
	}
	if Module.Name != "patient-consent" {
		t.Errorf("module %+v", Module)
	}
	spec := Module.Spec()
	if missing := authz.Missing(spec); len(missing) != 0 {
		t.Errorf("operations without a policy: %v", missing)
	}
	if n := len(spec.Paths); n != 3 {
		t.Errorf("%d paths, want 3", n)
	}
}
