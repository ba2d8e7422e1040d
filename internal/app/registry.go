// Package app is the binary's composition root: the registry of every
// target the binary knows (ARCHITECTURE.md §3) — each service's own
// descriptor, listed here in one place — and the lifecycle manager that
// opens the stores and the bus of the chosen targets, wires their peers (in
// process or over the network), serves them on one listener and shuts them
// down gracefully.
package app

import (
	"fmt"
	"slices"
	"strings"

	"github.com/secondopinion/platform/internal/kit/service"
	aiorchestration "github.com/secondopinion/platform/internal/services/ai/ai-orchestration"
	aiproviders "github.com/secondopinion/platform/internal/services/ai/ai-providers"
	aiusage "github.com/secondopinion/platform/internal/services/ai/ai-usage"
	documentanalysis "github.com/secondopinion/platform/internal/services/ai/document-analysis"
	"github.com/secondopinion/platform/internal/services/financial/invoicing"
	"github.com/secondopinion/platform/internal/services/financial/payments"
	"github.com/secondopinion/platform/internal/services/financial/payouts"
	"github.com/secondopinion/platform/internal/services/financial/pricing"
	casemanagement "github.com/secondopinion/platform/internal/services/patient/case-management"
	medicalrecords "github.com/secondopinion/platform/internal/services/patient/medical-records"
	patientconsent "github.com/secondopinion/platform/internal/services/patient/patient-consent"
	patientidentity "github.com/secondopinion/platform/internal/services/patient/patient-identity"
	"github.com/secondopinion/platform/internal/services/platform/audit"
	"github.com/secondopinion/platform/internal/services/platform/auth"
	"github.com/secondopinion/platform/internal/services/platform/notification"
	"github.com/secondopinion/platform/internal/services/platform/reporting"
	"github.com/secondopinion/platform/internal/services/platform/search"
	caseassignment "github.com/secondopinion/platform/internal/services/professional/case-assignment"
	"github.com/secondopinion/platform/internal/services/professional/credentialing"
	medicalopinion "github.com/secondopinion/platform/internal/services/professional/medical-opinion"
	professionalidentity "github.com/secondopinion/platform/internal/services/professional/professional-identity"
)

// Gateway is the edge target's name.
const Gateway = "gateway"

// All selects every target.
const All = "all"

// Catalogue is every service of the platform in the catalogue's order,
// each its own package's Module. Adding a service is its folder plus its
// line here.
func Catalogue() []service.Module {
	return []service.Module{
		patientidentity.Module,
		casemanagement.Module,
		medicalrecords.Module,
		patientconsent.Module,

		professionalidentity.Module,
		credentialing.Module,
		caseassignment.Module,
		medicalopinion.Module,

		aiorchestration.Module,
		documentanalysis.Module,
		aiproviders.Module,
		aiusage.Module,

		pricing.Module,
		payments.Module,
		invoicing.Module,
		payouts.Module,

		auth.Module,
		notification.Module,
		audit.Module,
		search.Module,
		reporting.Module,
	}
}

// Target is one entry of the selection: a service's module, or the
// gateway (a Module with Domain Edge and no Build: the app builds it).
type Target = service.Module

// gatewayTarget is the edge: it routes to every service.
func gatewayTarget() Target {
	t := Target{Name: Gateway, Domain: service.Edge, Summary: "the edge: routing, CORS, limits, breakers, the merged API documents"}
	for _, m := range Catalogue() {
		t.Requires = append(t.Requires, m.Name)
	}
	return t
}

// Targets is the catalogue and the gateway.
func Targets() []Target { return append(Catalogue(), gatewayTarget()) }

// Names lists every target name in catalogue order.
func Names() []string {
	var names []string
	for _, t := range Targets() {
		names = append(names, t.Name)
	}
	return names
}

// Lookup finds a target by name.
func Lookup(name string) (Target, bool) {
	i := slices.IndexFunc(Targets(), func(t Target) bool { return t.Name == name })
	if i < 0 {
		return Target{}, false
	}
	return Targets()[i], true
}

// Resolve turns a selection such as ["all"] or ["case-management",
// "patient-identity"] into targets in catalogue order.
func Resolve(names []string) ([]Target, error) {
	want := map[string]bool{}
	for _, raw := range names {
		for n := range strings.SplitSeq(raw, ",") {
			n = strings.TrimSpace(n)
			switch _, ok := Lookup(n); {
			case n == "":
			case n == All:
				for _, i := range Names() {
					want[i] = true
				}
			case !ok:
				return nil, fmt.Errorf("unknown target %q (valid: all, %s)", n, strings.Join(Names(), ", "))
			default:
				want[n] = true
			}
		}
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("no target given (valid: all, %s)", strings.Join(Names(), ", "))
	}
	var out []Target
	for _, t := range Targets() {
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
