package httpapi

import (
	"reflect"

	"github.com/danielgtaylor/huma/v2"
)

// Vocabulary is a JSON enum: a string type whose Values lists every value
// it may take (api/vocab holds the platform's).
type Vocabulary interface {
	~string
	Values() []string
}

// Enum publishes V in api's documents as a named schema of its values,
// referenced wherever a field of type V appears, and validates input
// against it. The one enum helper: vocabularies stay plain Go.
func Enum[V Vocabulary](api huma.API) {
	api.OpenAPI().Components.Schemas.RegisterTypeAlias(reflect.TypeFor[V](), reflect.TypeFor[enumSchema[V]]())
}

// enumSchema stands in for V when huma derives schemas.
type enumSchema[V Vocabulary] struct{}

func (enumSchema[V]) Schema(r huma.Registry) *huma.Schema {
	var v V
	name := reflect.TypeFor[V]().Name()
	if _, ok := r.Map()[name]; !ok {
		s := &huma.Schema{Type: huma.TypeString}
		for _, x := range v.Values() {
			s.Enum = append(s.Enum, x)
		}
		s.PrecomputeMessages()
		r.Map()[name] = s
	}
	return &huma.Schema{Ref: SchemaPrefix + name}
}
