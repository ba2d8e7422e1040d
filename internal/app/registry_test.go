package app

import (
	"encoding/json"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/kit/service"
)

func TestCatalogue(t *testing.T) {
	cat := Targets()
	if len(cat) != 22 {
		t.Fatalf("%d targets, want 21 services and the gateway", len(cat))
	}
	domains := []service.Domain{service.Patient, service.Professional, service.AI, service.Financial, service.Platform, service.Edge}
	seen := map[string]bool{}
	for _, tg := range cat {
		if seen[tg.Name] {
			t.Errorf("%s listed twice", tg.Name)
		}
		seen[tg.Name] = true
		if !slices.Contains(domains, tg.Domain) {
			t.Errorf("%s: unknown domain %q", tg.Name, tg.Domain)
		}
		if tg.Name != Gateway && tg.Migrate == nil {
			t.Errorf("%s has no migrations", tg.Name)
		}
	}
	for _, tg := range cat {
		for _, r := range tg.Requires {
			if !seen[r] || r == tg.Name || r == Gateway {
				t.Errorf("%s requires %q, which is not a service of the catalogue", tg.Name, r)
			}
		}
	}
	gw, _ := Lookup(Gateway)
	if len(gw.Requires) != 21 {
		t.Errorf("the gateway routes to %d services, want 21", len(gw.Requires))
	}
}

func names(ts []Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func TestResolve(t *testing.T) {
	ts, err := Resolve([]string{"all"})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(ts); !slices.Equal(got, []string{"patient-identity", "case-management", "medical-records", "patient-consent",
		"professional-identity", "credentialing", "case-assignment", "medical-opinion", "ai-orchestration", "document-analysis", "ai-providers", "ai-usage", "pricing", "payments", "invoicing", "payouts", "auth", "notification", "audit", "search", "reporting", "gateway"}) {
		t.Fatalf("all = %v", got)
	}
	ts, err = Resolve([]string{"case-management, patient-identity", "case-management"})
	if err != nil || !slices.Equal(names(ts), []string{"patient-identity", "case-management"}) {
		t.Fatalf("list = %v, %v", names(ts), err)
	}
}

func TestResolveErrors(t *testing.T) {
	_, err := Resolve([]string{"patient-identity,billing"})
	if err == nil || !strings.Contains(err.Error(), `unknown target "billing"`) || !strings.Contains(err.Error(), "reporting") {
		t.Fatalf("unknown: %v", err)
	}
	if _, err = Resolve([]string{" "}); err == nil {
		t.Fatal("an empty selection was accepted")
	}
}

func TestByDependency(t *testing.T) {
	ts, err := Resolve([]string{"all"})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(ts)
	got := names(byDependency(ts))
	// Services that require each other (case-management, medical-records
	// and patient-identity, which gathers the export from both): the one
	// visited first is built last, and the others are handed it as a peer
	// before it exists (App.inProcess finds its handler per request).
	if !slices.Equal(got, []string{"professional-identity", "notification", "auth", "patient-consent", "case-assignment",
		"medical-records", "case-management", "medical-opinion", "audit", "patient-identity", "credentialing", "document-analysis",
		"ai-providers", "ai-orchestration", "ai-usage", "pricing", "payments", "invoicing", "payouts", "search", "reporting", "gateway"}) {
		t.Fatalf("order = %v", got)
	}
}

// A newcomer finds a service's folder from its target name: the package
// of every module is internal/services/<domain>/<target>.
func TestServiceFoldersAreTheirTargetNames(t *testing.T) {
	for _, m := range Catalogue() {
		// Routes is a function of the service's own package.
		fn := runtime.FuncForPC(reflect.ValueOf(m.Routes).Pointer()).Name()
		slash := strings.LastIndexByte(fn, '/')
		pkg := fn[:slash+strings.IndexByte(fn[slash:], '.')]
		want := "github.com/secondopinion/platform/internal/services/" + string(m.Domain) + "/" + m.Name
		if pkg != want {
			t.Errorf("%s lives in %s, want %s", m.Name, pkg, want)
		}
	}
}

// A service's spec is the same whether the binary builds it from the
// module (the gateway's table for a remote service, the published
// document) or from the running service.
func TestModuleSpecsAreTheRunningServices(t *testing.T) {
	a := start(t, testConfig(t, nil), All)
	for _, m := range Catalogue() {
		static, err := json.Marshal(m.Spec())
		if err != nil {
			t.Fatal(err)
		}
		running, err := json.Marshal(a.OpenAPI(m.Name))
		if err != nil {
			t.Fatal(err)
		}
		if string(static) != string(running) {
			t.Errorf("%s: the module's spec differs from the running service's", m.Name)
		}
	}
	doc, err := OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	if code, served := get(t, a.base+"/openapi.json"); code != 200 || served != string(doc) {
		t.Errorf("the gateway serves another document than the published one (%d)", code)
	}
	events, err := AsyncAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	if code, served := get(t, a.base+"/asyncapi.json"); code != 200 || served != string(events) {
		t.Errorf("/asyncapi.json is not the published events document (%d)", code)
	}
}

// The internal APIs' policies and the registry's Requires say the same:
// a service admitted as a caller calls, and a service that calls is
// admitted, so the mesh's policies derived from them (Distributed) are
// neither wider nor narrower than the calls.
func TestCallersAndRequiresAgree(t *testing.T) {
	topo := Distributed()
	byName := map[string]Workload{}
	for _, w := range topo.Workloads {
		byName[w.Name] = w
	}
	everyone := len(Names())
	for _, w := range topo.Workloads {
		for _, r := range w.Requires {
			if w.Name != Gateway && !slices.Contains(byName[r].Callers, w.Name) {
				t.Errorf("%s requires %s, whose internal APIs do not admit it", w.Name, r)
			}
		}
		if len(w.Callers) == everyone {
			continue
		}
		for _, c := range w.Callers {
			if c != Gateway && !slices.Contains(byName[c].Requires, w.Name) {
				t.Errorf("%s admits %s, which does not require it", w.Name, c)
			}
		}
	}
}
