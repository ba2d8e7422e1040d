// Package page owns cursor pagination, the contract of every list the
// platform serves: a Page of items and the opaque cursor of the next one.
// Cursors mark a position in a list ordered by (time, id), which inserts do
// not shift as they shift offsets.
package page

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// Page is one page of a list: {items, nextCursor}.
type Page[T any] struct {
	Items      []T    `json:"items" nullable:"false"`
	NextCursor string `json:"nextCursor,omitempty" doc:"the cursor of the next page; absent on the last page"`
}

// Cursor marks a position in a list ordered by (time, id). Callers see it
// only as an opaque string.
type Cursor struct {
	Time time.Time `json:"t"`
	ID   string    `json:"i"`
}

// Encode returns the opaque form of c.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Field is the name of the parameter that carries a cursor.
const Field = "cursor"

// Decode parses an opaque cursor; "" is the start of the list.
func Decode(s string) (Cursor, error) {
	var c Cursor
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.ID == "" {
		return Cursor{}, fault.Invalid(Field, "not a cursor returned by this API")
	}
	return c, nil
}

// Of maps items to a page's items, with the next page's cursor.
func Of[S, T any](items []S, next string, f func(S) T) Page[T] {
	p := Page[T]{Items: make([]T, 0, len(items)), NextCursor: next}
	for _, it := range items {
		p.Items = append(p.Items, f(it))
	}
	return p
}
