package app

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/secondopinion/platform/internal/gateway"
	"github.com/secondopinion/platform/internal/kit/config"
)

// Topology is the distributed deployment as the registry defines it: every
// target in a process of its own, what it calls, who calls it and what it
// must be given. It is the one source the deployment artefacts come from:
// `secondopinion topology` prints it, the Helm chart renders it, and the
// compose file and the distributed test are held to it.
type Topology struct {
	// Port serves the public REST and internal gRPC APIs of every
	// workload; MetricsPort the probes and /metrics.
	Port        int `json:"port"`
	MetricsPort int `json:"metricsPort"`
	// Shared are the variables every workload is given.
	Shared    []Variable `json:"shared"`
	Workloads []Workload `json:"workloads"`
	// Variables is every variable the binary reads, so that a manifest
	// setting another is caught.
	Variables []string `json:"variables"`
}

// Workload is one target in its own process.
type Workload struct {
	Name   string `json:"name"`
	Domain string `json:"domain"`
	// Requires are the peers it calls: its egress.
	Requires []string `json:"requires"`
	// Callers may call it: the gateway for its public API, the services
	// its internal APIs admit, or every workload (auth's token exchange
	// and keys). Its ingress.
	Callers []string `json:"callers"`
	// Routes are the public path prefixes it serves behind the gateway.
	Routes []string `json:"routes"`
	// Store is whether it has a database of its own.
	Store bool       `json:"store"`
	Env   []Variable `json:"env"`
}

// Variable is one environment variable a workload is given.
type Variable struct {
	Name string `json:"name"`
	// Peer names the target whose URL the value is.
	Peer string `json:"peer,omitempty"`
	// Secret values come from a Secret, never a ConfigMap.
	Secret bool `json:"secret,omitempty"`
	// Required is a variable the workload will not start, or not run
	// correctly with more than one replica, without.
	Required bool `json:"required,omitempty"`
}

// Ports of every workload in a distributed deployment.
const (
	WorkloadPort        = 8080
	WorkloadMetricsPort = 9090
)

// Distributed is the topology of the registry.
func Distributed() Topology {
	t := Topology{Port: WorkloadPort, MetricsPort: WorkloadMetricsPort, Variables: variables(),
		Shared: []Variable{
			{Name: "REDIS_URL", Secret: true, Required: true},
			{Name: "NATS_URL", Secret: true},
			{Name: "KAFKA_BROKERS"},
			{Name: "REGION"},
			{Name: "LOG_LEVEL"},
			{Name: "DATA_DIR", Required: true},
			{Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Secret: true},
		}}
	callers := map[string][]string{}
	everyone := map[string]bool{}
	for _, m := range Catalogue() {
		for _, policy := range m.Callers {
			for _, names := range policy {
				for _, n := range names {
					if n == "*" {
						everyone[m.Name] = true
					} else if !slices.Contains(callers[m.Name], n) {
						callers[m.Name] = append(callers[m.Name], n)
					}
				}
			}
		}
	}
	for _, target := range Targets() {
		w := Workload{Name: target.Name, Domain: string(target.Domain), Requires: slices.Clone(target.Requires),
			Store: target.Migrate != nil, Routes: routePrefixes(target)}
		switch {
		case target.Name == Gateway:
			w.Callers = []string{}
		case everyone[target.Name]:
			w.Callers = Names()
		default:
			w.Callers = append([]string{Gateway}, callers[target.Name]...)
		}
		slices.Sort(w.Callers)
		w.Callers = slices.Compact(w.Callers)
		w.Env = workloadEnv(target, w)
		t.Workloads = append(t.Workloads, w)
	}
	return t
}

// workloadEnv is what a target alone in its process must be given beyond
// the shared variables: its store, its peers, the auth service that checks
// tokens, its service identity, and its own secrets.
func workloadEnv(target Target, w Workload) []Variable {
	var env []Variable
	if w.Store {
		env = append(env, Variable{Name: "DATABASE_URL", Secret: true, Required: true})
	}
	peers := slices.Clone(target.Requires)
	if target.Name != "auth" && !slices.Contains(peers, "auth") {
		peers = append(peers, "auth")
	}
	slices.Sort(peers)
	for _, p := range peers {
		env = append(env, Variable{Name: ServiceURLVar(p), Peer: p, Required: true})
	}
	if target.Name != Gateway && target.Name != "auth" && len(target.Requires) > 0 {
		env = append(env, Variable{Name: "SERVICE_SECRET", Secret: true, Required: true})
	}
	own := target.Settings()
	if target.Name == Gateway {
		own = config.Settings(&gateway.Config{})
	}
	for _, s := range own {
		if s.Secret {
			env = append(env, Variable{Name: s.Name, Secret: true, Required: sharedByReplicas[s.Name]})
		}
	}
	return env
}

// sharedByReplicas are the secrets whose default, a key file under
// DATA_DIR, holds only while one replica runs: more replicas must share
// them, so a deployment sets them.
var sharedByReplicas = map[string]bool{
	"JWT_SIGNING_KEYS": true, "AUTH_SECRET_KEY": true, "SERVICE_SECRETS": true,
	"PRICING_QUOTE_KEY": true, "DOCUMENTS_KEY_URL": true, "DOCUMENTS_BUCKET_URL": true, "PAYOUTS_KEY_URL": true,
}

// routePrefixes are the /api/v1/<resource> prefixes of a target's public
// paths, and its shorter public paths whole.
func routePrefixes(t Target) []string {
	out := []string{}
	if t.Routes == nil {
		return out
	}
	for path := range t.Spec().Paths {
		// /api/v1/<resource>, or a shorter path whole (/.well-known/jwks.json).
		parts := strings.SplitN(path, "/", 5)
		p := strings.Join(parts[:min(len(parts), 4)], "/")
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// variables is every variable the binary reads.
func variables() []string {
	settings := append(config.Settings(&Platform{}), config.Settings(&gateway.Config{})...)
	for _, m := range Catalogue() {
		settings = append(settings, m.Settings()...)
	}
	var out []string
	for _, s := range settings {
		out = append(out, s.Name)
	}
	for _, name := range Names() {
		out = append(out, DatabaseURLVar(name), ServiceURLVar(name))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TopologyDocument is the topology as `secondopinion topology` prints it.
func TopologyDocument() ([]byte, error) {
	b, err := json.MarshalIndent(Distributed(), "", "  ")
	return append(b, '\n'), err
}
