package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

// The benchmark in miniature, so that make test keeps it working: a few
// hundred cases, two queries per scenario, every engine at hand.
func TestShort(t *testing.T) {
	var engines []string
	for _, e := range testkit.Engines(t) {
		engines = append(engines, string(e))
	}
	var out bytes.Buffer
	o := options{cases: 300, queries: 2, engines: strings.Join(engines, ","), url: os.Getenv("TEST_DATABASE_URL")}
	if err := run(context.Background(), o, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, e := range engines {
		for _, sc := range scenarios {
			if !strings.Contains(out.String(), "| "+e+" | "+sc.name+" | ") {
				t.Errorf("no row for %s, %s in\n%s", e, sc.name, out.String())
			}
		}
	}
}
