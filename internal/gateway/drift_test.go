package gateway

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/rpc"
)

// declared are the operations each service declares in its spec, as
// agreed in the contracts — written out independently of Routes so the
// two lists check each other. When a service gains an operation, its spec
// (and this list) changes and the routing table must follow.
var declared = map[string][]Route{
	patientIdentity: {
		{"POST", "/api/v1/patients", patientIdentity},
		{"GET", "/api/v1/patients/me", patientIdentity},
		{"GET", "/api/v1/patients/{id}", patientIdentity},
		{"PATCH", "/api/v1/patients/{id}", patientIdentity},
	},
	caseManagement: {
		{"POST", "/api/v1/cases", caseManagement},
		{"GET", "/api/v1/cases", caseManagement},
		{"GET", "/api/v1/cases/{id}", caseManagement},
		{"GET", "/api/v1/cases/{caseNumber}/status", caseManagement},
		{"POST", "/api/v1/cases/{id}/submit", caseManagement},
		{"POST", "/api/v1/cases/{id}/cancel", caseManagement},
	},
	auditTrail: {
		{"GET", "/api/v1/audit", auditTrail},
		{"GET", "/api/v1/audit/verify", auditTrail},
		{"GET", "/api/v1/patients/{id}/access-log", auditTrail},
	},
	authService: {
		{"POST", "/api/v1/auth/login", authService},
		{"POST", "/api/v1/auth/2fa/verify", authService},
		{"POST", "/api/v1/auth/refresh", authService},
		{"POST", "/api/v1/auth/logout", authService},
		{"POST", "/api/v1/auth/password-reset", authService},
		{"POST", "/api/v1/auth/password-reset/confirm", authService},
		{"POST", "/api/v1/auth/2fa/totp", authService},
		{"POST", "/api/v1/auth/2fa/totp/confirm", authService},
		{"POST", "/api/v1/auth/2fa/method", authService},
		{"POST", "/api/v1/auth/2fa/recovery-codes", authService},
		{"POST", "/api/v1/professionals/auth", authService},
		{"GET", "/.well-known/jwks.json", authService},
	},
	professionals: {
		{"POST", "/api/v1/professionals", professionals},
		{"GET", "/api/v1/professionals/{id}", professionals},
		{"PATCH", "/api/v1/professionals/{id}", professionals},
	},
	credentials: {
		{"POST", "/api/v1/professionals/{id}/credentials", credentials},
		{"GET", "/api/v1/professionals/{id}/credentials", credentials},
		{"POST", "/api/v1/credentials/{id}/verify", credentials},
		{"POST", "/api/v1/credentials/{id}/reject", credentials},
		{"POST", "/api/v1/professionals/{id}/level", credentials},
		{"GET", "/api/v1/professionals/{id}/standing", credentials},
	},
	assignments: {
		{"GET", "/api/v1/assignments", assignments},
		{"GET", "/api/v1/assignments/available/{professionalId}", assignments},
		{"POST", "/api/v1/assignments/claim/{caseId}", assignments},
		{"POST", "/api/v1/assignments/release/{assignmentId}", assignments},
	},
	opinions: {
		{"PUT", "/api/v1/cases/{id}/opinion", opinions},
		{"GET", "/api/v1/cases/{id}/opinion", opinions},
		{"POST", "/api/v1/cases/{id}/opinion/submit", opinions},
		{"POST", "/api/v1/cases/{id}/opinion/questions", opinions},
		{"GET", "/api/v1/opinions/awaiting-review", opinions},
		{"GET", "/api/v1/opinions/{id}", opinions},
		{"POST", "/api/v1/opinions/{id}/review", opinions},
		{"GET", "/api/v1/opinions/{id}/report", opinions},
		{"POST", "/api/v1/opinions/{id}/questions/{questionId}/answer", opinions},
	},
}

// drift lists the operations of g's in-process upstream specs the table
// does not route, and the routes of those targets no spec describes.
func drift(g *Gateway) (unrouted, undescribed []string) {
	table := map[string]bool{}
	for _, rt := range Routes {
		table[rt.Target+" "+rt.Method+" "+rt.Pattern] = true
	}
	described := map[string]bool{}
	for _, u := range g.ups {
		for path, item := range u.Spec.Paths {
			for method, op := range map[string]*huma.Operation{"GET": item.Get, "PUT": item.Put, "POST": item.Post, "DELETE": item.Delete,
				"PATCH": item.Patch, "HEAD": item.Head, "OPTIONS": item.Options, "TRACE": item.Trace} {
				if op == nil {
					continue
				}
				key := u.Target + " " + method + " " + path
				described[key] = true
				if !table[key] {
					unrouted = append(unrouted, key)
				}
			}
		}
	}
	for _, rt := range Routes {
		key := rt.Target + " " + rt.Method + " " + rt.Pattern
		if !described[key] && slices.ContainsFunc(g.ups, func(u Upstream) bool { return u.Target == rt.Target }) {
			undescribed = append(undescribed, key)
		}
	}
	slices.Sort(unrouted)
	slices.Sort(undescribed)
	return unrouted, undescribed
}

func gatewayWith(t *testing.T, specs map[string][]Route) *Gateway {
	var ups []Upstream
	for target, ops := range specs {
		ups = append(ups, inProcess(t, target, http.NotFoundHandler(), specOf(target, ops, caseItem())))
	}
	g, err := New(Config{}, ups)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestRoutingTableMatchesTheSpecs(t *testing.T) {
	unrouted, undescribed := drift(gatewayWith(t, declared))
	if len(unrouted) > 0 || len(undescribed) > 0 {
		t.Fatalf("routing table drifted from the specs:\n  not routed: %s\n  routed but in no spec: %s",
			strings.Join(unrouted, ", "), strings.Join(undescribed, ", "))
	}
}

func TestDriftGuardCatchesBothDirections(t *testing.T) {
	grown := slices.Concat(declared[patientIdentity], []Route{{"DELETE", "/api/v1/patients/{id}", patientIdentity}})
	shrunk := declared[caseManagement][1:]
	unrouted, undescribed := drift(gatewayWith(t, map[string][]Route{patientIdentity: grown, caseManagement: shrunk}))
	if !slices.Equal(unrouted, []string{"patient-identity DELETE /api/v1/patients/{id}"}) ||
		!slices.Equal(undescribed, []string{"case-management POST /api/v1/cases"}) {
		t.Fatalf("unrouted %v, undescribed %v", unrouted, undescribed)
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
		g, err := New(Config{}, []Upstream{{Target: patientIdentity, URL: rpc.BaseURL, HTTP: p.Client()}})
		if err != nil {
			b.Fatal(err)
		}
		run(b, g.Handler())
	})
}
