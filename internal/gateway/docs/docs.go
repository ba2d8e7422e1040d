// Package docs serves the interactive API reference (Stoplight Elements'
// web component) from the binary, so the page works where no CDN can be
// reached: a hospital network, an air-gapped install.
//
// The UI is pinned in assets/VERSION (package, version, npm integrity and
// each file's SHA-256) and re-fetched from npm by update.sh. Mount one
// handler on both paths:
//
//	h, err := docs.Handler("/docs", "/openapi.json")
//	if err != nil {
//		return err
//	}
//	mux.Handle("GET /docs", h)         // the page
//	mux.Handle("GET /docs/assets/", h) // its script, stylesheet and licences
package docs

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"embed"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed assets
var assetFS embed.FS

// manifest is the UI pinned in assets/VERSION, with the files it lists.
type manifest struct {
	// pkg and version name the UI. Asset URLs carry the version, so a
	// browser caches them for good and an update is fetched afresh.
	pkg, version string
	// files are the served assets by name, as listed in assets/VERSION.
	files map[string]*asset
}

type asset struct {
	sha256, contentType string
	body                []byte

	gzipOnce sync.Once
	gzipped  []byte // nil when it would not be smaller
}

// load reads the embedded assets/VERSION and the files it lists.
func load() (*manifest, error) { return parseManifest(assetFS) }

// parseManifest reads assets/VERSION from fsys, and each file it lists from
// beside it. A line it does not understand, a file missing, or no package,
// version, script or stylesheet is an error.
func parseManifest(fsys fs.FS) (*manifest, error) {
	data, err := fs.ReadFile(fsys, "assets/VERSION")
	if err != nil {
		return nil, err
	}
	m := &manifest{files: map[string]*asset{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "package: "):
			m.pkg = strings.TrimPrefix(line, "package: ")
		case strings.HasPrefix(line, "version: "):
			m.version = strings.TrimPrefix(line, "version: ")
		case strings.HasPrefix(line, "integrity: "):
		default: // sha256sum's "<hex>  <name>"
			sum, name, ok := strings.Cut(line, "  ")
			if !ok || len(sum) != 64 || name != path.Base(name) || name == "VERSION" || m.files[name] != nil {
				return nil, fmt.Errorf("assets/VERSION line %d: bad line %q", n, line)
			}
			body, err := fs.ReadFile(fsys, "assets/"+name)
			if err != nil {
				return nil, fmt.Errorf("assets/VERSION line %d: %w", n, err)
			}
			m.files[name] = &asset{sha256: sum, contentType: contentType(name), body: body}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("assets/VERSION: %w", err)
	}
	if m.pkg == "" || m.version == "" || m.files[scriptFile] == nil || m.files[styleFile] == nil {
		return nil, errors.New("assets/VERSION names no package, version, script or stylesheet")
	}
	return m, nil
}

const (
	scriptFile = "web-components.min.js"
	styleFile  = "styles.min.css"
)

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default: // LICENSE, *.LICENSE.txt
		return "text/plain; charset=utf-8"
	}
}

// pageStyle is the page's own stylesheet: the component fills the window,
// its sidebar and content scrolling on their own.
const pageStyle = `html,body{height:100%;margin:0}elements-api{display:block;height:100%}`

// csp is the page's Content-Security-Policy. Everything is refused unless
// named below, and nothing names another origin.
var csp = strings.Join([]string{
	"default-src 'none'",
	// The bundle, from this origin; no inline script, no eval.
	"script-src 'self'",
	// styles.min.css from this origin, and inline <style> elements, which
	// the bundle itself creates and no hash can pin: Font Awesome inserts
	// its stylesheet (without it each icon takes its container's size), and
	// each "Try it" code editor writes a rule keyed by a generated element id
	// and its line count (without it the caret sits off the text). pageStyle
	// rides on the same allowance. Nothing a stylesheet names can load:
	// images, fonts and media fall back to default-src 'none'.
	"style-src-elem 'self' 'unsafe-inline'",
	// style="" attributes: none are needed (React sets styles through the
	// CSSOM, which CSP does not govern).
	"style-src-attr 'none'",
	// The same for browsers that predate style-src-elem/-attr.
	"style-src 'self' 'unsafe-inline'",
	// The OpenAPI document and "Try it" requests: this origin only, which
	// is where the gateway's document sends them (servers: "/").
	"connect-src 'self'",
	"base-uri 'none'",
	"form-action 'none'",
	"frame-ancestors 'none'",
	// Scripts run, keeping this origin (an opaque one would make the
	// document and "Try it" cross-origin fetches, and break storage); no
	// popups, forms, downloads, modals or top-level navigation.
	"sandbox allow-same-origin allow-scripts",
}, "; ")

