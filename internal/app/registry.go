// Package app is the binary's composition root: the registry of every
// target the binary knows (ARCHITECTURE.md §3), and the lifecycle manager
// that opens the stores and the bus of the chosen targets, wires their
// peers (in process or over the network), serves them on one listener and
// shuts them down gracefully.
package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	cases "github.com/secondopinion/platform/internal/services/patient/case-management"
	identity "github.com/secondopinion/platform/internal/services/patient/patient-identity"
	"github.com/secondopinion/platform/internal/services/platform/audit"
	"github.com/secondopinion/platform/internal/services/platform/auth"
	assignment "github.com/secondopinion/platform/internal/services/professional/case-assignment"
	"github.com/secondopinion/platform/internal/services/professional/credentialing"
	proidentity "github.com/secondopinion/platform/internal/services/professional/professional-identity"
	opinion "github.com/secondopinion/platform/internal/services/professional/medical-opinion"
)

// Domain groups targets as the catalogue does.
type Domain string

const (
	Patient      Domain = "patient"
	Professional Domain = "professional"
	AI           Domain = "ai"
	Financial    Domain = "financial"
	Platform     Domain = "platform"
	Edge         Domain = "edge"
)

// Gateway is the edge target's name.
const Gateway = "gateway"

// All selects every implemented target.
const All = "all"

// Target is one entry of the catalogue.
type Target struct {
	Name   string
	Domain Domain
	// Requires are the targets it calls synchronously; each must run in
	// the same process or be reachable at its <TARGET>_SERVICE_URL.
	Requires []string
	// Consumer targets subscribe to the bus as the group of their name.
	Consumer bool

	build   func(*App, service.Deps) (service.Service, error) // nil: not a service built by the app
	migrate func(context.Context, *sqldb.DB) error            // nil: no store
}

// Implemented reports whether the binary can serve the target yet.
func (t Target) Implemented() bool { return t.build != nil || t.Name == Gateway }

// Catalogue returns every target in the catalogue's order.
func Catalogue() []Target {
	return []Target{
		{Name: "patient-identity", Domain: Patient, Requires: []string{"auth"}, build: newIdentity, migrate: identity.Migrate},
		{Name: "case-management", Domain: Patient, Requires: []string{"patient-identity"}, Consumer: true, build: newCases, migrate: cases.Migrate},
		{Name: "medical-records", Domain: Patient, Requires: []string{"case-management"}},
		{Name: "patient-consent", Domain: Patient},

		{Name: proidentity.Name, Domain: Professional, Requires: []string{"auth"}, Consumer: true, build: newProfessionals, migrate: proidentity.Migrate},
		{Name: credentialing.Name, Domain: Professional, Consumer: true, build: newCredentialing, migrate: credentialing.Migrate},
		{Name: assignment.Name, Domain: Professional, Consumer: true, build: newAssignment, migrate: assignment.Migrate},
		{Name: opinion.Name, Domain: Professional, Requires: []string{"case-management", "professional-identity", "case-assignment"}, Consumer: true, build: newOpinion, migrate: opinion.Migrate},

		{Name: "ai-orchestration", Domain: AI, Requires: []string{"document-analysis", "ai-providers", "medical-records", "patient-consent"}},
		{Name: "document-analysis", Domain: AI, Requires: []string{"ai-providers"}},
		{Name: "ai-providers", Domain: AI},
		{Name: "ai-usage", Domain: AI},

		{Name: "pricing", Domain: Financial},
		{Name: "payments", Domain: Financial, Requires: []string{"pricing", "case-management"}},
		{Name: "invoicing", Domain: Financial},
		{Name: "payouts", Domain: Financial},

		{Name: "auth", Domain: Platform, build: newAuth, migrate: auth.Migrate},
		{Name: "notification", Domain: Platform, Requires: []string{"patient-identity"}},
		{Name: audit.Name, Domain: Platform, Consumer: true, build: newAudit, migrate: audit.Migrate},
		{Name: "search", Domain: Platform},
		{Name: "reporting", Domain: Platform},

		// The gateway routes to every service; only implemented ones must
		// be reachable (see gatewayUpstreams).
		{Name: Gateway, Domain: Edge, Requires: []string{
			"patient-identity", "case-management", "medical-records", "patient-consent",
			"professional-identity", "credentialing", "case-assignment", "medical-opinion",
			"ai-orchestration", "document-analysis", "ai-providers", "ai-usage",
			"pricing", "payments", "invoicing", "payouts",
			"auth", "notification", "audit", "search", "reporting",
		}},
	}
}

// Names lists every target name in catalogue order.
func Names() []string {
	var names []string
	for _, t := range Catalogue() {
		names = append(names, t.Name)
	}
	return names
}

func implementedNames() []string {
	var names []string
	for _, t := range Catalogue() {
		if t.Implemented() {
			names = append(names, t.Name)
		}
	}
	return names
}

// Lookup finds a target by name, implemented or not.
func Lookup(name string) (Target, bool) {
	for _, t := range Catalogue() {
		if t.Name == name {
			return t, true
		}
	}
	return Target{}, false
}

// Resolve turns a selection such as ["all"] or ["case-management",
// "patient-identity"] into implemented targets in catalogue order.
func Resolve(names []string) ([]Target, error) {
	want := map[string]bool{}
	for _, raw := range names {
		for n := range strings.SplitSeq(raw, ",") {
			n = strings.TrimSpace(n)
			switch t, ok := Lookup(n); {
			case n == "":
			case n == All:
				for _, i := range implementedNames() {
					want[i] = true
				}
			case !ok:
				return nil, fmt.Errorf("unknown target %q (valid: all, %s)", n, strings.Join(Names(), ", "))
			case !t.Implemented():
				return nil, fmt.Errorf("target %q is not implemented yet (implemented: %s)", n, strings.Join(implementedNames(), ", "))
			default:
				want[n] = true
			}
		}
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("no target given (valid: all, %s)", strings.Join(Names(), ", "))
	}
	var out []Target
	for _, t := range Catalogue() {
		if want[t.Name] {
			out = append(out, t)
		}
	}
	return out, nil
}

// byDependency orders targets so that every target comes after the local
// targets it requires: a service's in-process peers exist when it is built.
func byDependency(ts []Target) []Target {
	local := map[string]Target{}
	for _, t := range ts {
		local[t.Name] = t
	}
	var out []Target
	done := map[string]bool{}
	var visit func(t Target)
	visit = func(t Target) {
		if done[t.Name] {
			return
		}
		done[t.Name] = true
		for _, r := range t.Requires {
			if dep, ok := local[r]; ok {
				visit(dep)
			}
		}
		out = append(out, t)
	}
	for _, t := range ts {
		visit(t)
	}
	return out
}
