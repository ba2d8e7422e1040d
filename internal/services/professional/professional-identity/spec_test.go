package professionalidentity_test

import (
	"slices"
	"testing"

	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	cases "github.com/secondopinion/platform/internal/services/patient/case-management/domain"
	identity "github.com/secondopinion/platform/internal/services/professional/professional-identity"
)

// Every operation has a policy, and the documented specialties are the
// platform's vocabulary.
func TestSpec(t *testing.T) {
	f := start(t, testkit.OpenDB(t, sqldb.SQLite, identity.Name))
	spec := f.svc.OpenAPI()
	if missing := authz.Missing(spec); len(missing) > 0 {
		t.Errorf("operations without a policy: %v", missing)
	}
	for _, name := range []string{"RegisterProfessionalInputBody", "PatchProfessionalInputBody"} {
		s := spec.Components.Schemas.Map()[name]
		if s == nil || s.Properties["specialties"] == nil || s.Properties["specialties"].Items == nil {
			t.Fatalf("%s has no specialties", name)
		}
		var enum []string
		for _, v := range s.Properties["specialties"].Items.Enum {
			enum = append(enum, v.(string))
		}
		if !slices.Equal(enum, cases.Specialties) {
			t.Errorf("%s documents %v, want %v", name, enum, cases.Specialties)
		}
	}
}
