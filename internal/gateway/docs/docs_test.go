package docs

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// pinned is the embedded manifest, as Handler loads it.
func pinned(t *testing.T) *manifest {
	t.Helper()
	m, err := load()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// newHandler is Handler's result, which must be no error.
func newHandler(t *testing.T, prefix, specURL string) *handler {
	t.Helper()
	h, err := Handler(prefix, specURL)
	if err != nil {
		t.Fatal(err)
	}
	return h.(*handler)
}

// mounted is the handler wired as the package comment says.
func mounted(t *testing.T) http.Handler {
	t.Helper()
	h := newHandler(t, "/docs", "/openapi.json")
	mux := http.NewServeMux()
	mux.Handle("GET /docs", h)
	mux.Handle("GET /docs/assets/", h)
	return mux
}

func get(t *testing.T, h http.Handler, target string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var refs = regexp.MustCompile(`(?:src|href)="([^"]*)"`)

// referenced lists the src and href values of the page.
func referenced(page []byte) []string {
	var out []string
	for _, m := range refs.FindAllSubmatch(page, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

func TestPageIsSameOriginOnly(t *testing.T) {
	version := pinned(t).version
	res := get(t, mounted(t), "/docs")
	page := body(t, res)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	policy := res.Header.Get("Content-Security-Policy")
	for _, url := range []string{"http://", "https://"} {
		if bytes.Contains(page, []byte(url)) {
			t.Errorf("the page holds %s", url)
		}
		if strings.Contains(policy, url) {
			t.Errorf("the CSP holds %s", url)
		}
	}
	for _, ref := range referenced(page) {
		if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
			t.Errorf("reference %q is not a path on this origin", ref)
		}
	}
	for _, want := range []string{
		`<meta name="referrer" content="no-referrer">`,
		`<noscript>`, `<a href="/openapi.json">`,
		`apiDescriptionUrl="/openapi.json"`,
		`<link rel="stylesheet" href="/docs/assets/` + version + `/styles.min.css">`,
		`<script src="/docs/assets/` + version + `/web-components.min.js"></script>`,
	} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("page lacks %s", want)
		}
	}
	if got := res.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q", got)
	}
	if got := res.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control %q", got)
	}
}

func TestCSP(t *testing.T) {
	policy := get(t, mounted(t), "/docs").Header.Get("Content-Security-Policy")
	directives := map[string]string{}
	for d := range strings.SplitSeq(policy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		if _, dup := directives[name]; dup {
			t.Errorf("%s given twice", name)
		}
		directives[name] = value
	}
	want := map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self'",
		"style-src-elem":  "'self' 'unsafe-inline'",
		"style-src-attr":  "'none'",
		"style-src":       "'self' 'unsafe-inline'",
		"connect-src":     "'self'",
		"base-uri":        "'none'",
		"form-action":     "'none'",
		"frame-ancestors": "'none'",
		"sandbox":         "allow-same-origin allow-scripts",
	}
	for name, value := range want {
		if directives[name] != value {
			t.Errorf("%s = %q, want %q", name, directives[name], value)
		}
	}
	for name := range directives {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected directive %s", name)
		}
	}
	for _, bad := range []string{"*", "data:", "blob:", "'unsafe-eval'", "http", "//"} {
		if strings.Contains(policy, bad) {
			t.Errorf("policy holds %s: %s", bad, policy)
		}
	}
}

