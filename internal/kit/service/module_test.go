package service_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/bus/inproc"
	"github.com/secondopinion/platform/internal/kit/httpapi"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

type thingConfig struct {
	Every time.Duration `env:"THING_EVERY" default:"1m"`
}

type thing struct {
	*service.Base
	cfg thingConfig
}

type pingOutput struct{ Body struct{ Every string } }

func (t *thing) routes(api huma.API) {
	httpapi.Register(api, huma.Operation{OperationID: "ping", Method: http.MethodGet, Path: "/ping"}, authz.Public,
		func(context.Context, *struct{}) (*pingOutput, error) {
			out := &pingOutput{}
			out.Body.Every = t.cfg.Every.String()
			return out, nil
		})
}

func newThing(cfg thingConfig, deps service.Deps) (*thing, error) {
	t := &thing{cfg: cfg}
	var err error
	if t.Base, err = service.NewBase("thing", deps, outbox.Handlers{}); err != nil {
		return nil, err
	}
	t.routes(t.API)
	return t, nil
}

var module = service.Module{Name: "thing", Domain: service.Platform,
	Migrate: service.WithOutbox(func(context.Context, *sqldb.DB) error { return nil }),
	Routes:  func(api huma.API) { new(thing).routes(api) }, Build: service.Builds(newThing)}

func TestModuleLoadsItsConfigAndBuilds(t *testing.T) {
	if _, err := module.LoadConfig(func(string) (string, bool) { return "soon", true }); err == nil ||
		!strings.Contains(err.Error(), "thing: THING_EVERY:") {
		t.Fatalf("bad value: %v", err)
	}
	cfg, err := module.LoadConfig(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	db := testkit.OpenDB(t, sqldb.SQLite, "thing")
	if err := module.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	b := inproc.New()
	t.Cleanup(func() { b.Close() })
	svc, err := module.New(cfg, service.Deps{DB: db, Bus: b})
	if err != nil {
		t.Fatal(err)
	}
	if svc.(*thing).cfg.Every != time.Minute {
		t.Errorf("default not applied: %+v", svc.(*thing).cfg)
	}
	if _, err := module.New(struct{}{}, service.Deps{DB: db, Bus: b}); err == nil {
		t.Error("built from another module's configuration")
	}
	if module.Spec().Paths["/ping"] == nil || svc.OpenAPI().Paths["/ping"] == nil {
		t.Error("spec lacks the route")
	}
	// The consumer-less service relays until stopped.
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("run: %v", err)
	}
	if err := svc.(*thing).Consume(t.Context(), testEvent()); err == nil {
		t.Error("a service without subscriptions consumed an event")
	}
}

func TestUnbuiltModule(t *testing.T) {
	planned := service.Module{Name: "later", Domain: service.AI}
	if _, err := planned.New(nil, service.Deps{}); err == nil {
		t.Fatal("an unbuilt module was built")
	}
}

func testEvent() bus.Event {
	e, _ := bus.New("other", "other.happened", "0190c1a8-0000-7000-8000-000000000001", map[string]int{"n": 1})
	return e
}
