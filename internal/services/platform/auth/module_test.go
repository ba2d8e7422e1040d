package auth_test

import (
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/rpc"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/auth"
)

func TestModule(t *testing.T) {
	m := auth.Module
	if m.Name != auth.Name || m.Domain != service.Platform || !slices.Equal(m.Requires, []string{"notification"}) || !slices.Equal(m.Consumes, []string{"patient.erased"}) {
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
	// Codes go out through notification, reached as a peer.
	var asked []string
	peer := func(target string) (service.Peer, error) {
		asked = append(asked, target)
		return service.Peer{HTTP: http.DefaultClient, URL: rpc.BaseURL}, nil
	}
	svc, err := m.New(cfg, service.Deps{DB: db, Bus: inproc.New(), DataDir: t.TempDir(), Peer: peer})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(asked, []string{"notification"}) {
		t.Fatalf("peers asked for: %v", asked)
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
