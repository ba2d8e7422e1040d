// Package fuzz_test fuzzes every operation of the merged OpenAPI document
// on the whole platform, booted once per engine (SQLite, and PostgreSQL
// when TEST_DATABASE_URL is set). Each input is one request — method,
// target, header lines, body — sent as an anonymous caller and as a
// patient, a professional and an admin, each holding a real session. The
// seed corpus is derived from the document: for every operation a valid
// request, with real resources in its path, and variants that each break
// one thing — a path or query parameter, a header, the content type, the
// body as a whole or one of its properties — with NUL, invalid UTF-8,
// lone surrogates, huge numbers and strings, deep nesting, wrong types,
// duplicate keys, trailing garbage. The platform must never answer 5xx
// (no dependency is down here), must answer every 4xx with a problem
// document, must answer within a deadline, and must stay ready.
//
// `go test ./test/fuzz` runs the seed corpus (and testdata/fuzz/FuzzAPI,
// where the fuzzer writes the inputs that failed); `make fuzz` explores
// further.
package fuzz_test

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/secondopinion/platform/internal/app"
	"github.com/secondopinion/platform/internal/kit/testkit"
)

// exhaustive (FUZZ_EXHAUSTIVE=1, make fuzz) sends every seed variant as
// every caller to every engine. Otherwise the corpus takes fewer variants
// in each place and each seed is sent as one caller to one engine, in
// turn by its fingerprint, so that `make test` stays quick while every
// operation still meets every caller and both engines across its seeds.
var exhaustive = os.Getenv("FUZZ_EXHAUSTIVE") == "1"

func FuzzAPI(f *testing.F) {
	// The platform's error logs explain a 5xx; the rest would drown them.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	doc, err := app.OpenAPIDocument()
	if err != nil {
		f.Fatal(err)
	}
	seeds, ops, err := corpus(doc, exhaustive)
	if err != nil {
		f.Fatal(err)
	}
	classes := map[[32]byte]string{}
	for _, s := range seeds {
		k := fingerprint(s.input)
		if _, dup := classes[k]; dup {
			continue
		}
		classes[k] = s.class
		f.Add(s.method, s.target, s.headers, s.body)
	}
	var platforms []*platform
	for _, e := range testkit.Engines(f) {
		platforms = append(platforms, boot(f, e))
	}
	f.Fuzz(func(t *testing.T, method, target, headers string, body []byte) {
		in := input{method, target, headers, body}
		class, ok := classes[fingerprint(in)]
		if !ok {
			class = "mutated"
		}
		// The engines' platforms are independent: they take the input
		// side by side — or, for a quick run, one in turn.
		targets := platforms
		if !exhaustive {
			i := int(fingerprint(in)[1]) % len(platforms)
			targets = platforms[i : i+1]
		}
		var wg sync.WaitGroup
		for _, p := range targets {
			wg.Go(func() { p.exercise(t, ops, in, class) })
		}
		wg.Wait()
	})
}

// exercise sends in as each caller — once only when it brings its own
// Authorization — judges every answer, and checks that the platform is
// still ready. It runs beside the other engine's: it fails t with Errorf
// only.
func (p *platform) exercise(t *testing.T, ops []string, in input, class string) {
	callers := p.callers
	switch {
	case ownAuthorization(in.headers):
		callers = callers[:1]
	case !exhaustive:
		k := fingerprint(in)
		i := int(k[0]) % len(callers)
		callers = callers[i : i+1]
	}
	method := sanitizeMethod(in.method)
	for _, c := range callers {
		id, err := p.identity(t.Context(), c, in.target)
		if err != nil {
			t.Errorf("%s: %v", p.engine, err)
			return
		}
		token := ""
		if id != nil {
			token = id.access
		}
		a, err := p.send(t.Context(), in, token)
		where := fmt.Sprintf("%s as %s: %s [%s]", p.engine, c, operationOf(ops, method, in.target), class)
		if err != nil {
			t.Errorf("%s: %s\n\t%s", where, noAnswer(err), describe(in))
			continue
		}
		if v := verdict(method, a); v != "" {
			t.Errorf("%s: %s: %d %s\n\t%s", where, v, a.status, clip(string(a.body), 400), describe(in))
		}
		if a.status == http.StatusUnauthorized && id != nil {
			p.keep(t, c, id)
		}
	}
	p.ready(t)
}

func ownAuthorization(headers string) bool {
	for line := range strings.SplitSeq(headers, "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Authorization") {
			return true
		}
	}
	return false
}

func fingerprint(in input) [32]byte {
	h := sha256.New()
	for _, s := range []string{in.method, in.target, in.headers} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	h.Write(in.body)
	var k [32]byte
	h.Sum(k[:0])
	return k
}
