package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/secondopinion/platform/api/vocab"
)

// Route sends the cases of a type and/or a specialty to an ordered chain
// of providers: the first is asked first, the next only when it failed.
type Route struct {
	CaseType  string          `json:"caseType,omitempty"`  // "" matches any type
	Specialty vocab.Specialty `json:"specialty,omitempty"` // "" matches any specialty
	Chain     []string        `json:"chain"`
}

// DefaultChain is the chain of a request no route matches, when the
// configuration names none: the embedded provider alone.
var DefaultChain = []string{"local"}

// Routing is the routing part of the configuration.
type Routing struct {
	Routes []Route `json:"routes,omitempty"`
	// DefaultChain serves requests no route matches; empty means
	// DefaultChain ("local").
	DefaultChain []string `json:"defaultChain,omitempty"`
	// AllowList names the external providers that may receive data (those
	// under a data-processing agreement). In-process providers need not be
	// listed: their data never leaves the process.
	AllowList []string `json:"allowList,omitempty"`
}

// Validate checks r against the providers there are: every chain is
// non-empty, names known providers once each, and names an external
// provider only if the allow-list has it — a configuration that would
// route data to a provider without an agreement does not start. The
// router still checks the allow-list on every call.
func (r Routing) Validate(providers map[string]ProviderInfo) error {
	var errs []error
	check := func(where string, chain []string) {
		if len(chain) == 0 {
			errs = append(errs, fmt.Errorf("%s: empty chain", where))
		}
		for i, name := range chain {
			info, ok := providers[name]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("%s: unknown provider %q", where, name))
			case slices.Contains(chain[:i], name):
				errs = append(errs, fmt.Errorf("%s: provider %q named twice", where, name))
			case info.External && !slices.Contains(r.AllowList, name):
				errs = append(errs, fmt.Errorf("%s: external provider %q is not on the allow-list", where, name))
			}
		}
	}
	check("default chain", r.defaultChain())
	seen := map[[2]string]bool{}
	for i, rt := range r.Routes {
		where := fmt.Sprintf("route %d (%s)", i+1, rt.key())
		if rt.CaseType == "" && rt.Specialty == "" {
			errs = append(errs, fmt.Errorf("%s: names neither a case type nor a specialty (use the default chain)", where))
		}
		if rt.CaseType != "" && !caseTypePattern.MatchString(rt.CaseType) {
			errs = append(errs, fmt.Errorf("%s: case type must be upper snake case", where))
		}
		if rt.Specialty != "" && !rt.Specialty.Valid() {
			errs = append(errs, fmt.Errorf("%s: unknown specialty", where))
		}
		k := [2]string{rt.CaseType, string(rt.Specialty)}
		if seen[k] {
			errs = append(errs, fmt.Errorf("%s: repeats an earlier route", where))
		}
		seen[k] = true
		check(where, rt.Chain)
	}
	for _, name := range r.AllowList {
		if _, ok := providers[name]; !ok {
			errs = append(errs, fmt.Errorf("allow-list: unknown provider %q", name))
		}
	}
	return errors.Join(errs...)
}

func (r Routing) defaultChain() []string {
	if len(r.DefaultChain) == 0 {
		return DefaultChain
	}
	return r.DefaultChain
}

func (rt Route) key() string {
	ct, sp := rt.CaseType, string(rt.Specialty)
	if ct == "" {
		ct = "*"
	}
	if sp == "" {
		sp = "*"
	}
	return ct + "/" + sp
}

// ChainFor is the chain for a case: that of the most specific matching
// route — type and specialty, then specialty alone, then type alone —
// or the default chain.
func (r Routing) ChainFor(caseType string, specialty vocab.Specialty) []string {
	best, bestScore := r.defaultChain(), 0
	for _, rt := range r.Routes {
		if (rt.CaseType != "" && rt.CaseType != caseType) || (rt.Specialty != "" && rt.Specialty != specialty) {
			continue
		}
		score := 0
		if rt.Specialty != "" {
			score += 2
		}
		if rt.CaseType != "" {
			score++
		}
		if score > bestScore {
			best, bestScore = rt.Chain, score
		}
	}
	return slices.Clone(best)
}

// Step is a provider of a planned chain and whether it may be called.
type Step struct {
	Provider string
	Allowed  bool
}

// Plan is the chain for req with the privacy gate applied: an external
// provider is allowed only when it is on the allow-list; an unknown name
// is never allowed. Failover walks the plan in order and skips the steps
// that are not allowed, so it never leaves the allow-list.
func (r Routing) Plan(req SynthesisRequest, providers map[string]ProviderInfo) []Step {
	chain := r.ChainFor(req.CaseType, req.Specialty)
	steps := make([]Step, len(chain))
	for i, name := range chain {
		info, known := providers[name]
		steps[i] = Step{Provider: name, Allowed: known && (!info.External || slices.Contains(r.AllowList, name))}
	}
	return steps
}

// ParseRoutes reads routes written as in an environment variable:
// entries separated by ";", each KEY=provider,provider,… where KEY is
// CASE_TYPE/SPECIALTY with "*" for any, or a lone specialty or case type:
//
//	ONCOLOGY=anthropic,local; IMAGING_REVIEW/RADIOLOGY=openai,local; SECOND_OPINION/*=openai,local
func ParseRoutes(s string) ([]Route, error) {
	var routes []Route
	for _, entry := range strings.Split(s, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		key, chain, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("route %q: want KEY=provider,…", entry)
		}
		var rt Route
		key = strings.TrimSpace(key)
		if ct, sp, ok := strings.Cut(key, "/"); ok {
			if ct = strings.TrimSpace(ct); ct != "*" {
				rt.CaseType = ct
			}
			if sp = strings.TrimSpace(sp); sp != "*" {
				rt.Specialty = vocab.Specialty(sp)
			}
		} else if vocab.Specialty(key).Valid() {
			rt.Specialty = vocab.Specialty(key)
		} else {
			rt.CaseType = key
		}
		for _, p := range strings.Split(chain, ",") {
			if p = strings.TrimSpace(p); p != "" {
				rt.Chain = append(rt.Chain, p)
			}
		}
		routes = append(routes, rt)
	}
	return routes, nil
}
