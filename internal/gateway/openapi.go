package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"go.yaml.in/yaml/v3"

	"github.com/secondopinion/platform/internal/kit/httpapi"
)

const (
	specTTL      = 30 * time.Second
	specTimeout  = 5 * time.Second
	specMaxBytes = 8 << 20
	schemaRef    = "#/components/schemas/"
)

// specCache holds the merged document for a short while, so remote specs
// are fetched lazily and a recovered upstream reappears within specTTL.
type specCache struct {
	ups    []Upstream
	routed map[string]bool // "target METHOD path"

	mu    sync.Mutex
	built time.Time
	doc   []byte
}

func newSpecCache(ups []Upstream) *specCache {
	routed := map[string]bool{}
	for _, rt := range Routes {
		routed[rt.Target+" "+rt.Method+" "+rt.Pattern] = true
	}
	ups = slices.Clone(ups)
	slices.SortFunc(ups, func(a, b Upstream) int { return strings.Compare(a.Target, b.Target) })
	return &specCache{ups: ups, routed: routed}
}

func (c *specCache) get(ctx context.Context) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.doc != nil && time.Since(c.built) < specTTL {
		return c.doc, nil
	}
	doc, err := c.build(ctx)
	if err != nil {
		return nil, err
	}
	c.doc, c.built = doc, time.Now()
	return doc, nil
}

// build merges the routed operations and the schemas of every upstream
// whose spec can be had; an upstream that cannot be reached is left out.
func (c *specCache) build(ctx context.Context) ([]byte, error) {
	paths, schemas := map[string]any{}, map[string]any{}
	for _, u := range c.ups {
		doc, err := load(ctx, u)
		if err != nil {
			slog.WarnContext(ctx, "upstream spec left out of the merged document", "target", u.Target, "err", err)
			continue
		}
		if err := c.merge(paths, schemas, u.Target, doc); err != nil {
			return nil, err
		}
	}
	return json.Marshal(map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Second Opinion API",
			"version":     "1.0.0",
			"description": "The public API of the Second Opinion platform, as routed by its gateway.",
		},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas},
	})
}

func load(ctx context.Context, u Upstream) (map[string]any, error) {
	var raw []byte
	if u.Spec != nil {
		b, err := json.Marshal(u.Spec)
		if err != nil {
			return nil, fmt.Errorf("encode spec: %w", err)
		}
		raw = b
	} else {
		b, err := fetch(ctx, u)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode spec: %w", err)
	}
	return doc, nil
}

func fetch(ctx context.Context, u Upstream) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, specTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(u.URL, "/")+"/openapi.json", nil)
	if err != nil {
		return nil, fmt.Errorf("spec request: %w", err)
	}
	res, err := u.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch spec: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch spec: status %d", res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, specMaxBytes))
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	return b, nil
}

// merge adds target's routed operations and their schemas. A schema whose
// name is taken by different content is renamed with the target's prefix
// (and references to it rewritten), never overwritten; two upstreams
// describing the same operation is a configuration error.
func (c *specCache) merge(paths, schemas map[string]any, target string, doc map[string]any) error {
	own := dig(doc, "components", "schemas")
	rename := map[string]string{}
	// Renaming one schema changes those that refer to it: repeat until
	// every remaining shared name has equal content.
	for changed := true; changed; {
		changed = false
		for name, s := range own {
			if _, done := rename[name]; done {
				continue
			}
			if have, ok := schemas[name]; ok && !reflect.DeepEqual(have, renameRefs(deepCopy(s), rename)) {
				rename[name] = prefix(target) + name
				changed = true
			}
		}
	}
	renameRefs(doc, rename)
	for name, s := range own {
		if n, ok := rename[name]; ok {
			name = n
		}
		if have, ok := schemas[name]; ok && !reflect.DeepEqual(have, s) {
			return fmt.Errorf("merge spec of %s: schema %s clashes even after renaming", target, name)
		}
		schemas[name] = s
	}
	for path, v := range dig(doc, "paths") {
		item, _ := v.(map[string]any)
		for method, op := range item {
			if !c.routed[target+" "+strings.ToUpper(method)+" "+path] {
				continue
			}
			merged, _ := paths[path].(map[string]any)
			if merged == nil {
				merged = map[string]any{}
				paths[path] = merged
			}
			if _, dup := merged[method]; dup {
				return fmt.Errorf("merge spec of %s: %s %s is described by another upstream too", target, method, path)
			}
			merged[method] = op
		}
	}
	return nil
}

func dig(doc map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		doc, _ = doc[k].(map[string]any)
	}
	return doc
}

// prefix turns "case-management" into "CaseManagement".
func prefix(target string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(target, "-") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// renameRefs rewrites schema references in v in place and returns it.
func renameRefs(v any, rename map[string]string) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if ref, ok := x.(string); ok && k == "$ref" && strings.HasPrefix(ref, schemaRef) {
				if n, ok := rename[ref[len(schemaRef):]]; ok {
					v[k] = schemaRef + n
				}
				continue
			}
			renameRefs(x, rename)
		}
	case []any:
		for _, x := range v {
			renameRefs(x, rename)
		}
	}
	return v
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(v))
		for k, x := range v {
			c[k] = deepCopy(x)
		}
		return c
	case []any:
		c := make([]any, len(v))
		for i, x := range v {
			c[i] = deepCopy(x)
		}
		return c
	}
	return v
}

