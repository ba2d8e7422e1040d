package fuzz_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// input is one fuzzed request: a method, a target (path and query, the
// path's real resources as {placeholders}), header lines "Name: value"
// and a body.
type input struct {
	method, target, headers string
	body                    []byte
}

// answer is what the platform said to one request.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// deadline bounds every request: a platform that does not answer in it
// hangs, which is a failure like a 5xx.
const deadline = 30 * time.Second

// placeholder is a {name} in an input.
var placeholder = regexp.MustCompile(`\{[A-Za-z]+\}`)

// fill puts the real resources in for the placeholders; {uuid} and
// {email} are new at each use, so that creations do not collide.
func (p *platform) fill(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		name := m[1 : len(m)-1]
		switch name {
		case "uuid":
			return uuid.NewString()
		case "email":
			return "f." + uuid.NewString()[:13] + "@example.org"
		}
		if v, ok := p.values[name]; ok {
			return v
		}
		return m
	})
}

// request builds in as an HTTP request. What the HTTP client cannot send
// is made sendable, nothing more: a method keeps only token characters,
// the target is percent-encoded where raw bytes may not go on the wire,
// a header value loses its control characters. The hop-by-hop headers
// are the client's own.
func (p *platform) request(ctx context.Context, in input, token string) (*http.Request, error) {
	method := sanitizeMethod(in.method)
	path, query, _ := strings.Cut(p.fill(in.target), "?")
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	path = escape(path)
	if strings.HasPrefix(path, "//") {
		// "//x" would be read as a host.
		path = "/%2F" + path[2:]
	}
	var body io.Reader = http.NoBody
	if len(in.body) > 0 {
		body = strings.NewReader(p.fill(string(in.body)))
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+"/", body)
	if err != nil {
		return nil, err
	}
	req.URL.Opaque, req.URL.RawQuery = path, escape(query)
	for line := range strings.SplitSeq(in.headers, "\n") {
		name, value, ok := strings.Cut(line, ":")
		name = strings.Map(tokenRune, strings.TrimSpace(name))
		if !ok || name == "" || hopByHop[http.CanonicalHeaderKey(name)] {
			continue
		}
		req.Header.Add(name, strings.Map(fieldRune, strings.TrimLeft(p.fill(value), " \t")))
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, nil
}

var hopByHop = map[string]bool{"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Keep-Alive": true, "Te": true, "Trailer": true, "Upgrade": true, "Proxy-Connection": true, "Accept-Encoding": true}

func sanitizeMethod(m string) string {
	if m == "" {
		return http.MethodGet
	}
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && tokenRune(r) == r {
			return r
		}
		return 'X'
	}, m)
}

// tokenRune keeps the characters of an HTTP token (RFC 9110 §5.6.2).
func tokenRune(r rune) rune {
	if r >= utf8.RuneSelf || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) || r == 0x7f {
		return -1
	}
	return r
}

// fieldRune keeps what a header value may carry: visible characters,
// spaces, tabs and other bytes (obs-text, which carries invalid UTF-8).
func fieldRune(r rune) rune {
	if (r < ' ' && r != '\t') || r == 0x7f {
		return -1
	}
	return r
}

// escape percent-encodes the bytes of a target that may not go on the
// wire raw, and a % that starts no escape; valid escapes stay, so the
// corpus says %00 for a NUL the server decodes.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(c)
		case c <= ' ' || c >= 0x7f || strings.IndexByte("%\"#<>\\^`{|}", c) >= 0:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// send makes the request and reads the answer, or says why there was
// none.
func (p *platform) send(ctx context.Context, in input, token string) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	req, err := p.request(ctx, in, token)
	if err != nil {
		return answer{}, fmt.Errorf("build the request: %w", err)
	}
	res, err := p.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	var r io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		if r, err = gzip.NewReader(res.Body); err != nil {
			return answer{}, fmt.Errorf("read the gzip answer: %w", err)
		}
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return answer{}, fmt.Errorf("read the answer: %w", err)
	}
	return answer{res.StatusCode, res.Header, b}, nil
}

// verdict says what is wrong with an answer: a 5xx, or a 4xx that is not
// an RFC 9457 problem document of its status. "" is fine.
func verdict(method string, a answer) string {
	switch {
	case a.status >= 500:
		return "5xx"
	case a.status < 400 || method == http.MethodHead:
		return ""
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		return fmt.Sprintf("a %d that is not a problem document (Content-Type %q)", a.status, ct)
	}
	var doc struct {
		Status int
		Title  string
	}
	if err := json.Unmarshal(a.body, &doc); err != nil || doc.Status != a.status || doc.Title == "" {
		return fmt.Sprintf("a %d whose problem document is broken", a.status)
	}
	return ""
}

// noAnswer tells a request the platform never answered (a hang, a
// dropped connection) from one the client could not send.
func noAnswer(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", deadline)
	}
	return "no answer: " + err.Error()
}

// describe shows an input in a failure, long values cut.
func describe(in input) string {
	return fmt.Sprintf("%s %s headers=%s body=%s", clip(in.method, 40), clip(in.target, 160), clip(in.headers, 160), clip(string(in.body), 200))
}

func clip(s string, n int) string {
	q := fmt.Sprintf("%q", s)
	if len(s) <= n {
		return q
	}
	return fmt.Sprintf("%q…(%d bytes)", s[:n], len(s))
}

// operationOf names the documented operation a target reaches, for the
// failure report: the one whose template matches with the most literal
// segments (/patients/me before /patients/{id}).
func operationOf(ops []string, method, target string) string {
	path, _, _ := strings.Cut(target, "?")
	best, bestLiterals := "", -1
	for _, op := range ops {
		m, tmpl, _ := strings.Cut(op, " ")
		if m != method {
			continue
		}
		if n, ok := literalsMatched(tmpl, path); ok && n > bestLiterals {
			best, bestLiterals = op, n
		}
	}
	if best == "" {
		return "(no operation) " + clip(method, 20) + " " + clip(path, 60)
	}
	return best
}

func literalsMatched(tmpl, path string) (int, bool) {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return 0, false
	}
	n := 0
	for i := range ts {
		switch {
		case strings.HasPrefix(ts[i], "{"):
		case ts[i] == ps[i]:
			n++
		default:
			return 0, false
		}
	}
	return n, true
}

// ready fails t unless the platform still runs and says it is ready.
func (p *platform) ready(t testing.TB) {
	select {
	case <-p.exited:
		t.Errorf("%s: the platform stopped", p.engine)
		return
	default:
	}
	a, err := p.send(t.Context(), input{method: http.MethodGet, target: "/api/ready"}, "")
	if err != nil {
		t.Errorf("%s: GET /api/ready: %s", p.engine, noAnswer(err))
		return
	}
	if a.status != http.StatusOK {
		t.Errorf("%s: GET /api/ready: %d %s", p.engine, a.status, bytes.TrimSpace(a.body))
	}
}
