package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/httpapi"
)

// Title and Version name the published document.
const (
	Title   = "Second Opinion API"
	Version = "1.0.0"
)

// edgeErrors are the answers the gateway itself may give on any routed
// operation: its upstream answered wrongly, is down or unreachable, or
// timed out.
var edgeErrors = []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// Merge builds the published document from the upstreams' specs: their
// operations, each with the gateway's own error answers and a security
// requirement that matches its policy (none on a public one), their
// schemas, and the servers and security scheme a client generator needs.
// Schema names are the services' contract with client generators: two
// services naming different schemas alike is a configuration error, not
// something to rename silently.
func Merge(ups []Upstream) ([]byte, error) {
	paths, schemas, schemes := map[string]any{}, map[string]any{}, map[string]any{}
	tags := map[string]string{}
	ups = slices.Clone(ups)
	slices.SortFunc(ups, func(a, b Upstream) int { return strings.Compare(a.Target, b.Target) })
	for _, u := range ups {
		doc, err := asMap(u.Spec)
		if err != nil {
			return nil, fmt.Errorf("spec of %s: %w", u.Target, err)
		}
		for name, s := range dig(doc, "components", "schemas") {
			if have, ok := schemas[name]; ok && !reflect.DeepEqual(have, s) {
				return nil, fmt.Errorf("spec of %s: schema %s differs from another service's of the same name: name one of them after what it holds", u.Target, name)
			}
			schemas[name] = s
		}
		for name, s := range dig(doc, "components", "securitySchemes") {
			schemes[name] = s
		}
		for path, v := range dig(doc, "paths") {
			item, _ := v.(map[string]any)
			merged, _ := paths[path].(map[string]any)
			if merged == nil {
				merged = map[string]any{}
				paths[path] = merged
			}
			for method, o := range item {
				op, ok := o.(map[string]any)
				if !ok {
					continue
				}
				if _, dup := merged[method]; dup {
					return nil, fmt.Errorf("spec of %s: %s %s is described by another upstream too", u.Target, strings.ToUpper(method), path)
				}
				edge(op)
				opTags, _ := op["tags"].([]any)
				for _, t := range opTags {
					tags[t.(string)] = u.Target
				}
				merged[method] = op
			}
		}
	}
	var tagList []any
	for _, name := range sortedKeys(tags) {
		tagList = append(tagList, map[string]any{"name": name, "description": "Served by the " + tags[name] + " service."})
	}
	return json.Marshal(map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":   Title,
			"version": Version,
			"description": "The public API of the Second Opinion platform, as routed by its gateway. " +
				"Errors are RFC 9457 problem documents (application/problem+json) naming the field at fault.",
			"license": map[string]any{"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
		},
		"servers":  []any{map[string]any{"url": "/", "description": "the gateway serving this document"}},
		"security": []any{map[string]any{httpapi.SecurityScheme: []any{}}},
		"tags":     tagList,
		"paths":    paths,
		"components": map[string]any{
			"schemas":         schemas,
			"securitySchemes": schemes,
		},
	})
}

// edge adds to op what the gateway in front of it adds: its own error
// answers, and no security requirement on a public operation (the
// document's default asks for the bearer token).
func edge(op map[string]any) {
	if op[authz.Extension] == authz.Public.String() {
		op["security"] = []any{}
	}
	responses, _ := op["responses"].(map[string]any)
	if responses == nil {
		return
	}
	var problem any
	for _, r := range responses {
		if c := dig(r.(map[string]any), "content", "application/problem+json"); c != nil {
			problem = c["schema"]
			break
		}
	}
	for _, status := range edgeErrors {
		code := strconv.Itoa(status)
		if _, ok := responses[code]; ok || problem == nil {
			continue
		}
		responses[code] = map[string]any{
			"description": http.StatusText(status),
			"content":     map[string]any{"application/problem+json": map[string]any{"schema": problem}},
		}
	}
}

func asMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

func dig(doc map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		doc, _ = doc[k].(map[string]any)
	}
	return doc
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Document is the merged OpenAPI document the gateway publishes.
func (g *Gateway) Document() []byte { return g.doc }

func (g *Gateway) serveSpec(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/openapi+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(g.doc)
}
