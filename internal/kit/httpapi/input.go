package httpapi

import (
	"reflect"
	"strings"
)

// input is what an operation's input type takes from a request.
type input struct {
	path, query, header, body bool
	json                      bool              // the body is a Body that huma decodes from JSON, not a RawBody
	params                    map[string]string // parameter name → where it is: "path", "query", …
}

// inputOf reads huma's input tags of I: path, query, header and cookie
// parameters, and a Body or RawBody field.
func inputOf[I any]() input {
	in := input{params: map[string]string{}}
	in.scan(reflect.TypeFor[I]())
	return in
}

func (in *input) scan(t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			in.scan(f.Type)
			continue
		}
		if f.Name == "Body" || f.Name == "RawBody" {
			in.body = true
			in.json = in.json || f.Name == "Body"
			continue
		}
		for _, where := range []string{"path", "query", "header", "cookie"} {
			name, ok := f.Tag.Lookup(where)
			if !ok {
				continue
			}
			name, _, _ = strings.Cut(name, ",")
			in.params[name] = where
			switch where {
			case "path":
				in.path = true
			case "query":
				in.query = true
			default:
				in.header = true
			}
		}
	}
}

// locator places a field a fault names: a parameter of the operation by
// its name, anything else in the body. An operation without a body acts
// on a stored resource, whose field the name is (a submitted opinion that
// lacks its diagnoses: "opinion.diagnoses").
func (in input) locator() locator {
	return func(field string) string {
		if where, ok := in.params[field]; ok {
			return where + "." + field
		}
		if !in.body {
			return field
		}
		return inBody(field)
	}
}
