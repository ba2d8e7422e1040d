package auth_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/auth"
)

func TestModule(t *testing.T) {
	m := auth.Module
	if m.Name != auth.Name || m.Domain != service.Platform || len(m.Requires) != 0 || !slices.Equal(m.Consumes, []string{"patient.erased"}) || !m.Implemented() {
		t.Fatalf("module %+v", m)
	}
	cfg, err := m.LoadConfig(env(map[string]string{"AUTH_BCRYPT_COST": "4"}))
	if c, ok := cfg.(*auth.Config); err != nil || !ok || c.BcryptCost != 4 {
		t.Fatalf("config %#v %v", cfg, err)
	}
	db := testkit.OpenDB(t, sqldb.SQLite, auth.Name)
	if err := m.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	svc, err := m.New(cfg, service.Deps{DB: db, Bus: inproc.New(), DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := svc.(service.Authority); !ok {
		t.Fatalf("%T is not the token authority", svc)
	}
	if _, ok := svc.Checks()["redis"]; ok {
		t.Fatal("a redis check without redis")
	}
	// The spec built without running the service is the running one's.
	spec, running := slices.Sorted(maps.Keys(m.Spec().Paths)), slices.Sorted(maps.Keys(svc.OpenAPI().Paths))
	if len(spec) != 12 || !slices.Equal(spec, running) {
		t.Fatalf("spec paths %v, running %v", spec, running)
	}
}
