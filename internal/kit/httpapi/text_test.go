package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/secondopinion/platform/internal/kit/authz"
)

func TestJSONText(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want []string
	}{
		{`{"email":"a\u0000bc@x.org"}`, []string{"body.email"}},
		{`{"email":"a\\u0000bc@x.org"}`, nil}, // a backslash, then "u0000"
		{`{"a":"\ud800"}`, []string{"body.a"}},
		{`{"a":"\uDC00 low"}`, []string{"body.a"}},
		{`{"a":"\ud83d\ude00 pair"}`, nil},
		{`{"a":"\ud83d\ud83d\ude00"}`, []string{"body.a"}}, // a high surrogate, then a pair
		{`{"a":"\ud83dx"}`, []string{"body.a"}},
		{`{"a":"\ud83d"}`, []string{"body.a"}},
		{"{\"a\":\"\xff\"}", []string{"body.a"}},
		{"{\"a\":\"\xed\xa0\x80\"}", []string{"body.a"}}, // a surrogate in UTF-8
		{"{\"a\":\"\xef\xbf\xbd \\ufffd caf\xc3\xa9 \\u00e9\"}", nil},
		{`{"n":1.5e3,"t":true,"z":null,"s":"\u0000","u":"ok"}`, []string{"body.s"}},
		{` { "diagnoses" : [ {"code":"ok"} , {"code":"x\u0000"} ] } `, []string{"body.diagnoses[1].code"}},
		{`{"tags":["a","\u0000",["\u0000"]]}`, []string{"body.tags[1]", "body.tags[2][0]"}},
		{`"\u0000"`, []string{"body"}},
		{`{"o":{"a\u0000":{"b":"\u0000"}},"c":"\u0000"}`, []string{"body.o", "body.c"}},
		{`{"caf\u00e9":"\u0000","a\"b":"\u0000"}`, []string{"body.café", `body.a"b`}},
		{`{"a":"\u0000","a":"\u0000"}`, []string{"body.a"}},
	} {
		if got := badJSONText([]byte(c.raw), maxTextErrors); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.raw, got, c.want)
		}
	}
	many := `[` + strings.Repeat(`"\u0000",`, 30) + `""]`
	if got := badJSONText([]byte(many), maxTextErrors); len(got) != maxTextErrors || got[9] != "body[9]" {
		t.Errorf("30 bad strings: %q", got)
	}
}

// FuzzJSONText holds the walk to what the decoder sees: it ends on any
// input, and on a valid document it names a string whenever the decoder
// finds a NUL in one, or turns invalid UTF-8 or a lone surrogate into
// U+FFFD.
func FuzzJSONText(f *testing.F) {
	for _, s := range []string{`{"a":"\u0000"}`, `["\ud800",{"b":"\udbff\udfff"}]`, "\"\xff\"", `{"a\u0000":[1,true,null]}`,
		`{"a":"\\u0000"}`, `{"a":"\ufffd"}`, `[}`, `{"a"`, `"\u12`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		bad := badJSONText(raw, maxTextErrors)
		if !json.Valid(raw) {
			return
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		nul, replaced := false, false
		var walk func(any)
		seen := func(s string) {
			nul = nul || strings.ContainsRune(s, 0)
			replaced = replaced || strings.ContainsRune(s, utf8.RuneError)
		}
		walk = func(v any) {
			switch v := v.(type) {
			case string:
				seen(v)
			case []any:
				for _, e := range v {
					walk(e)
				}
			case map[string]any:
				for k, e := range v {
					seen(k)
					walk(e)
				}
			}
		}
		walk(v)
		// U+FFFD the caller sent themselves is text.
		sent := bytes.Contains(raw, []byte("\xef\xbf\xbd")) || bytes.Contains(bytes.ToLower(raw), []byte(`\ufffd`))
		if (nul || (replaced && !sent)) && len(bad) == 0 {
			t.Fatalf("%q: nothing named, yet the decoder finds NUL %v, replaced text %v", raw, nul, replaced)
		}
		if !utf8.Valid(raw) && len(bad) == 0 {
			t.Fatalf("%q: invalid UTF-8, nothing named", raw)
		}
	})
}

type textInput struct {
	ID   string   `path:"id"`
	Q    string   `query:"q"`
	Tags []string `query:"tags,explode"`
	Note string   `header:"X-Note"`
	Body struct {
		Name  string `json:"name"`
		Items []struct {
			Code string `json:"code"`
		} `json:"items,omitempty"`
	}
}

type rawInput struct {
	RawBody []byte `contentType:"application/octet-stream"`
}

