package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// Every string an operation takes in must be text a store can keep.
// PostgreSQL refuses NUL and invalid UTF-8 in text (SQLSTATE 22021), which
// answered 500 there while SQLite stored the bytes; so Register refuses
// them before the handler, on both engines alike, with 422 naming each
// field: the path, query and header parameters as huma reads them, and a
// JSON body as it was sent. The body is checked raw, not decoded, because
// Go's decoder quietly turns invalid UTF-8 and unpaired surrogate escapes
// ("\ud800") into U+FFFD: the store would keep a value the caller never
// sent.

// notText is the message of every field refused.
const notText = "must be text: NUL characters, invalid UTF-8 and unpaired surrogates are refused"

// maxTextErrors bounds the fields one answer names, so that a body of many
// bad strings cannot make a large answer.
const maxTextErrors = 10

// textCheck is what an operation's input exposes to the check: its
// parameters by location, and whether huma decodes a JSON body.
type textCheck struct {
	params [][2]string // (where, name), sorted so answers are stable
	json   bool
}

func textCheckOf(in input) textCheck {
	c := textCheck{json: in.json}
	for name, where := range in.params {
		// Go's cookie parser admits printable ASCII only: nothing to check.
		if where != "cookie" {
			c.params = append(c.params, [2]string{where, name})
		}
	}
	slices.SortFunc(c.params, func(a, b [2]string) int { return strings.Compare(a[0]+"."+a[1], b[0]+"."+b[1]) })
	return c
}

// watch gives the rest of the operation a context that copies the body as
// huma reads it — under huma's own size limit and read deadline — and that
// carries the check to the handler (checkText).
func (t textCheck) watch(hctx huma.Context) huma.Context {
	if len(t.params) == 0 && !t.json {
		return hctx
	}
	c := &textContext{humaContext: hctx, check: t}
	c.ctx = context.WithValue(hctx.Context(), textKey{}, c)
	return c
}

type textKey struct{}

// humaContext names the embedded huma.Context apart from the Context
// method that textContext overrides.
type humaContext = huma.Context

type textContext struct {
	humaContext
	check textCheck
	ctx   context.Context
	raw   bytes.Buffer // the JSON body as read
}

func (c *textContext) Context() context.Context { return c.ctx }

// Unwrap lets humago.Unwrap reach the request beneath.
func (c *textContext) Unwrap() huma.Context { return c.humaContext }

func (c *textContext) BodyReader() io.Reader {
	r := c.humaContext.BodyReader()
	if r == nil || !c.check.json {
		return r
	}
	tee := io.TeeReader(r, &c.raw)
	if closer, ok := r.(io.Closer); ok {
		return struct {
			io.Reader
			io.Closer
		}{tee, closer}
	}
	return tee
}

// checkText refuses the request if a parameter or a string of its JSON
// body is not text. Register runs it once huma has read and validated the
// input, before the handler.
func checkText(ctx context.Context) error {
	c, ok := ctx.Value(textKey{}).(*textContext)
	if !ok {
		return nil
	}
	bad := c.badParams()
	bad = append(bad, badJSONText(c.raw.Bytes(), maxTextErrors-len(bad))...)
	if len(bad) == 0 {
		return nil
	}
	p := problemFor(ctx, fault.Invalid(bad[0], notText), nil)
	for _, loc := range bad[1:] {
		p.Errors = append(p.Errors, &huma.ErrorDetail{Message: notText, Location: loc})
	}
	return p
}

func (c *textContext) badParams() []string {
	var bad []string
	var query url.Values
	for _, p := range c.check.params {
		where, name := p[0], p[1]
		var values []string
		switch where {
		case "path":
			values = []string{c.Param(name)}
		case "query":
			// huma reads a parameter's first value its own way, and every
			// value of an exploded list from the parsed query.
			if query == nil {
				u := c.URL()
				query = u.Query()
			}
			values = append([]string{c.Query(name)}, query[name]...)
		case "header":
			values = []string{c.Header(name)}
		}
		if slices.ContainsFunc(values, func(v string) bool { return !isText(v) }) && len(bad) < maxTextErrors {
			bad = append(bad, where+"."+name)
		}
	}
	return bad
}

func isText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// badJSONText names, as huma names fields ("body.diagnoses[0].code"), at
// most limit strings of a JSON document that are not text. A key that is
// not text is named by the object holding it.
func badJSONText(raw []byte, limit int) []string {
	// Only a \u escape can spell NUL or a surrogate in valid UTF-8.
	if limit <= 0 || (utf8.Valid(raw) && !bytes.Contains(raw, []byte(`\u`))) {
		return nil
	}
	w := &jsonText{raw: raw, limit: limit}
	w.value()
	return w.bad
}

