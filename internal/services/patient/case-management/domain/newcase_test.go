package domain

import (
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/kit/fault"
)

func TestValidate(t *testing.T) {
	good := NewCase{
		CustomerID: "0190A4B2-0000-7000-8000-000000000001",
		Specialty:  "CARDIOLOGY",
		Title:      "  Chest pain  ",
		Question:   "Is the stent still needed?",
	}
	got, err := good.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if got.Urgency != "STANDARD" || got.Language != "en" || got.Title != "Chest pain" || got.CustomerID != "0190a4b2-0000-7000-8000-000000000001" {
		t.Errorf("not normalised: %+v", got)
	}

	tests := []struct {
		field string
		edit  func(*NewCase)
	}{
		{"customerId", func(n *NewCase) { n.CustomerID = "42" }},
		{"specialty", func(n *NewCase) { n.Specialty = "cardiology" }},
		{"title", func(n *NewCase) { n.Title = " ab " }},
		{"title", func(n *NewCase) { n.Title = strings.Repeat("é", 201) }},
		{"question", func(n *NewCase) { n.Question = "too short" }},
		{"question", func(n *NewCase) { n.Question = strings.Repeat("x", 5001) }},
		{"urgency", func(n *NewCase) { n.Urgency = "ASAP" }},
		{"language", func(n *NewCase) { n.Language = "EN" }},
		{"language", func(n *NewCase) { n.Language = "eng" }},
	}
	for _, tt := range tests {
		n := good
		tt.edit(&n)
		_, err := n.Validate()
		p, ok := fault.As(err)
		if !ok || p.Kind != fault.KindInvalid || p.Field != tt.field {
			t.Errorf("%s: got %v, want 422 on %s", tt.field, err, tt.field)
		}
	}
	edge := good
	edge.Title, edge.Question, edge.Urgency = strings.Repeat("é", 200), strings.Repeat("x", 5000), "URGENT"
	if _, err := edge.Validate(); err != nil {
		t.Errorf("limits refused: %v", err)
	}
}