// Register refuses, with 422 naming each field, whatever a store could
// not keep as text, before the handler runs; text, U+FFFD and characters
// beyond the BMP included, passes.
func TestRegisterRefusesWhatIsNotText(t *testing.T) {
	mux := http.NewServeMux()
	api := NewAPI(mux, "text-test", "1.0.0")
	calls := 0
	Register(api, huma.Operation{OperationID: "put-thing", Method: http.MethodPut, Path: "/things/{id}"}, authz.Public,
		func(context.Context, *textInput) (*struct{}, error) { calls++; return nil, nil })
	Register(api, huma.Operation{OperationID: "put-raw", Method: http.MethodPut, Path: "/raw"}, authz.Public,
		func(context.Context, *rawInput) (*struct{}, error) { calls++; return nil, nil })
	srv := httptest.NewServer(Wrap(mux, Options{Service: "text-test"}))
	t.Cleanup(srv.Close)

	good := `{"name":"Zoë \ud83d\ude00 \ufffd","items":[{"code":"I20.9"}]}`
	for _, c := range []struct {
		name, path, note, body string
		want                   []string // the locations named; none: the handler runs
	}{
		{"text", "/things/a?q=caf%C3%A9&tags=x&tags=y", "plain", good, nil},
		{"NUL in the body", "/things/a", "", `{"name":"a\u0000bc@x.org"}`, []string{"body.name"}},
		{"lone surrogate in the body", "/things/a", "", `{"name":"\ud800"}`, []string{"body.name"}},
		{"invalid UTF-8 in the body", "/things/a", "", "{\"name\":\"\xc3\x28\"}", []string{"body.name"}},
		{"NUL deep in the body", "/things/a", "", `{"name":"n","items":[{"code":"a"},{"code":"\u0000"}]}`, []string{"body.items[1].code"}},
		{"NUL in the query", "/things/a?q=%00", "", good, []string{"query.q"}},
		{"UTF-8 surrogate in the query", "/things/a?q=%ED%A0%80", "", good, []string{"query.q"}},
		{"invalid UTF-8 in an exploded list", "/things/a?tags=ok&tags=%FF", "", good, []string{"query.tags"}},
		{"NUL in the path", "/things/a%00b", "", good, []string{"path.id"}},
		{"invalid UTF-8 in a header", "/things/a", "\xff", good, []string{"header.X-Note"}},
		{"everywhere", "/things/%00?q=%00", "", `{"name":"\u0000","items":[{"code":"\udfff"}]}`,
			[]string{"path.id", "query.q", "body.name", "body.items[0].code"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := calls
			req, _ := http.NewRequest(http.MethodPut, srv.URL+c.path, strings.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			if c.note != "" {
				req.Header.Set("X-Note", c.note)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if c.want == nil {
				if res.StatusCode != http.StatusNoContent || calls != before+1 {
					t.Fatalf("%d %s, handler ran %d times", res.StatusCode, b, calls-before)
				}
				return
			}
			var p huma.ErrorModel
			_ = json.Unmarshal(b, &p)
			var got []string
			for _, d := range p.Errors {
				got = append(got, d.Location)
			}
			if res.StatusCode != http.StatusUnprocessableEntity || !slices.Equal(got, c.want) || calls != before {
				t.Fatalf("%d %s: locations %q, want %q; handler ran %d times", res.StatusCode, b, got, c.want, calls-before)
			}
			if res.Header.Get("Content-Type") != "application/problem+json" || p.Title != "Invalid input" || p.Errors[0].Message != notText {
				t.Errorf("problem %s %s", res.Header.Get("Content-Type"), b)
			}
		})
	}

	// A raw body is bytes the operation takes as they come.
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/raw", strings.NewReader("\x00\xff"))
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Errorf("raw body: %d", res.StatusCode)
	}
}

// Huma's limit on a body holds as before: the copy the check reads is
// taken as huma reads, not ahead of it.
func TestTextCheckKeepsTheBodyLimit(t *testing.T) {
	mux := http.NewServeMux()
	api := NewAPI(mux, "text-test", "1.0.0")
	Register(api, huma.Operation{OperationID: "put-thing", Method: http.MethodPut, Path: "/things/{id}", MaxBodyBytes: 64}, authz.Public,
		func(context.Context, *textInput) (*struct{}, error) { return nil, nil })
	srv := httptest.NewServer(Wrap(mux, Options{Service: "text-test"}))
	t.Cleanup(srv.Close)
	body := fmt.Sprintf(`{"name":"%s"}`, strings.Repeat("a", 100))
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/things/a", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("%d, want 413", res.StatusCode)
	}
}