// jsonText walks a document huma has already parsed; on anything else it
// still ends without panicking, as every step consumes input.
type jsonText struct {
	raw   []byte
	i     int
	path  []segment
	muted int // > 0 below a key that was itself reported
	limit int
	bad   []string
}

type segment struct {
	key   []byte // the key's literal, quotes excluded
	index int
	array bool
}

func (w *jsonText) value() {
	w.space()
	if w.i >= len(w.raw) {
		return
	}
	switch w.raw[w.i] {
	case '{':
		w.i++
		for w.more('}') {
			if w.raw[w.i] != '"' {
				w.i++
				continue
			}
			key, sound := w.str()
			if !sound {
				w.report()
				w.muted++
			}
			w.space()
			if w.i < len(w.raw) && w.raw[w.i] == ':' {
				w.i++
			}
			w.path = append(w.path, segment{key: key})
			w.value()
			w.path = w.path[:len(w.path)-1]
			if !sound {
				w.muted--
			}
		}
	case '[':
		w.i++
		for n := 0; w.more(']'); n++ {
			w.path = append(w.path, segment{index: n, array: true})
			w.value()
			w.path = w.path[:len(w.path)-1]
		}
	case '"':
		if _, sound := w.str(); !sound {
			w.report()
		}
	default: // a number, true, false or null
		start := w.i
		for w.i < len(w.raw) && strings.IndexByte(",:]} \t\r\n", w.raw[w.i]) < 0 {
			w.i++
		}
		if w.i == start {
			w.i++
		}
	}
}

// more skips white space and a comma, and reports whether a member or an
// element follows; the closing delimiter end it consumes.
func (w *jsonText) more(end byte) bool {
	w.space()
	if w.i < len(w.raw) && w.raw[w.i] == ',' {
		w.i++
		w.space()
	}
	if w.i >= len(w.raw) {
		return false
	}
	if w.raw[w.i] == end {
		w.i++
		return false
	}
	return true
}

func (w *jsonText) space() {
	for w.i < len(w.raw) && strings.IndexByte(" \t\r\n", w.raw[w.i]) >= 0 {
		w.i++
	}
}

// str reads a string literal from its opening quote: its content, and
// whether that spells text.
func (w *jsonText) str() (lit []byte, sound bool) {
	w.i++
	start, sound := w.i, true
	for w.i < len(w.raw) {
		switch c := w.raw[w.i]; {
		case c == '"':
			w.i++
			return w.raw[start : w.i-1], sound
		case c == '\\':
			if w.at(w.i+1) != 'u' {
				w.i += 2
				continue
			}
			r := w.hex(w.i + 2)
			w.i += 6
			if r == 0 {
				sound = false
			} else if utf16.IsSurrogate(r) {
				// A high surrogate followed by a low one is one character.
				if r < 0xdc00 && w.at(w.i) == '\\' && w.at(w.i+1) == 'u' {
					if low := w.hex(w.i + 2); low >= 0xdc00 && low < 0xe000 {
						w.i += 6
						continue
					}
				}
				sound = false
			}
		case c < utf8.RuneSelf:
			w.i++
		default:
			r, size := utf8.DecodeRune(w.raw[w.i:])
			if r == utf8.RuneError && size == 1 {
				sound = false
			}
			w.i += size
		}
	}
	return w.raw[start:], sound
}

func (w *jsonText) at(i int) byte {
	if i < len(w.raw) {
		return w.raw[i]
	}
	return 0
}

// hex is the code unit of a \u escape's four digits at i, or -1.
func (w *jsonText) hex(i int) rune {
	if i+4 > len(w.raw) {
		return -1
	}
	n, err := strconv.ParseUint(string(w.raw[i:i+4]), 16, 16)
	if err != nil {
		return -1
	}
	return rune(n)
}

func (w *jsonText) report() {
	if w.muted > 0 || len(w.bad) >= w.limit {
		return
	}
	var b strings.Builder
	b.WriteString("body")
	for _, s := range w.path {
		if s.array {
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
			continue
		}
		b.WriteString("." + keyText(s.key))
	}
	if loc := b.String(); !slices.Contains(w.bad, loc) {
		w.bad = append(w.bad, loc)
	}
}

// keyText is a key as the caller meant it: its literal decoded.
func keyText(lit []byte) string {
	if bytes.IndexByte(lit, '\\') < 0 {
		return string(lit)
	}
	var s string
	if err := json.Unmarshal(append(append([]byte{'"'}, lit...), '"'), &s); err != nil {
		return string(lit)
	}
	return s
}
