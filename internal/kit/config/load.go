// Package config reads configuration from environment variables (or flags
// that override them) into the struct a target declares, and prints it
// back with secrets masked. It knows how to read variables, not which ones
// exist: each service module and the app declare their own.
//
// A field is read from the variable its `env` tag names, else takes its
// `default` tag. `secret:"true"` masks a value when printed, `secret:"url"`
// masks the credentials inside a URL; `doc` describes the setting. An
// empty value counts as unset (Kubernetes ConfigMaps often carry them),
// unless the tag says `env:"NAME,empty"`.
//
// Field types: string, bool, int, time.Duration (Go syntax or bare
// seconds), []string (comma-separated), map[string]string ("k=v,…") and
// any encoding.TextUnmarshaler, which validates its own form. After the
// fields, a Validate method on the struct checks what spans several.
// Every failure names its variable, and all are reported at once.
package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Lookup reads one variable: os.LookupEnv, or flags over the environment.
type Lookup func(name string) (string, bool)

// Errorf is a failure of the variable name, as Load and Validate report it.
func Errorf(name, format string, args ...any) error {
	return fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
}

// Load fills the env-tagged fields of dst, a pointer to a struct, and runs
// its Validate method when it has one.
func Load(get Lookup, dst any) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: load into %T: want a pointer to a struct", dst)
	}
	var errs []error
	for _, f := range fields(v.Elem()) {
		raw, ok := get(f.name)
		raw = strings.TrimSpace(raw)
		if !ok || (raw == "" && !f.empty) {
			if f.def == "" {
				continue
			}
			raw = f.def
		}
		if err := set(f.value, raw); err != nil {
			errs = append(errs, Errorf(f.name, "%v", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if c, ok := dst.(interface{ Validate() error }); ok {
		return c.Validate()
	}
	return nil
}

// Setting is one variable as `secondopinion config` prints it.
type Setting struct {
	Name    string
	Value   string // masked when secret
	Default string
	Doc     string
	Secret  bool
}

// Settings lists the settings of cfg, a struct or a pointer to one, in
// field order, with secrets masked.
func Settings(cfg any) []Setting {
	v := reflect.Indirect(reflect.ValueOf(cfg))
	var out []Setting
	for _, f := range fields(v) {
		s := Setting{Name: f.name, Default: f.def, Doc: f.doc, Secret: f.secret != ""}
		s.Value = format(f.value)
		switch f.secret {
		case "url":
			s.Value = redactURLs(s.Value)
		case "":
		default:
			s.Value = Mask(s.Value)
		}
		out = append(out, s)
	}
	return out
}

type field struct {
	name, def, doc, secret string
	empty                  bool
	value                  reflect.Value
}

func fields(v reflect.Value) []field {
	var out []field
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("env")
		if !ok || !sf.IsExported() {
			continue
		}
		name, opt, _ := strings.Cut(tag, ",")
		out = append(out, field{name: name, def: sf.Tag.Get("default"), doc: sf.Tag.Get("doc"),
			secret: secretTag(sf.Tag.Get("secret")), empty: opt == "empty", value: v.Field(i)})
	}
	return out
}

func secretTag(s string) string {
	if s == "false" {
		return ""
	}
	return s
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	textType     = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// set parses raw into v by v's type. Errors never repeat raw: it may be a
// secret.
func set(v reflect.Value, raw string) error {
	if v.CanAddr() && v.Addr().Type().Implements(textType) {
		return v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(raw))
	}
	switch {
	case v.Type() == durationType:
		d, err := ParseDuration(raw)
		switch {
		case err != nil:
			return fmt.Errorf("must be a duration such as 30s or 72h, got %q", raw)
		case d < 0:
			return fmt.Errorf("must be a positive duration such as 30s or 72h, got %q", raw)
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(raw)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("must be true or false, got %q", raw)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("must be a whole number, got %q", raw)
		}
		v.SetInt(n)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		v.Set(reflect.ValueOf(SplitList(raw)).Convert(v.Type()))
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String && v.Type().Elem().Kind() == reflect.String:
		m := reflect.MakeMap(v.Type())
		for _, pair := range SplitList(raw) {
			k, val, ok := strings.Cut(pair, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return errors.New("want key=value pairs separated by commas")
			}
			m.SetMapIndex(reflect.ValueOf(strings.TrimSpace(k)), reflect.ValueOf(strings.TrimSpace(val)))
		}
		v.Set(m)
	default:
		return fmt.Errorf("config: unsupported field type %s", v.Type())
	}
	return nil
}

// format prints a value the way it is written in its variable.
func format(v reflect.Value) string {
	if s, ok := v.Interface().(fmt.Stringer); ok {
		return s.String()
	}
	switch {
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		return strings.Join(v.Convert(reflect.TypeFor[[]string]()).Interface().([]string), ",")
	case v.Kind() == reflect.Map:
		var pairs []string
		for _, k := range v.MapKeys() {
			pairs = append(pairs, k.String()+"="+v.MapIndex(k).String())
		}
		slices.Sort(pairs)
		return strings.Join(pairs, ",")
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			return ""
		}
		return "(binary)"
	}
	return fmt.Sprint(v.Interface())
}

// Mask shows whether a secret is set, never the secret.
func Mask(secret string) string {
	if secret == "" {
		return ""
	}
	return "(set)"
}

// redactURLs masks the credentials of a comma-separated list of URLs.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, u := range parts {
		parts[i] = RedactURL(strings.TrimSpace(u))
	}
	return strings.Join(parts, ",")
}