func (g *Gateway) serveSpec(w http.ResponseWriter, r *http.Request) {
	doc, err := g.specs.get(r.Context())
	if err != nil {
		httpapi.WriteProblem(w, r, fmt.Errorf("merged openapi: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/openapi+json")
	w.Header().Set("Cache-Control", "public, max-age=30")
	_, _ = w.Write(doc)
}

// OpenAPI is the merged spec as huma types, e.g. to write it to a file.
func (g *Gateway) OpenAPI() (*huma.OpenAPI, error) {
	doc, err := g.specs.get(context.Background())
	if err != nil {
		return nil, err
	}
	return decodeOpenAPI(doc)
}

// decodeOpenAPI reads a JSON OpenAPI document into huma's types. They
// carry yaml tags only (JSON is YAML), and huma has no decoder of its own:
// its Registry is an interface, and a nullable type is written as
// ["T", "null"], which its Schema.Type string cannot hold — so nullability
// travels through a marker extension and is restored after decoding.
func decodeOpenAPI(doc []byte) (*huma.OpenAPI, error) {
	var generic map[string]any
	if err := json.Unmarshal(doc, &generic); err != nil {
		return nil, fmt.Errorf("decode openapi: %w", err)
	}
	markNullable(generic)
	var d struct {
		OpenAPI    string                    `yaml:"openapi"`
		Info       *huma.Info                `yaml:"info"`
		Paths      map[string]*huma.PathItem `yaml:"paths"`
		Components struct {
			Schemas map[string]*huma.Schema `yaml:"schemas"`
		} `yaml:"components"`
	}
	marked, err := json.Marshal(generic)
	if err != nil {
		return nil, fmt.Errorf("decode openapi: %w", err)
	}
	if err := yaml.Unmarshal(marked, &d); err != nil {
		return nil, fmt.Errorf("decode openapi: %w", err)
	}
	reg := huma.NewMapRegistry(schemaRef, huma.DefaultSchemaNamer)
	maps.Copy(reg.Map(), d.Components.Schemas)
	spec := &huma.OpenAPI{OpenAPI: d.OpenAPI, Info: d.Info, Paths: d.Paths, Components: &huma.Components{Schemas: reg}}
	for _, s := range d.Components.Schemas {
		restoreNullable(s)
	}
	for _, item := range d.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Options, item.Head, item.Patch, item.Trace} {
			restoreOperation(op)
		}
	}
	return spec, nil
}

const nullableMark = "x-gateway-nullable"

// markNullable rewrites {"type": ["T", "null"]} as {"type": "T"} plus the
// marker, everywhere in v.
func markNullable(v any) {
	switch v := v.(type) {
	case map[string]any:
		if t, ok := nullableType(v["type"]); ok {
			v["type"], v[nullableMark] = t, true
		}
		for _, x := range v {
			markNullable(x)
		}
	case []any:
		for _, x := range v {
			markNullable(x)
		}
	}
}

func nullableType(t any) (string, bool) {
	list, ok := t.([]any)
	if !ok || len(list) != 2 {
		return "", false
	}
	for i, x := range list {
		if x == "null" {
			s, ok := list[1-i].(string)
			return s, ok
		}
	}
	return "", false
}

func restoreOperation(op *huma.Operation) {
	if op == nil {
		return
	}
	for _, p := range op.Parameters {
		restoreNullable(p.Schema)
	}
	if op.RequestBody != nil {
		for _, mt := range op.RequestBody.Content {
			restoreNullable(mt.Schema)
		}
	}
	for _, res := range op.Responses {
		for _, mt := range res.Content {
			restoreNullable(mt.Schema)
		}
		for _, h := range res.Headers {
			restoreNullable(h.Schema)
		}
	}
}

func restoreNullable(s *huma.Schema) {
	if s == nil {
		return
	}
	if s.Extensions[nullableMark] == true {
		s.Nullable = true
		delete(s.Extensions, nullableMark)
		if len(s.Extensions) == 0 {
			s.Extensions = nil
		}
	}
	restoreNullable(s.Items)
	restoreNullable(s.Not)
	if ap, ok := s.AdditionalProperties.(*huma.Schema); ok {
		restoreNullable(ap)
	}
	for _, list := range [][]*huma.Schema{s.OneOf, s.AnyOf, s.AllOf, slices.Collect(maps.Values(s.Properties))} {
		for _, x := range list {
			restoreNullable(x)
		}
	}
}

// serveDocs renders /openapi.json with Stoplight Elements from its CDN,
// pinned and integrity-checked as huma does, under a strict CSP.
func serveDocs(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", strings.Join([]string{
		"default-src 'none'",
		"base-uri 'none'",
		"connect-src 'self'",
		"form-action 'none'",
		"frame-ancestors 'none'",
		"sandbox allow-same-origin allow-scripts",
		"script-src https://unpkg.com/@stoplight/elements@9.0.15/web-components.min.js",
		"style-src 'unsafe-inline' https://unpkg.com/@stoplight/elements@9.0.15/styles.min.css",
	}, "; "))
	_, _ = io.WriteString(w, docsPage)
}

const docsPage = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="referrer" content="no-referrer">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Second Opinion API Reference</title>
    <link rel="stylesheet" href="https://unpkg.com/@stoplight/elements@9.0.15/styles.min.css" crossorigin integrity="sha384-iVQBHadsD+eV0M5+ubRCEVXrXEBj+BqcuwjUwPoVJc0Pb1fmrhYSAhL+BFProHdV">
    <script src="https://unpkg.com/@stoplight/elements@9.0.15/web-components.min.js" crossorigin integrity="sha384-xjOcq9PZ/k+pGtPS/xcsCRXGjKKfTlIa4H1IYEnC+97jNa6sAMWTNrV6hY08W3GL"></script>
  </head>
  <body style="height: 100vh;">
    <noscript>The interactive reference needs JavaScript; the raw document is at <a href="/openapi.json">/openapi.json</a>.</noscript>
    <elements-api apiDescriptionUrl="/openapi.json" router="hash" layout="sidebar" tryItCredentialsPolicy="same-origin"></elements-api>
  </body>
</html>
`