func TestReferencedAssetsAreServed(t *testing.T) {
	version := pinned(t).version
	h := mounted(t)
	page := body(t, get(t, h, "/docs"))
	wantType := map[string]string{
		".js":  "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8",
	}
	n := 0
	for _, ref := range referenced(page) {
		if ref == "/openapi.json" {
			continue
		}
		n++
		res := get(t, h, ref)
		b := body(t, res)
		name := strings.TrimPrefix(ref, "/docs/assets/"+version+"/")
		ext := name[strings.LastIndex(name, "."):]
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != wantType[ext] {
			t.Errorf("%s: status %d, type %q", ref, res.StatusCode, res.Header.Get("Content-Type"))
			continue
		}
		embedded, err := assetFS.ReadFile("assets/" + name)
		if err != nil || !bytes.Equal(b, embedded) {
			t.Errorf("%s: not the embedded %s (%v)", ref, name, err)
		}
		if got := res.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", ref, got)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("ETag") == "" {
			t.Errorf("%s: headers %v", ref, res.Header)
		}
	}
	if n != 2 {
		t.Errorf("the page references %d assets, want the script and the stylesheet", n)
	}
	for _, name := range []string{"LICENSE", "web-components.min.js.LICENSE.txt"} {
		res := get(t, h, "/docs/assets/"+version+"/"+name)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("%s: status %d, type %q", name, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
}

// TestAssetsMatchVERSION reads assets/ and VERSION from disk, apart from
// load's parsing, and checks every file against its recorded SHA-256 and
// what a handler serves.
func TestAssetsMatchVERSION(t *testing.T) {
	m := newHandler(t, "/docs", "/openapi.json").m
	manifest, err := os.ReadFile("assets/VERSION")
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]string{}
	fields := map[string]string{}
	line := regexp.MustCompile(`^([0-9a-f]{64})  (\S+)$`)
	for l := range strings.Lines(string(manifest)) {
		l = strings.TrimSuffix(l, "\n")
		if m := line.FindStringSubmatch(l); m != nil {
			recorded[m[2]] = m[1]
		} else if k, v, ok := strings.Cut(l, ": "); ok && !strings.HasPrefix(l, "#") {
			fields[k] = v
		} else if !strings.HasPrefix(l, "#") {
			t.Errorf("VERSION line %q", l)
		}
	}
	if fields["package"] != "@stoplight/elements" || fields["version"] != m.version || m.pkg != fields["package"] ||
		!strings.HasPrefix(fields["integrity"], "sha512-") {
		t.Errorf("VERSION fields %v; parsed %s@%s", fields, m.pkg, m.version)
	}
	entries, err := os.ReadDir("assets")
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, e := range entries {
		if e.Name() != "VERSION" {
			onDisk = append(onDisk, e.Name())
		}
	}
	var listed []string
	for name := range recorded {
		listed = append(listed, name)
	}
	slices.Sort(listed)
	if !slices.Equal(onDisk, listed) {
		t.Errorf("assets/ holds %v, VERSION lists %v", onDisk, listed)
	}
	for name, want := range recorded {
		embedded, err := assetFS.ReadFile("assets/" + name)
		if err != nil {
			t.Errorf("%s not embedded: %v", name, err)
			continue
		}
		sum := sha256.Sum256(embedded)
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: SHA-256 %s, VERSION records %s", name, got, want)
		}
		if m.files[name] == nil || m.files[name].sha256 != want {
			t.Errorf("%s: not served as recorded", name)
		}
	}
	if len(m.files) != len(recorded) {
		t.Errorf("serving %d files, VERSION lists %d", len(m.files), len(recorded))
	}
}

// TestUpdateScriptPinsVERSION: update.sh re-fetches what VERSION records.
func TestUpdateScriptPinsVERSION(t *testing.T) {
	m := pinned(t)
	script, err := os.ReadFile("update.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\npackage=" + m.pkg + "\n", "\npinned=" + m.version + "\n"} {
		if !bytes.Contains(script, []byte(want)) {
			t.Errorf("update.sh lacks %q", strings.TrimSpace(want))
		}
	}
}

func TestUnknownPathsAre404(t *testing.T) {
	version := pinned(t).version
	h := mounted(t)
	for _, target := range []string{
		"/docs/",
		"/docs/assets/",
		"/docs/assets/" + version + "/",
		"/docs/assets/" + version + "/nope.js",
		"/docs/assets/" + version + "/VERSION",
		"/docs/assets/0.0.0/web-components.min.js",
		"/docs/assets/web-components.min.js",
		"/docs/assets/" + version + "/web-components.min.js/",
	} {
		if res := get(t, h, target); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", target, res.StatusCode)
		}
	}
	// The handler alone, past a mux's path cleaning.
	direct := newHandler(t, "/docs", "/openapi.json")
	for _, target := range []string{"/docs/assets/" + version + "/../VERSION", "/docsx", "/other"} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = target
		rec := httptest.NewRecorder()
		direct.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Errorf("direct %s: %d", target, rec.Code)
		}
	}
}

func TestOnlyGETAndHEAD(t *testing.T) {
	direct := newHandler(t, "/docs", "/openapi.json")
	rec := httptest.NewRecorder()
	direct.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/docs", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %v", rec.Code, rec.Header())
	}
	rec = httptest.NewRecorder()
	mounted(t).ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/docs/assets/"+direct.m.version+"/styles.min.css", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != strconv.Itoa(len(direct.m.files["styles.min.css"].body)) {
		t.Errorf("HEAD: %d, %d bytes, %v", rec.Code, rec.Body.Len(), rec.Header())
	}
}

func TestGzipAndRevalidation(t *testing.T) {
	m := pinned(t)
	h := mounted(t)
	// The stylesheet: gzip under the race detector is slow on the bundle.
	target := "/docs/assets/" + m.version + "/" + styleFile
	plain := get(t, h, target)
	zipped := get(t, h, target, "Accept-Encoding", "br, gzip, deflate")
	if zipped.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(zipped.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("headers %v", zipped.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body(t, zipped)))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, m.files[styleFile].body) {
		t.Fatalf("gzipped body does not inflate to the asset: %v", err)
	}
	if zipped.Header.Get("ETag") == plain.Header.Get("ETag") {
		t.Error("one ETag for both encodings")
	}
	head := func(header ...string) *http.Response {
		req := httptest.NewRequest(http.MethodHead, target, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}
	for ae, want := range map[string]string{
		"": "", "identity": "", "br": "", "gzip;q=0": "", "*;q=0": "", "*, gzip;q=0": "", "gzip;q=bad": "",
		"gzip": "gzip", "GZIP;q=0.5": "gzip", "*": "gzip", "identity, *;q=0.1": "gzip",
	} {
		if got := head("Accept-Encoding", ae).Header.Get("Content-Encoding"); got != want {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", ae, got, want)
		}
	}
	for _, res := range []*http.Response{plain, zipped} {
		ae := res.Header.Get("Content-Encoding")
		if again := head("If-None-Match", res.Header.Get("ETag"), "Accept-Encoding", ae); again.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match (%q): %d", ae, again.StatusCode)
		}
	}
}

