package fuzz_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// seed is one request of the corpus and the class of hostility it
// carries, named in failures ("body.email: NUL").
type seed struct {
	class string
	input
}

// The document, as far as requests are derived from it.
type document struct {
	Paths      map[string]map[string]*operation
	Components struct{ Schemas map[string]*schema }
}

type operation struct {
	Parameters  []parameter
	RequestBody *struct {
		Content map[string]struct{ Schema *schema }
	}
}

type parameter struct {
	Name, In string
	Schema   *schema
}

type schema struct {
	Ref                  string `json:"$ref"`
	Type                 any    // a name, or a list of names ("array", "null")
	Format, Pattern      string
	Enum                 []any
	MinLength, MaxLength *int
	Minimum, Maximum     *float64
	MinItems, MaxItems   *int
	Properties           map[string]*schema
	Required             []string
	Items                *schema
	AdditionalProperties any
}

// kind names the schema's type and format, for pick's turns.
func (s *schema) kind() string {
	if s == nil {
		return "any"
	}
	return fmt.Sprint(s.Type) + " " + s.Format
}

// is reports whether the schema admits the JSON type name.
func (s *schema) is(name string) bool {
	switch t := s.Type.(type) {
	case string:
		return t == name
	case []any:
		return slices.Contains(t, any(name))
	}
	return false
}

var methods = []string{"get", "put", "post", "delete", "patch"}

// generator derives the corpus from the document: for every operation a
// valid request (real resources in the path, values that respect every
// schema) and variants of it that each break one thing.
type generator struct {
	doc   document
	seeds []seed
	// oneMB is whether the current operation already has its 1 MB string:
	// one per operation keeps the corpus fast.
	oneMB bool
	// exhaustive takes every variant everywhere; otherwise each place
	// takes the variants that matter most there and a few more in turn
	// (see pick).
	exhaustive bool
	turns      map[string]int
}

