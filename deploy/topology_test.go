package deploy_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/secondopinion/platform/internal/app"
)

// topology is topology.json (`secondopinion topology`, committed beside
// the chart and kept current by make check-generated): the one source the
// chart ranges over and the compose file is generated from, and what
// every check here compares them with.
type topology struct{ app.Topology }

func readTopology(t *testing.T) topology {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, "topology.json"))
	if err != nil {
		t.Fatalf("read the topology: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var topo topology
	if err := dec.Decode(&topo.Topology); err != nil {
		t.Fatalf("topology.json: %v", err)
	}
	if topo.Port == 0 || topo.MetricsPort == 0 || len(topo.Workloads) == 0 {
		t.Fatal("topology.json: no ports or no workloads")
	}
	var edges []string
	for _, w := range topo.Workloads {
		if len(w.Callers) == 0 {
			edges = append(edges, w.Name)
		}
	}
	if len(edges) != 1 {
		t.Fatalf("topology.json: want one workload without callers (the edge), got %v", edges)
	}
	return topo
}

// edge is the one workload nobody inside calls: the one the public reaches.
func (topo topology) edge() string {
	i := slices.IndexFunc(topo.Workloads, func(w app.Workload) bool { return len(w.Callers) == 0 })
	return topo.Workloads[i].Name
}

// env is every variable the workload is given: the shared ones, then its own.
func (topo topology) env(w app.Workload) []app.Variable {
	return append(slices.Clone(topo.Shared), w.Env...)
}

// secrets is every variable that must come from a Secret: the topology's
// secret variables and each store's own <TARGET>_DATABASE_URL.
func (topo topology) secrets() map[string]bool {
	out := map[string]bool{}
	for _, v := range topo.Shared {
		out[v.Name] = out[v.Name] || v.Secret
	}
	for _, w := range topo.Workloads {
		for _, v := range w.Env {
			out[v.Name] = out[v.Name] || v.Secret
		}
		if w.Store {
			out[app.DatabaseURLVar(w.Name)] = true
		}
	}
	return out
}

// peersOf is what a workload calls: what it requires and every peer whose
// URL it is given (every service calls auth to check tokens, which its
// requires do not name).
func peersOf(w app.Workload) []string {
	out := slices.Clone(w.Requires)
	for _, v := range w.Env {
		if v.Peer != "" {
			out = append(out, v.Peer)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
