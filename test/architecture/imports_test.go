// Package architecture holds the platform's import rules (ARCHITECTURE.md
// §7) as a test: the direction of every import in the module is checked
// against them, and a violation fails with the offending import.
package architecture

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/secondopinion/platform/"

// pkg is a package of the module with what its code and its tests import.
type pkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// rule forbids packages matching from to import packages matching to;
// a codeOnly rule holds for a package's code, not its tests.
type rule struct {
	why      string
	from     func(p string) bool
	to       func(p, from string) bool
	codeOnly bool
}

func under(prefix string) func(string) bool {
	return func(p string) bool { return p == module+prefix || strings.HasPrefix(p, module+prefix+"/") }
}

func anyOf(prefixes ...string) func(string, string) bool {
	return func(p, _ string) bool {
		return slices.ContainsFunc(prefixes, func(pre string) bool {
			full := pre
			if !strings.Contains(pre, ".") && !strings.HasPrefix(pre, "net/") && !strings.HasPrefix(pre, "database/") {
				full = module + pre
			}
			return p == full || strings.HasPrefix(p, full+"/")
		})
	}
}

// service is the folder of the service a package belongs to
// (internal/services/<domain>/<target>), or "".
func service(p string) string {
	rest, ok := strings.CutPrefix(p, module+"internal/services/")
	if !ok {
		return ""
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 {
		return ""
	}
	return parts[0] + "/" + parts[1]
}

func layer(name string) func(string) bool {
	return func(p string) bool {
		rest := strings.TrimPrefix(p, module+"internal/services/")
		parts := strings.Split(rest, "/")
		return service(p) != "" && len(parts) >= 3 && parts[2] == name
	}
}

// rules are the house's import rules.
var rules = []rule{
	{"kit knows no domain: it imports no service, client, app, gateway or contract",
		under("internal/kit"), anyOf("internal/services", "internal/clients", "internal/app", "internal/gateway", "api/vocab", "api/events"), false},
	{"services meet only through contracts and clients: no service imports another",
		func(p string) bool { return service(p) != "" },
		func(p, from string) bool { return service(p) != "" && service(p) != service(from) }, false},
	{"the gateway imports no service, client or app",
		under("internal/gateway"), anyOf("internal/services", "internal/clients", "internal/app"), false},
	{"clients are built on the generated contracts, not on a service's packages",
		under("internal/clients"), anyOf("internal/services", "internal/app", "internal/gateway"), false},
	{"contracts import no service, client, app or gateway",
		under("api"), anyOf("internal/services", "internal/clients", "internal/app", "internal/gateway"), false},
	{"domain packages are plain Go: no HTTP, SQL or bus",
		layer("domain"), anyOf("net/http", "database/sql", "github.com/danielgtaylor/huma", "connectrpc.com",
			"github.com/jackc/pgx", "modernc.org/sqlite", "internal/kit/httpapi", "internal/kit/bus", "internal/kit/outbox",
			"internal/kit/sqldb", "internal/kit/rpc", "api/gen"), false},
	{"stores know SQL, not HTTP",
		layer("store"), anyOf("net/http", "github.com/danielgtaylor/huma", "internal/kit/httpapi", "connectrpc.com"), false},
	{"test doubles and helpers (testkit, *test packages) are for tests",
		func(p string) bool { return !strings.HasPrefix(p, module+"bench/") && !testHelper(p) },
		func(p, _ string) bool { return strings.HasPrefix(p, module) && testHelper(p) }, true},
}

// testHelper reports a package that exists for tests: kit/testkit, and
// the doubles named like net/http/httptest.
func testHelper(p string) bool {
	last := p[strings.LastIndexByte(p, '/')+1:]
	return last == "testkit" || strings.HasSuffix(last, "test")
}

// violations lists every import of pkgs that a rule forbids.
func violations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		imports := slices.Concat(p.Imports, p.TestImports, p.XTestImports)
		slices.Sort(imports)
		for _, imp := range slices.Compact(imports) {
			for _, r := range rules {
				if r.codeOnly && !slices.Contains(p.Imports, imp) {
					continue
				}
				if r.from(p.ImportPath) && r.to(imp, p.ImportPath) {
					out = append(out, fmt.Sprintf("%s imports %s: %s",
						strings.TrimPrefix(p.ImportPath, module), strings.TrimPrefix(imp, module), r.why))
				}
			}
		}
	}
	return out
}

func modulePackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json", "./...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func TestImportRules(t *testing.T) {
	for _, v := range violations(modulePackages(t)) {
		t.Error(v)
	}
}

// Each rule catches what it is for, and leaves alone what is allowed.
func TestRulesCatchViolations(t *testing.T) {
	m := func(p string) string { return module + p }
	cases := []struct {
		pkg     pkg
		breaks  bool
		comment string
	}{
		{pkg{ImportPath: m("internal/kit/outbox"), Imports: []string{m("internal/services/platform/audit")}}, true, "kit → service"},
		{pkg{ImportPath: m("internal/kit/httpapi"), TestImports: []string{m("api/events")}}, true, "kit test → contract"},
		{pkg{ImportPath: m("internal/kit/httpapi"), Imports: []string{m("internal/kit/fault")}}, false, "kit → kit"},
		{pkg{ImportPath: m("internal/services/professional/case-assignment/domain"),
			Imports: []string{m("internal/services/patient/case-management/domain")}}, true, "service → another service"},
		{pkg{ImportPath: m("internal/services/professional/case-assignment"),
			Imports: []string{m("internal/services/professional/case-assignment/store")}}, false, "service → its own store"},
		{pkg{ImportPath: m("internal/services/patient/patient-identity"),
			XTestImports: []string{m("internal/services/platform/auth")}}, true, "a service's test → another service"},
		{pkg{ImportPath: m("internal/gateway"), Imports: []string{m("internal/services/platform/auth")}}, true, "gateway → service"},
		{pkg{ImportPath: m("internal/services/patient/case-management/domain"), Imports: []string{"net/http"}}, true, "domain → HTTP"},
		{pkg{ImportPath: m("internal/services/patient/case-management/domain"), Imports: []string{m("internal/kit/bus")}}, true, "domain → bus"},
		{pkg{ImportPath: m("internal/services/patient/case-management/domain"), Imports: []string{m("api/vocab"), m("internal/kit/fault")}}, false, "domain → vocab, fault"},
		{pkg{ImportPath: m("internal/services/patient/case-management/store"), Imports: []string{m("internal/kit/httpapi")}}, true, "store → httpapi"},
		{pkg{ImportPath: m("internal/services/patient/case-management/store"), Imports: []string{"database/sql", m("internal/kit/page")}}, false, "store → sql, page"},
		{pkg{ImportPath: m("internal/clients/auth"), Imports: []string{m("internal/services/platform/auth")}}, true, "client → service"},
		{pkg{ImportPath: m("api/events"), Imports: []string{m("internal/services/platform/audit")}}, true, "contract → service"},
		{pkg{ImportPath: m("internal/services/patient/patient-identity"), Imports: []string{m("internal/clients/auth/authtest")}}, true, "code → test double"},
		{pkg{ImportPath: m("internal/services/patient/patient-identity"), XTestImports: []string{m("internal/clients/auth/authtest"), m("internal/kit/testkit")}}, false, "test → test double"},
		{pkg{ImportPath: m("bench/claims"), Imports: []string{m("internal/kit/testkit")}}, false, "bench tool → testkit"},
	}
	for _, c := range cases {
		got := violations([]pkg{c.pkg})
		if (len(got) > 0) != c.breaks {
			t.Errorf("%s: violations %v, want a violation: %v", c.comment, got, c.breaks)
		}
	}
}