// Handler serves the API reference for the OpenAPI document at specURL, a
// path on the same origin (the CSP allows no other): GET prefix is the page,
// GET prefix/assets/<version>/<file> one of its assets; any other path is
// 404. prefix is a path such as "/docs", without a trailing slash. A bad
// prefix or specURL is an error, as is an embedded assets/VERSION that does
// not parse.
func Handler(prefix, specURL string) (http.Handler, error) {
	if !strings.HasPrefix(prefix, "/") || strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("prefix %q is not a path without a trailing slash", prefix)
	}
	if !strings.HasPrefix(specURL, "/") || strings.HasPrefix(specURL, "//") || strings.ContainsAny(specURL, "\\\r\n") {
		return nil, fmt.Errorf("spec URL %q is not a path on this origin", specURL)
	}
	m, err := load()
	if err != nil {
		return nil, err
	}
	assets := prefix + "/assets/" + m.version + "/"
	return &handler{m: m, page: []byte(page(assets, specURL)), root: prefix, assets: assets}, nil
}

type handler struct {
	m      *manifest // the pinned UI and its files
	page   []byte
	root   string // the page's path
	assets string // root + "/assets/<version>/"
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == h.root {
		h.servePage(w, r)
		return
	}
	if name, ok := strings.CutPrefix(r.URL.Path, h.assets); ok && h.m.files[name] != nil {
		h.m.files[name].serve(w, r)
		return
	}
	http.NotFound(w, r)
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", csp)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	// Revalidated each time, so a new version's asset URLs are seen at once.
	hd.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.page))
}

// serve sends the asset, gzipped when the client takes it. The version is
// in the URL, so it may be cached for a year; the ETag is its SHA-256.
func (a *asset) serve(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Add("Vary", "Accept-Encoding")
	body, etag := a.body, `"`+a.sha256+`"`
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		if gz := a.gzip(); gz != nil {
			body, etag = gz, `"`+a.sha256+`-gzip"`
			hd.Set("Content-Encoding", "gzip")
		}
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// gzip compresses the asset on first use (the bundle takes a fraction of a
// second, once, and shrinks to about a third).
func (a *asset) gzip() []byte {
	a.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(a.body)
		if zw.Close() == nil && buf.Len() < len(a.body) {
			a.gzipped = buf.Bytes()
		}
	})
	return a.gzipped
}

// acceptsGzip reports whether an Accept-Encoding header takes gzip: with a
// q-value above 0 for gzip, or, when gzip is not named, for "*".
func acceptsGzip(header string) bool {
	gzipQ, anyQ := -1.0, -1.0
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		q := 1.0
		if k, v, ok := strings.Cut(params, "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = f
			} else {
				q = 0
			}
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			gzipQ = q
		case "*":
			anyQ = q
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return anyQ > 0
}

// page is the HTML: same-origin assets only, and a <noscript> link to the
// raw document for a browser without JavaScript.
func page(assets, specURL string) string {
	spec := html.EscapeString(specURL)
	return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="referrer" content="no-referrer">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Second Opinion API Reference</title>
    <style>` + pageStyle + `</style>
    <link rel="stylesheet" href="` + assets + styleFile + `">
    <script src="` + assets + scriptFile + `"></script>
  </head>
  <body>
    <noscript>The interactive reference needs JavaScript; the raw document is at <a href="` + spec + `">` + spec + `</a>.</noscript>
    <elements-api apiDescriptionUrl="` + spec + `" router="hash" layout="sidebar" tryItCredentialsPolicy="same-origin"></elements-api>
  </body>
</html>
`
}
