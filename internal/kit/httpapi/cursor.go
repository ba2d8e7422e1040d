package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/secondopinion/platform/internal/kit/problem"
)

// Cursor marks a position in a list ordered by (time, id) — stable under
// inserts, unlike offsets. Callers see it only as an opaque string.
type Cursor struct {
	Time time.Time `json:"t"`
	ID   string    `json:"i"`
}

// Encode returns the opaque form of c.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses an opaque cursor from the query parameter named
// field; "" is the start of the list.
func DecodeCursor(field, s string) (Cursor, error) {
	var c Cursor
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.ID == "" {
		return Cursor{}, problem.Invalid(field, "not a cursor returned by this API")
	}
	return c, nil
}