func TestHandlerArguments(t *testing.T) {
	h := newHandler(t, "/api/docs", `/openapi.json?x="<`)
	page := body(t, get(t, h, "/api/docs"))
	if !bytes.Contains(page, []byte(`href="/api/docs/assets/`+h.m.version+`/styles.min.css"`)) ||
		!bytes.Contains(page, []byte(`apiDescriptionUrl="/openapi.json?x=&#34;&lt;"`)) {
		t.Errorf("page %s", page)
	}
	for _, args := range [][2]string{
		{"docs", "/openapi.json"},
		{"/docs/", "/openapi.json"},
		{"/", "/openapi.json"},
		{"/docs", "https://example.org/openapi.json"},
		{"/docs", "//example.org/openapi.json"},
		{"/docs", "openapi.json"},
		{"/docs", "/\\example.org"},
		{"/docs", "/openapi.json\r\nX: y"},
	} {
		if h, err := Handler(args[0], args[1]); err == nil || h != nil {
			t.Errorf("Handler(%q, %q) = %v, %v; want an error", args[0], args[1], h, err)
		}
	}
}

// validAssets is a manifest that parses, and the files it lists.
func validAssets() fstest.MapFS {
	sum := strings.Repeat("0", 64)
	return fstest.MapFS{
		"assets/VERSION": {Data: []byte("# a comment\n\npackage: p\nversion: 1.2.3\nintegrity: sha512-x\n" +
			sum + "  " + scriptFile + "\n" + sum + "  " + styleFile + "\n" + sum + "  LICENSE\n")},
		"assets/" + scriptFile: {Data: []byte("script")},
		"assets/" + styleFile:  {Data: []byte("style")},
		"assets/LICENSE":       {Data: []byte("licence")},
	}
}

func TestParseManifest(t *testing.T) {
	m, err := parseManifest(validAssets())
	if err != nil {
		t.Fatal(err)
	}
	if m.pkg != "p" || m.version != "1.2.3" || len(m.files) != 3 {
		t.Errorf("parsed %s@%s, %d files", m.pkg, m.version, len(m.files))
	}
	if a := m.files[scriptFile]; a == nil || string(a.body) != "script" || a.contentType != "text/javascript; charset=utf-8" {
		t.Errorf("script %+v", a)
	}
	if a := m.files["LICENSE"]; a == nil || a.contentType != "text/plain; charset=utf-8" {
		t.Errorf("licence %+v", a)
	}
}

// TestMalformedManifest: a bad assets/VERSION is an error, not a panic.
func TestMalformedManifest(t *testing.T) {
	sum := strings.Repeat("0", 64)
	licence := sum + "  LICENSE"
	for name, c := range map[string]struct {
		remove   string // a file to delete, or
		old, new string // a line of VERSION and what replaces it
	}{
		"no VERSION":          {remove: "assets/VERSION"},
		"listed file missing": {remove: "assets/LICENSE"},
		"no package":          {old: "package: p"},
		"no version":          {old: "version: 1.2.3"},
		"empty version":       {old: "version: 1.2.3", new: "version: "},
		"no script":           {old: sum + "  " + scriptFile},
		"no stylesheet":       {old: sum + "  " + styleFile},
		"stray line":          {old: "# a comment", new: "garbage"},
		"one space":           {old: licence, new: sum + " LICENSE"},
		"short sum":           {old: licence, new: "0123  LICENSE"},
		"path in name":        {old: licence, new: sum + "  ../LICENSE"},
		"VERSION listed":      {old: licence, new: sum + "  VERSION"},
		"file twice":          {old: licence, new: licence + "\n" + licence},
		"line too long":       {old: "# a comment", new: "# " + strings.Repeat("x", 1<<17)},
	} {
		t.Run(name, func(t *testing.T) {
			f := validAssets()
			if c.remove != "" {
				delete(f, c.remove)
			} else {
				lines := strings.Split(string(f["assets/VERSION"].Data), "\n")
				i := slices.Index(lines, c.old)
				if i < 0 {
					t.Fatalf("validAssets has no line %q", c.old)
				}
				lines[i] = c.new
				f["assets/VERSION"] = &fstest.MapFile{Data: []byte(strings.Join(lines, "\n"))}
			}
			var m *manifest
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("panic: %v", p)
					}
				}()
				m, err = parseManifest(f)
			}()
			if err == nil || m != nil {
				t.Errorf("parsed %+v, %v; want an error", m, err)
			} else {
				t.Log(err)
			}
		})
	}
}
