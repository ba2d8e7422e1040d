package gateway

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/kit/rpc"
)

// The routing table is what the specs declare, nothing more or less: an
// operation a service adds is routed, one it drops is not.
func TestRoutesComeFromTheSpecs(t *testing.T) {
	grown := slices.Concat(declared[patientIdentity], []Route{{"DELETE", "/api/v1/patients/{id}", patientIdentity}})
	shrunk := declared[caseManagement][1:]
	g, err := New(Config{}, []Upstream{
		inProcess(t, patientIdentity, http.NotFoundHandler(), specOf(patientIdentity, grown, caseItem())),
		inProcess(t, caseManagement, http.NotFoundHandler(), specOf(caseManagement, shrunk, caseItem())),
	})
	if err != nil {
		t.Fatal(err)
	}
	routes := g.Routes()
	if len(routes) != len(grown)+len(shrunk) {
		t.Errorf("%d routes, want %d", len(routes), len(grown)+len(shrunk))
	}
	if !slices.Contains(routes, Route{"DELETE", "/api/v1/patients/{id}", patientIdentity}) {
		t.Error("an added operation is not routed")
	}
	if slices.Contains(routes, declared[caseManagement][0]) {
		t.Error("a dropped operation is still routed")
	}
}

func TestTwoServicesCannotDeclareOneOperation(t *testing.T) {
	_, err := New(Config{}, []Upstream{
		inProcess(t, patientIdentity, http.NotFoundHandler(), nil),
		inProcess(t, "impostor", http.NotFoundHandler(), specOf("impostor", declared[patientIdentity][:1], caseItem())),
	})
	if err == nil || !strings.Contains(err.Error(), "POST /api/v1/patients is declared by") {
		t.Fatalf("err %v", err)
	}
	if _, err := New(Config{}, []Upstream{{Target: patientIdentity, URL: rpc.BaseURL, HTTP: http.DefaultClient}}); err == nil {
		t.Fatal("an upstream without a spec was accepted")
	}
}

// BenchmarkGatewayInProcess compares a request through the gateway to an
// in-process upstream (all mode) with calling the upstream handler
// directly; both report requests/s.
func BenchmarkGatewayInProcess(b *testing.B) {
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"0190c1a8-0000-7000-8000-00000000abcd"}`))
	})
	run := func(b *testing.B, h http.Handler) {
		url := serve(b, h)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				res, err := client.Get(url + "/api/v1/patients/0190c1a8-0000-7000-8000-00000000abcd")
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					b.Errorf("status %d", res.StatusCode)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	}
	b.Run("direct", func(b *testing.B) { run(b, up) })
	b.Run("gateway", func(b *testing.B) {
		p := rpc.NewInProcess(up)
		b.Cleanup(func() { p.Close() })
		g, err := New(Config{}, []Upstream{{Target: patientIdentity, URL: rpc.BaseURL, HTTP: p.Client(), Spec: fixtureSpec(patientIdentity)}})
		if err != nil {
			b.Fatal(err)
		}
		run(b, g.Handler())
	})
}
