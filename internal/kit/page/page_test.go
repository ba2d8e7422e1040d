package page

import (
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/fault"
)

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{ID: "abc", Time: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	got, err := Decode(c.Encode())
	if err != nil || got != c {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, bad := range []string{"%%%", Cursor{}.Encode()} {
		if _, err := Decode(bad); !fault.Is(err, fault.KindInvalid) {
			t.Errorf("cursor %q: %v", bad, err)
		} else if f, _ := fault.As(err); f.Field != Field {
			t.Errorf("cursor %q: field %q", bad, f.Field)
		}
	}
	if got, err := Decode(""); err != nil || got != (Cursor{}) {
		t.Errorf("the start of a list: %v %v", got, err)
	}
}

func TestOf(t *testing.T) {
	p := Of([]int{1, 2}, "next", func(i int) string { return string(rune('a' + i)) })
	if len(p.Items) != 2 || p.Items[1] != "c" || p.NextCursor != "next" {
		t.Errorf("page %+v", p)
	}
	// An empty list is [], never null: the document says items is an array.
	if empty := Of[int, int](nil, "", func(i int) int { return i }); empty.Items == nil {
		t.Error("nil items")
	}
}
