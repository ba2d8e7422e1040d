package professionalidentity_test

import (
	"slices"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	identity "github.com/secondopinion/platform/internal/services/professional/professional-identity"
)

// Every operation has a policy, and the documented specialties are the
// platform's vocabulary: in the running service's document and in the one
// the module gives without running it.
func TestSpec(t *testing.T) {
	f := start(t, testkit.OpenDB(t, sqldb.SQLite, identity.Name))
	for doc, spec := range map[string]*huma.OpenAPI{"service": f.svc.OpenAPI(), "module": identity.Module.Spec()} {
		if missing := authz.Missing(spec); len(missing) > 0 {
			t.Errorf("%s: operations without a policy: %v", doc, missing)
		}
		schemas := spec.Components.Schemas.Map()
		var enum []string
		if s := schemas["Specialty"]; s != nil {
			for _, v := range s.Enum {
				enum = append(enum, v.(string))
			}
		}
		if want := vocab.Specialty("").Values(); !slices.Equal(enum, want) {
			t.Errorf("%s: Specialty documents %v, want %v", doc, enum, want)
		}
		for _, name := range []string{"ProfessionalRegistration", "ProfessionalUpdate", "ProfessionalProfile"} {
			s := schemas[name]
			if s == nil || s.Properties["specialties"] == nil || s.Properties["specialties"].Items == nil {
				t.Fatalf("%s: %s has no specialties", doc, name)
			}
			if ref := s.Properties["specialties"].Items.Ref; ref != httpapi.SchemaPrefix+"Specialty" {
				t.Errorf("%s: %s's specialties are %q, want the Specialty vocabulary", doc, name, ref)
			}
		}
	}
}
