package gateway

import (
	"fmt"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// Route sends one method and ServeMux path pattern to a target. Patterns
// use the OpenAPI path syntax ({id}), which the standard mux shares.
type Route struct {
	Method  string
	Pattern string
	Target  string
}

// routesOf derives the routing table from the upstreams' specs: every
// operation a service declares is routed to it, and only those — a route
// is written once, where the service registers it. Two upstreams declaring
// the same operation is a configuration error.
func routesOf(ups []Upstream) ([]Route, error) {
	var out []Route
	owner := map[string]string{}
	for _, u := range ups {
		if u.Spec == nil {
			return nil, fmt.Errorf("upstream %s has no spec to route by", u.Target)
		}
		for path, item := range u.Spec.Paths {
			for method, op := range operations(item) {
				if op == nil {
					continue
				}
				key := method + " " + path
				if other, dup := owner[key]; dup {
					return nil, fmt.Errorf("%s is declared by %s and %s", key, other, u.Target)
				}
				owner[key] = u.Target
				out = append(out, Route{Method: method, Pattern: path, Target: u.Target})
			}
		}
	}
	slices.SortFunc(out, func(a, b Route) int {
		return strings.Compare(a.Pattern+" "+a.Method, b.Pattern+" "+b.Method)
	})
	return out, nil
}

// operations are a path item's operations by method.
func operations(item *huma.PathItem) map[string]*huma.Operation {
	return map[string]*huma.Operation{"GET": item.Get, "PUT": item.Put, "POST": item.Post, "DELETE": item.Delete,
		"PATCH": item.Patch, "HEAD": item.Head, "OPTIONS": item.Options, "TRACE": item.Trace}
}
