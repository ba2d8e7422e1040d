package app

import (
	"slices"
	"testing"

	"github.com/secondopinion/platform/internal/gateway"
	"github.com/secondopinion/platform/internal/kit/config"
)

func TestDistributedTopology(t *testing.T) {
	topo := Distributed()
	if got := len(topo.Workloads); got != len(Targets()) {
		t.Fatalf("%d workloads for %d targets", got, len(Targets()))
	}
	known := func(v Variable) bool { return slices.Contains(topo.Variables, v.Name) }
	for _, v := range topo.Shared {
		if !known(v) {
			t.Errorf("shared variable %s is not one the binary reads", v.Name)
		}
	}
	for _, w := range topo.Workloads {
		m, _ := Lookup(w.Name)
		env := map[string]Variable{}
		for _, v := range w.Env {
			if !known(v) {
				t.Errorf("%s: %s is not a variable the binary reads", w.Name, v.Name)
			}
			if v.Peer != "" && (v.Secret || v.Name != ServiceURLVar(v.Peer)) {
				t.Errorf("%s: peer variable %+v", w.Name, v)
			}
			env[v.Name] = v
		}
		if _, ok := env["DATABASE_URL"]; ok != (m.Migrate != nil) {
			t.Errorf("%s: DATABASE_URL given %v, has a store %v", w.Name, ok, m.Migrate != nil)
		}
		for _, r := range append(slices.Clone(m.Requires), "auth") {
			if v, ok := env[ServiceURLVar(r)]; w.Name != "auth" && (!ok || !v.Required || v.Peer != r) {
				t.Errorf("%s: no required %s for its peer", w.Name, ServiceURLVar(r))
			}
		}
		if _, ok := env["SERVICE_SECRET"]; ok != (w.Name != Gateway && w.Name != "auth" && len(m.Requires) > 0) {
			t.Errorf("%s: SERVICE_SECRET given %v", w.Name, ok)
		}
		own := m.Settings()
		if w.Name == Gateway {
			own = config.Settings(&gateway.Config{})
		}
		for _, s := range own {
			if v, ok := env[s.Name]; s.Secret && (!ok || !v.Secret) {
				t.Errorf("%s: its secret %s is not given from a Secret", w.Name, s.Name)
			}
		}
		if w.Name == Gateway {
			if len(w.Callers) != 0 || len(w.Routes) != 0 {
				t.Errorf("the gateway is called from outside only and routes everything: %+v", w)
			}
			continue
		}
		if !slices.Contains(w.Callers, Gateway) || len(w.Routes) == 0 {
			t.Errorf("%s: its public API is not reached through the gateway: callers %v, routes %v", w.Name, w.Callers, w.Routes)
		}
	}
	auth := topo.Workloads[slices.IndexFunc(topo.Workloads, func(w Workload) bool { return w.Name == "auth" })]
	if !slices.Contains(auth.Routes, "/.well-known/jwks.json") {
		t.Errorf("auth's keys are public; routes %v", auth.Routes)
	}
	if len(auth.Callers) != len(Names()) {
		t.Errorf("auth checks every workload's tokens and exchanges their secrets; callers %v", auth.Callers)
	}
}