// corpus derives the seeds from the document raw and lists its
// operations ("POST /api/v1/cases").
func corpus(raw []byte, exhaustive bool) ([]seed, []string, error) {
	g := &generator{exhaustive: exhaustive, turns: map[string]int{}}
	if err := json.Unmarshal(raw, &g.doc); err != nil {
		return nil, nil, fmt.Errorf("read the document: %w", err)
	}
	var ops []string
	for _, path := range slices.Sorted(maps.Keys(g.doc.Paths)) {
		for _, m := range methods {
			op := g.doc.Paths[path][m]
			if op == nil {
				continue
			}
			key := strings.ToUpper(m) + " " + path
			ops = append(ops, key)
			if err := g.operation(strings.ToUpper(m), path, op); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	g.unrouted()
	return g.seeds, ops, nil
}

// pick is the variants of list a place of the corpus takes: the first
// core ones, and n more taken in turn from the rest of the list across
// the places that share it (named by turn), so every variant shows up
// somewhere in the corpus while the corpus stays quick to run.
func pick[T any](g *generator, turn string, list []T, core, n int) []T {
	if g.exhaustive || len(list) <= core+n {
		return list
	}
	out := slices.Clone(list[:core])
	rest := list[core:]
	for range n {
		out = append(out, rest[g.turns[turn]%len(rest)])
		g.turns[turn]++
	}
	return out
}

func (g *generator) resolve(s *schema) *schema {
	for s != nil && s.Ref != "" {
		s = g.doc.Components.Schemas[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
	}
	return s
}

func (g *generator) add(class, method, target, headers string, body []byte) {
	g.seeds = append(g.seeds, seed{class, input{method, target, headers, body}})
}

// fixture names the placeholder of a real resource for a path parameter
// (see platform.values); an unknown one fails the corpus, so a new route
// gets real resources too.
func fixture(method, path, param string) (string, error) {
	switch {
	case param == "questionId":
		return "{question}", nil
	case param == "month":
		return "{month}", nil
	case param == "region":
		return "EU", nil
	case param == "specialty":
		return "NEUROLOGY", nil
	case param == "urgency":
		return "STANDARD", nil
	case param == "provider":
		return "sandbox", nil
	case param == "report":
		return "periods", nil
	case path == "/api/v1/notifications/deliveries/{id}/retry":
		return "{delivery}", nil
	case strings.HasPrefix(path, "/api/v1/notifications/"):
		return "{notice}", nil
	case strings.HasPrefix(path, "/api/v1/payments/"):
		return "{payment}", nil
	case strings.HasPrefix(path, "/api/v1/invoices/"):
		return "{invoice}", nil
	case strings.HasPrefix(path, "/api/v1/payouts/"):
		return "{batch}", nil
	case strings.HasPrefix(path, "/api/v1/patients/"):
		return "{patient}", nil
	case strings.HasPrefix(path, "/api/v1/professionals/"), path == "/api/v1/assignments/available/{professionalId}":
		return "{pro}", nil
	case strings.HasPrefix(path, "/api/v1/credentials/"):
		return "{credential}", nil
	case path == "/api/v1/assignments/claim/{caseId}":
		return "{poolCase}", nil
	case path == "/api/v1/assignments/release/{assignmentId}":
		return "{assignment}", nil
	case param == "caseNumber":
		return "{caseNumber}", nil
	case path == "/api/v1/consents/{purpose}":
		return "RESEARCH", nil
	case path == "/api/v1/cases/{id}/opinion" && method == "PUT", path == "/api/v1/cases/{id}/opinion/submit",
		path == "/api/v1/cases/{caseId}/analysis":
		return "{claimedCase}", nil
	case path == "/api/v1/ai/status/{processingId}":
		return "{processing}", nil
	case strings.HasPrefix(path, "/api/v1/ai/triage/"):
		// Past the AI, in the pool: not in triage (409).
		return "{poolCase}", nil
	case strings.HasPrefix(path, "/api/v1/cases/{id}/opinion"):
		return "{opinionCase}", nil
	case strings.HasPrefix(path, "/api/v1/cases/"), path == "/api/v1/ai/usage/cases/{caseId}":
		return "{case}", nil
	case strings.HasPrefix(path, "/api/v1/records/"), path == "/api/v1/documents/analysis/{documentId}":
		return "{record}", nil
	case strings.HasPrefix(path, "/api/v1/uploads/"):
		return "{upload}", nil
	case strings.HasPrefix(path, "/api/v1/opinions/"):
		return "{opinion}", nil
	}
	return "", fmt.Errorf("no real resource for {%s}: add one to fixture", param)
}

// goodQuery are valid values of query parameters by name; the rest come
// from their schemas.
var goodQuery = map[string]string{
	"customerId": "{patient}", "patientId": "{patient}", "actor": "{patient}", "professionalId": "{pro}",
	"resourceType": "case", "resourceId": "{case}", "from": "2020-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z",
}

func (g *generator) operation(method, path string, op *operation) error {
	g.oneMB = false
	// The valid request.
	concrete := path
	var pathParams, queryParams []parameter
	idempotent := false
	for _, p := range op.Parameters {
		switch p.In {
		case "path":
			v, err := fixture(method, path, p.Name)
			if err != nil {
				return err
			}
			concrete = strings.Replace(concrete, "{"+p.Name+"}", v, 1)
			pathParams = append(pathParams, p)
		case "query":
			queryParams = append(queryParams, p)
		case "header":
			idempotent = idempotent || p.Name == "Idempotency-Key"
		}
	}
	goodQ := map[string]string{}
	for _, p := range queryParams {
		if p.Name == "cursor" {
			continue // only the previous page's is valid
		}
		if v, ok := goodQuery[p.Name]; ok {
			goodQ[p.Name] = v
		} else {
			goodQ[p.Name] = queryValue(g.resolve(p.Schema))
		}
	}
	// query writes the valid parameters with over's changes (an empty
	// value deletes one) and extra, a raw parameter, appended.
	query := func(over map[string]string, extra string) string {
		q := maps.Clone(goodQ)
		for k, v := range over {
			if v == deleted {
				delete(q, k)
			} else {
				q[k] = v
			}
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(q)) {
			parts = append(parts, k+"="+q[k])
		}
		if extra != "" {
			parts = append(parts, extra)
		}
		if len(parts) == 0 {
			return ""
		}
		return "?" + strings.Join(parts, "&")
	}
	target := concrete + query(nil, "")

	var body *schema
	if op.RequestBody != nil {
		body = g.resolve(op.RequestBody.Content["application/json"].Schema)
	}
	var valid []byte
	headers := ""
	if body != nil {
		valid = []byte(g.value(body, "", ""))
		headers = "Content-Type: application/json"
	}
	with := func(h string) string {
		if headers == "" {
			return h
		}
		if h == "" {
			return headers
		}
		return headers + "\n" + h
	}
	key := ""
	if idempotent {
		key = "Idempotency-Key: {uuid}"
	}
	g.add("valid", method, target, with(key), valid)

	// Path parameters: the real resource of another kind, none, and
	// hostile values, one parameter at a time.
	for _, p := range pathParams {
		real, _ := fixture(method, path, p.Name)
		for _, v := range pick(g, "path", hostilePath, 2, 1) {
			t := strings.Replace(path, "{"+p.Name+"}", strings.ReplaceAll(v.value, "{real}", real), 1)
			for _, q := range pathParams {
				if q.Name != p.Name {
					other, _ := fixture(method, path, q.Name)
					t = strings.Replace(t, "{"+q.Name+"}", other, 1)
				}
			}
			g.add("path "+p.Name+": "+v.class, method, t+query(nil, ""), with(key), valid)
		}
	}

	// Query parameters, one at a time, then the query as a whole.
	for _, p := range queryParams {
		s := g.resolve(p.Schema)
		for _, v := range pick(g, "query "+s.kind(), hostileQuery(s), 2, 1) {
			over, extra := map[string]string{p.Name: v.value}, ""
			if v.raw {
				over, extra = map[string]string{p.Name: deleted}, strings.ReplaceAll(v.value, "{name}", p.Name)
			}
			g.add("query "+p.Name+": "+v.class, method, concrete+query(over, extra), with(key), valid)
		}
	}
	for _, v := range pick(g, "whole query", hostileWholeQuery, 0, 1) {
		g.add("query: "+v.class, method, concrete+v.value, with(key), valid)
	}

	// Headers and content types.
	for _, v := range pick(g, "headers", hostileHeaders, 0, 2) {
		h := v.value
		if key != "" && v.class != "no Idempotency-Key" && !strings.HasPrefix(h, "Idempotency-Key") {
			h += "\n" + key
		}
		g.add("header "+v.class, method, target, with(h), valid)
	}
	for _, v := range pick(g, "content types", contentTypes, 0, 1) {
		b := valid
		if v.body != "" {
			b = []byte(v.body)
		}
		h := v.value
		if key != "" {
			h += "\n" + key
		}
		g.add("content type: "+v.class, method, target, strings.TrimPrefix(h, "\n"), b)
	}
	// Methods the path does not serve.
	for _, m := range pick(g, "methods", []string{"X00000001", "HEAD", "OPTIONS", "DELETE"}, 0, 1) {
		if strings.EqualFold(m, method) {
			continue
		}
		h := ""
		if m == "OPTIONS" {
			h = "Origin: http://evil.example\nAccess-Control-Request-Method: " + method
		}
		g.add("method "+m, m, target, h, nil)
	}

	// Bodies: whole-document hostility, on every operation (those without
	// a body must ignore or refuse one), then one property at a time.
	core, more := 0, 1
	if body != nil {
		core, more = 1, 2
	}
	for _, v := range pick(g, "bodies", hostileBodies(string(valid)), core, more) {
		g.add("body: "+v.class, method, target, with(key), []byte(v.value))
	}
	if body != nil {
		g.properties("body", body, string(valid), func(class string, b string) {
			g.add(class, method, target, with(key), []byte(b))
		})
	}
	return nil
}

// properties adds, for each property of the object schema s (whose valid
// document is valid), the variants that replace its value with a hostile
// one; emit receives the class and the whole body.
func (g *generator) properties(at string, s *schema, valid string, emit func(class, body string)) {
	names := slices.Sorted(maps.Keys(s.Properties))
	for _, name := range names {
		ps := g.resolve(s.Properties[name])
		good := g.value(ps, name, at)
		replace := func(raw string) string { return replaceMember(valid, name, good, raw) }
		for _, v := range g.hostileValues(ps, good) {
			emit(at+"."+name+": "+v.class, replace(v.value))
		}
		// One level down: the members of objects in arrays (diagnoses).
		if ps.is("array") {
			if item := g.resolve(ps.Items); item != nil && item.is("object") && len(item.Properties) > 0 {
				itemGood := g.value(item, "", at+"."+name)
				g.properties(at+"."+name+"[0]", item, itemGood, func(class, b string) {
					emit(class, replace("["+b+"]"))
				})
			}
		}
	}
	// Required properties missing, one at a time.
	for _, name := range pick(g, "missing", s.Required, 0, 1) {
		emit(at+"."+name+": missing", removeMember(valid, name))
	}
}

// good are valid values of body properties by name: the schemas say
// "10 to 5000 characters" or "ICD-10" only in words. Placeholders in
// braces are filled in per request (see platform.fill).
var good = map[string]string{
	"email": "{email}", "password": "{password}", "newPassword": "{password}",
	"firstName": "Ada", "lastName": "Lovelace", "middleName": "King", "phone": "+4915112345678",
	"title": "Recurring migraines", "question": "Is the proposed preventive treatment right for me?",
	"language": "en", "country": "DE", "bio": "Neurology, 12 years",
	"licenseNumber": "LIC-{uuid}", "issuingAuthority": "Ärztekammer Berlin",
	"reason": "the register has no such licence", "answer": "Yes, once the attacks are under control.",
	"summary": "Episodic migraine without aura; the MRI is unremarkable.", "comments": "Well argued.",
	"description": "Migraine without aura, not intractable", "code": "123456",
	"customerId": "{patient}", "challengeId": "{uuid}", "refreshToken": "{uuid}", "token": "{uuid}",
	"specialty": "NEUROLOGY", "level": "SENIOR", "decision": "APPROVE", "method": "NONE",
}

// value is a valid JSON value of s, the property name of its parent
// object (at is where that object is: "body.diagnoses[0]").
func (g *generator) value(s *schema, name, at string) string {
	s = g.resolve(s)
	if s == nil {
		return "null"
	}
	if v, ok := good[name]; ok && s.is("string") {
		if name == "code" && strings.HasSuffix(at, "diagnoses") {
			v = "G43.009"
		}
		return str(v)
	}
	if len(s.Enum) > 0 {
		b, _ := json.Marshal(s.Enum[0])
		return string(b)
	}
	switch {
	case s.is("object"):
		var ms []string
		for _, n := range slices.Sorted(maps.Keys(s.Properties)) {
			ms = append(ms, str(n)+":"+g.value(s.Properties[n], n, at))
		}
		if len(s.Properties) == 0 {
			return `{"source":"fuzz"}`
		}
		return "{" + strings.Join(ms, ",") + "}"
	case s.is("array"):
		item := "null"
		if s.Items != nil {
			// An item takes its array's name: "specialties" → a specialty.
			item = g.value(s.Items, strings.TrimSuffix(strings.TrimSuffix(name, "s"), "ie"), at+"."+name)
			if name == "specialties" {
				item = str("NEUROLOGY")
			}
			if name == "languages" {
				item = str("en")
			}
		}
		return "[" + item + "]"
	case s.is("integer"), s.is("number"):
		return strconv.FormatFloat(lowest(s), 'f', -1, 64)
	case s.is("boolean"):
		return "true"
	case s.is("string"):
		return str(stringValue(s))
	}
	return "null"
}

func lowest(s *schema) float64 {
	if s.Minimum != nil {
		return *s.Minimum
	}
	return 1
}

// stringValue is a valid string of s by its format and pattern.
func stringValue(s *schema) string {
	switch s.Format {
	case "uuid":
		return "{uuid}"
	case "date":
		return "1985-04-12"
	case "date-time":
		return "2030-01-01T00:00:00Z"
	case "email":
		return "{email}"
	}
	if s.Pattern == "^[A-Z]{2}$" {
		return "DE"
	}
	n := 12
	if s.MinLength != nil && *s.MinLength > n {
		n = *s.MinLength
	}
	if s.MaxLength != nil && *s.MaxLength < n {
		n = *s.MaxLength
	}
	return strings.Repeat("f", n)
}

// queryValue is a valid query value of s, already URL-encoded.
func queryValue(s *schema) string {
	if s == nil {
		return "x"
	}
	if s.is("integer") || s.is("number") {
		return strconv.FormatFloat(lowest(s), 'f', -1, 64)
	}
	return stringValue(s)
}

// str is a JSON string of s, which is valid UTF-8.
func str(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// replaceMember swaps the value of the member name of the JSON object
// doc, whose current raw value is old; doc was built by value, so the
// member is written as "name":old. An absent member is added.
func replaceMember(doc, name, old, raw string) string {
	m := str(name) + ":" + old
	if i := strings.Index(doc, m); i >= 0 {
		return doc[:i] + str(name) + ":" + raw + doc[i+len(m):]
	}
	if doc == "{}" {
		return "{" + str(name) + ":" + raw + "}"
	}
	return "{" + str(name) + ":" + raw + "," + doc[1:]
}

func removeMember(doc, name string) string {
	prefix := str(name) + ":"
	i := strings.Index(doc, prefix)
	if i < 0 {
		return doc
	}
	// The value ends at the next member at this level or the object's end.
	depth, inString, j := 0, false, i+len(prefix)
	for ; j < len(doc); j++ {
		c := doc[j]
		switch {
		case inString && c == '\\':
			j++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return strings.Replace(strings.TrimSuffix(doc[:i], ",")+doc[j:], "{,", "{", 1)
			}
			depth--
		case c == ',' && depth == 0:
			return doc[:i] + doc[j+1:]
		}
	}
	return doc
}

type variant struct{ class, value string }

// deleted, as a query parameter's new value, leaves it out.
const deleted = "\x00deleted"

const (
	kib = 1 << 10
	mb  = 1_000_000
)

// Hostile numbers: beyond float64, negative zero, one past int64, below
// the smallest float64, an exponent that takes long to read.
var hostileNumbers = []variant{
	{"number 1e309", "1e309"}, {"number -0", "-0"}, {"number 2^63", "9223372036854775808"},
	{"number -2^63-1", "-9223372036854775809"}, {"number 1e-400", "1e-400"}, {"number 1e1000000", "1e1000000"},
}

// hostileValues are the values that replace a property's good one: NUL
// and invalid UTF-8 inside an otherwise valid value always, and the
// property's own first check (length, enum, format); in turn, lone
// surrogates, its other checks, huge values and the wrong JSON types. A
// string property of each operation gets a 1 MB string.
func (g *generator) hostileValues(s *schema, good string) []variant {
	var core, more []variant
	switch {
	case s.is("string"):
		inner := `"`
		if strings.HasPrefix(good, `"`) {
			inner = good[1:] // the rest of the good string, closing quote included
		}
		core = []variant{{"NUL", `"a\u0000` + inner}, {"invalid UTF-8", "\"a\xff\xfe" + inner}}
		var own []variant
		if s.MaxLength != nil {
			own = append(own, variant{"maxLength+1", str(strings.Repeat("x", *s.MaxLength+1))})
		}
		if s.MinLength != nil && *s.MinLength > 0 {
			own = append(own, variant{"minLength-1", str(strings.Repeat("x", *s.MinLength-1))})
		}
		if len(s.Enum) > 0 {
			own = append(own, variant{"enum unknown", `"NOT_A_VALUE"`})
			if e, ok := s.Enum[0].(string); ok {
				own = append(own, variant{"enum lower case", str(strings.ToLower(e))})
			}
		}
		switch {
		case s.Format == "uuid":
			own = append(own, variant{"format uuid broken", `"not-a-uuid"`}, variant{"format uuid nil", `"00000000-0000-0000-0000-000000000000"`})
		case s.Format == "date":
			own = append(own, variant{"format date broken", `"2020-13-45"`}, variant{"format date far", `"99999-01-01"`})
		case s.Format == "date-time":
			own = append(own, variant{"format date-time broken", `"31/12/2030"`},
				variant{"format date-time far", `"9999-12-31T23:59:59.999999999+14:00"`})
		case s.Pattern != "":
			own = append(own, variant{"pattern broken", `"de1"`})
		}
		if len(own) > 0 {
			core, more = append(core, own[0]), own[1:]
		}
		more = append(more,
			variant{"lone surrogate", `"a\ud800` + inner}, variant{"NUL alone", `"\u0000"`},
			variant{"overlong UTF-8", "\"\xc0\xaf" + inner}, variant{"reversed surrogates", `"\udc00\ud800` + inner},
			variant{"64 KiB string", str(strings.Repeat("A", 64*kib))}, variant{"empty", `""`},
			variant{"control characters", `"\b\f\n\r\t\u001b\u007f"`})
		for _, v := range hostileNumbers[:3] {
			more = append(more, variant{"type " + v.class, v.value})
		}
		more = append(more, variant{"type boolean", "true"}, variant{"type null", "null"},
			variant{"type object", `{"a":"b"}`}, variant{"type array", `["x"]`})
		out := append(core, pick(g, "value string", more, 0, 1)...)
		if !g.oneMB {
			g.oneMB = true
			out = append(out, variant{"1 MB string", str(strings.Repeat("A", mb))})
		}
		return out
	case s.is("boolean"):
		core = []variant{{"type string", `"true"`}}
		more = []variant{{"type null", "null"}, {"type number", "1"}, {"type " + hostileNumbers[0].class, hostileNumbers[0].value}}
	case s.is("integer"), s.is("number"):
		core, more = hostileNumbers[:1], append(slices.Clone(hostileNumbers[1:]), variant{"type string", `"1"`})
	case s.is("array"):
		core = []variant{{"item NUL", `["a\u0000b"]`}, {"item invalid UTF-8", "[\"a\xff\"]"}}
		more = []variant{{"type string", `"x"`}, {"item lone surrogate", `["\ud800"]`}, {"type object", `{}`},
			{"type null", "null"}, {"item null", "[null]"}, {"item " + hostileNumbers[0].class, "[" + hostileNumbers[0].value + "]"},
			{"empty", "[]"}, {"10000 items", "[" + strings.TrimSuffix(strings.Repeat(good[1:len(good)-1]+",", 10000), ",") + "]"},
			{"nested 10000 deep", strings.Repeat("[", 10000) + strings.Repeat("]", 10000)}}
	case s.is("object"):
		core = []variant{{"NUL in a key", `{"a\u0000":1}`}, {"NUL in a value", `{"a":"b\u0000"}`},
			{"invalid UTF-8 in a key", "{\"\xff\xfe\":1}"}}
		var keys []string
		for i := range 20000 {
			keys = append(keys, `"k`+strconv.Itoa(i)+`":0`)
		}
		more = []variant{{"nested 10000 deep", strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)},
			{"lone surrogate in a value", `{"a":"\ud800"}`},
			{"arrays nested 10000 deep", `{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "}"},
			{"17 KiB", `{"a":` + str(strings.Repeat("x", 17*kib)) + "}"}, {"20000 keys", "{" + strings.Join(keys, ",") + "}"},
			{"type string", `"x"`}, {"type array", "[]"}}
		for _, v := range hostileNumbers[:3] {
			more = append(more, variant{"value " + v.class, `{"n":` + v.value + "}"})
		}
	}
	return append(core, pick(g, "value "+s.kind(), more, 0, 1)...)
}

// hostilePath are the values a path parameter takes, already URL-encoded
// as they go on the wire; {real} is the real resource.
var hostilePath = []variant{
	{"NUL", "%00"},
	{"invalid UTF-8", "%FF%FE"},
	{"lone surrogate", "%ED%A0%80"},
	{"not a uuid", "not-a-uuid"},
	{"unknown uuid", "{uuid}"},
	{"NUL after the real one", "{real}%00"},
	{"nil uuid", "00000000-0000-0000-0000-000000000000"},
	{"upper-case uuid", "FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF"},
	{"overlong UTF-8", "%C0%AF"},
	{"64 KiB", strings.Repeat("A", 64*kib)},
	{"traversal", "..%2F..%2F..%2Fetc%2Fpasswd"},
	{"quote", "%27%20OR%20%271%27=%271"},
	{"number", "-1"},
	{"huge number", "1e309"},
	{"space", "%20"},
	{"unicode", "%C3%BC%E2%80%AE"},
	{"real with a suffix", "{real}x"},
}

type queryVariant struct {
	class, value string
	raw          bool // value is the whole parameter ("{name}=…"), not its value
}

// hostileQuery are the values a query parameter of schema s takes.
func hostileQuery(s *schema) []queryVariant {
	out := []queryVariant{
		{"NUL", "%00", false}, {"NUL after a value", "a%00", false}, {"invalid UTF-8", "%FF%FE", false},
		{"lone surrogate", "%ED%A0%80", false}, {"64 KiB", strings.Repeat("A", 64*kib), false},
		{"empty", "", false}, {"control characters", "%08%0A%0D%1B", false},
		{"repeated", "{name}=1&{name}=2", true}, {"without a value", "{name}", true},
		{"bad escape", "%ZZ", false}, {"plus and spaces", "a+b%20c", false},
	}
	if s == nil {
		return out
	}
	switch {
	case s.is("integer"), s.is("number"):
		for _, v := range hostileNumbers {
			out = append(out, queryVariant{v.class, v.value, false})
		}
		out = append(out, queryVariant{"not a number", "abc", false}, queryVariant{"negative", "-1", false},
			queryVariant{"zero", "0", false}, queryVariant{"huge integer", "99999999999999999999999999", false},
			queryVariant{"fraction", "1.5", false})
		if s.Maximum != nil {
			out = append(out, queryVariant{"maximum+1", strconv.FormatFloat(*s.Maximum+1, 'f', -1, 64), false})
		}
	case s.Format == "uuid":
		out = append(out, queryVariant{"not a uuid", "not-a-uuid", false}, queryVariant{"unknown uuid", "{uuid}", false})
	case s.Format == "date-time":
		out = append(out, queryVariant{"not a time", "yesterday", false},
			queryVariant{"out of range", "2020-13-45T99:99:99Z", false}, queryVariant{"far", "99999-01-01T00:00:00Z", false})
	default:
		out = append(out, queryVariant{"cursor of junk", "eyJ4IjoxfQ", false}, queryVariant{"not base64", "!!!", false},
			queryVariant{"base64 NUL", "AA==", false}, queryVariant{"huge base64", strings.Repeat("QUFB", 16*kib), false})
	}
	return out
}

var hostileWholeQuery = []variant{
	{"NUL name", "?%00=%00"},
	{"unknown parameters", "?zz=1&&&==&a=%FF"},
	{"1 MB", "?q=" + strings.Repeat("A", mb)},
	{"10000 parameters", "?" + strings.TrimSuffix(strings.Repeat("a=1&", 10000), "&")},
}

// hostileHeaders are header lines sent with the valid request. A request
// that names its own Authorization is sent once, not as each caller.
var hostileHeaders = []variant{
	{"Idempotency-Key fixed", "Idempotency-Key: fuzz-fixed-key"},
	{"Idempotency-Key empty", "Idempotency-Key: "},
	{"Idempotency-Key 256 characters", "Idempotency-Key: " + strings.Repeat("k", 256)},
	{"Idempotency-Key 64 KiB", "Idempotency-Key: " + strings.Repeat("k", 64*kib)},
	{"Idempotency-Key invalid UTF-8", "Idempotency-Key: \xff\xfe\xfd"},
	{"Idempotency-Key twice", "Idempotency-Key: {uuid}\nIdempotency-Key: {uuid}"},
	{"no Idempotency-Key", ""},
	{"Authorization garbage", "Authorization: Bearer not-a-token"},
	{"Authorization malformed JWT", "Authorization: Bearer a.b.c"},
	{"Authorization alg none", "Authorization: Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0."},
	{"Authorization basic", "Authorization: Basic dXNlcjpwYXNzd29yZA=="},
	{"Authorization 64 KiB", "Authorization: Bearer " + strings.Repeat("A", 64*kib)},
	{"Authorization invalid UTF-8", "Authorization: Bearer \xff\xfe"},
	{"Authorization empty bearer", "Authorization: Bearer"},
	{"Authorization twice", "Authorization: Bearer a\nAuthorization: Bearer b"},
	{"X-Request-ID hostile", "X-Request-ID: " + strings.Repeat("\xff", 300)},
	{"traceparent garbage", "Traceparent: 00-zzzz-yyyy-01\nTracestate: \xff=\xff"},
	{"X-Forwarded-For garbage", "X-Forwarded-For: garbage, 999.1.1.1, ::ffff:1.2.3.4, \xff"},
	{"Forwarded garbage", "Forwarded: for=\"[::1\";proto=\xff"},
	{"Accept XML", "Accept: application/xml"},
	{"Accept-Language hostile", "Accept-Language: " + strings.Repeat("en;q=0.", 1000)},
	{"Origin", "Origin: http://evil.example"},
	{"Content-Encoding gzip", "Content-Encoding: gzip"},
	{"Expect 100-continue", "Expect: 100-continue"},
	{"1 MB header", "X-Filler: " + strings.Repeat("A", mb)},
	{"1000 headers", strings.TrimSuffix(strings.Repeat("X-Many: 1\n", 1000), "\n")},
}

type contentType struct{ class, value, body string }

// contentTypes replace application/json; body, when set, replaces the
// valid one.
var contentTypes = []contentType{
	{"none", "", ""},
	{"text/plain", "Content-Type: text/plain", ""},
	{"XML", "Content-Type: application/xml", "<a>\x00</a>"},
	{"form", "Content-Type: application/x-www-form-urlencoded", "email=a%00b&password=x"},
	{"multipart", "Content-Type: multipart/form-data; boundary=zz", "--zz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\x00\r\n--zz--\r\n"},
	{"JSON in UTF-16", "Content-Type: application/json; charset=utf-16", ""},
	{"merge patch", "Content-Type: application/merge-patch+json", ""},
	{"broken parameters", "Content-Type: application/json; charset=\"", ""},
	{"garbage", "Content-Type: ;;;=\xff", ""},
	{"wildcard", "Content-Type: */*", ""},
}

// hostileBodies are whole documents in place of the valid one (valid is
// "" for an operation without a body).
func hostileBodies(valid string) []variant {
	if valid == "" {
		valid = "{}"
	}
	first := ""
	if i := strings.Index(valid, `":`); i > 0 {
		first = valid[1 : i+1] // the first member's name, quoted
	}
	out := []variant{
		{"empty", ""},
		{"truncated", valid[:len(valid)-1]},
		{"null", "null"}, {"array", "[]"}, {"string", `"x"`}, {"number", "0"}, {"true", "true"}, {"empty object", "{}"},
		{"trailing garbage", valid + "xyz"},
		{"two documents", valid + valid},
		{"byte order mark", "\xef\xbb\xbf" + valid},
		{"unknown member", `{"zzUnknown":1,` + strings.TrimPrefix(valid, "{")},
		{"raw NUL", "{\"a\x00\":\"\x00\"}"},
		{"raw invalid UTF-8", valid + "\xff"},
		{"comment", "/* c */" + valid},
		{"single quotes", `{'a':'b'}`},
		{"NaN", `{"a":NaN}`},
		{"arrays nested 100000 deep", strings.Repeat("[", 100000) + strings.Repeat("]", 100000)},
		{"objects nested 10000 deep", strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)},
		{"unclosed nesting", strings.Repeat("[", 50000)},
		{"over 1 MiB", `{"a":` + str(strings.Repeat("A", 2*mb)) + "}"},
	}
	for _, v := range hostileNumbers {
		out = append(out, variant{"top-level " + v.class, v.value})
	}
	if first != "" {
		rest := strings.TrimPrefix(valid, "{")
		out = append(out,
			variant{"duplicate key with a NUL", "{" + first + `:"\u0000",` + rest},
			variant{"duplicate key of another type", "{" + first + ":12345," + rest},
			variant{"duplicate key after", strings.TrimSuffix(valid, "}") + "," + first + `:"\ud800"}`},
		)
	}
	return out
}

// unrouted are requests beside the operations: unknown paths and
// methods, and the operational endpoints.
func (g *generator) unrouted() {
	for _, v := range []variant{
		{"unknown path", "/api/v2/nothing"}, {"NUL path", "/api/v1/%00"}, {"invalid UTF-8 path", "/api/v1/%FF/%FE"},
		{"traversal", "/api/v1/../../etc/passwd"}, {"encoded traversal", "/api/v1/..%2F..%2Fetc%2Fpasswd"},
		{"64 KiB path", "/api/v1/" + strings.Repeat("a/", 32*kib)}, {"well-known hostile", "/.well-known/%FF%00"},
		{"health", "/api/health"}, {"ready", "/api/ready"}, {"metrics", "/metrics"}, {"openapi", "/openapi.json"},
		{"asyncapi", "/asyncapi.json"}, {"docs", "/docs"}, {"root", "/"},
	} {
		g.add("unrouted: "+v.class, "GET", v.value, "", nil)
		g.add("unrouted: "+v.class+", POST", "POST", v.value, "Content-Type: application/json", []byte(`{"a":"\u0000"}`))
	}
	g.add("unrouted: made-up method", "X00000001", "/api/v1/cases", "", nil)
	g.add("unrouted: long method", strings.Repeat("M", 4*kib), "/api/v1/cases", "", nil)
}
