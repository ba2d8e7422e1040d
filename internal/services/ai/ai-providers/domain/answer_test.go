package domain

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/kit/fault"
)

const (
	docA = "0190a4b2-0000-7000-8000-00000000000a"
	docB = "0190a4b2-0000-7000-8000-00000000000b"
)

func validRequest() SynthesisRequest {
	return SynthesisRequest{
		CaseID:    "0190a4b2-0000-7000-8000-000000000001",
		CaseType:  "SECOND_OPINION",
		Specialty: "ONCOLOGY",
		Language:  "en",
		Consent:   Consent{AIProcessing: true},
		Documents: []Document{
			{ID: docA, Title: "CT report", Passages: []Passage{
				{Page: 1, Start: 100, End: 160, Kind: Finding, Text: "A 3 cm spiculated mass in the right upper lobe.", Confidence: 0.9},
				{Page: 2, Start: 0, End: 40, Kind: Sentence, Text: "No pleural effusion."},
			}},
			{ID: docB, Title: "Pathology", Passages: []Passage{
				{Page: 1, Start: 10, End: 70, Kind: Finding, Text: "Adenocarcinoma, TTF-1 positive.", Confidence: 0.95},
			}},
		},
	}
}

func answerJSON(mut func(m map[string]any)) []byte {
	m := map[string]any{
		"summary": "Right upper lobe mass with biopsy-proven adenocarcinoma.",
		"keyFindings": []any{
			map[string]any{"text": "3 cm mass in the right upper lobe", "confidence": 0.9,
				"citation": map[string]any{"documentId": docA, "page": 1, "start": 100, "end": 160}},
			map[string]any{"text": "Adenocarcinoma, TTF-1 positive", "confidence": 0.95,
				"citation": map[string]any{"documentId": docB, "page": 1, "start": 20, "end": 50}},
		},
	}
	if mut != nil {
		mut(m)
	}
	b, _ := json.Marshal(m)
	return b
}

func finding(m map[string]any, i int) map[string]any {
	return m["keyFindings"].([]any)[i].(map[string]any)
}

func TestParseAnswer(t *testing.T) {
	req, err := validRequest().Validate()
	if err != nil {
		t.Fatal(err)
	}
	ans, err := ParseAnswer(req, answerJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.KeyFindings) != 2 || ans.KeyFindings[1].Citation != (Citation{docB, 1, 20, 50}) {
		t.Errorf("decoded %+v", ans)
	}

	bad := []struct {
		name  string
		raw   []byte
		where string // what the message names
	}{
		{"empty", []byte("  "), "empty"},
		{"truncated", answerJSON(nil)[:60], "not valid JSON"},
		{"not JSON", []byte("Here is the synthesis: the patient has..."), "not valid JSON"},
		{"a list", []byte(`[1,2]`), "schema"},
		{"missing summary", answerJSON(func(m map[string]any) { delete(m, "summary") }), "schema"},
		{"extra field", answerJSON(func(m map[string]any) { m["diagnosis"] = "x" }), "schema"},
		{"no findings", answerJSON(func(m map[string]any) { m["keyFindings"] = []any{} }), "/keyFindings"},
		{"confidence above 1", answerJSON(func(m map[string]any) { finding(m, 0)["confidence"] = 1.5 }), "/keyFindings/0/confidence"},
		{"page as text", answerJSON(func(m map[string]any) { finding(m, 0)["citation"].(map[string]any)["page"] = "1" }), "/keyFindings/0/citation/page"},
		{"blank summary", answerJSON(func(m map[string]any) { m["summary"] = "   " }), "summary: empty"},
		{"blank finding", answerJSON(func(m map[string]any) { finding(m, 1)["text"] = "" }), "keyFindings[1].text"},
		{"unknown document", answerJSON(func(m map[string]any) {
			finding(m, 1)["citation"].(map[string]any)["documentId"] = "0190a4b2-0000-7000-8000-0000000000ff"
		}), "no such document"},
		{"page without passage", answerJSON(func(m map[string]any) { finding(m, 1)["citation"].(map[string]any)["page"] = 7 }), "no passage on page 7"},
		{"span outside the passages", answerJSON(func(m map[string]any) { finding(m, 0)["citation"].(map[string]any)["end"] = 161 }), "lies in no passage"},
		{"span across two pages' passages", answerJSON(func(m map[string]any) {
			c := finding(m, 0)["citation"].(map[string]any)
			c["page"], c["start"], c["end"] = 2, 30, 120
		}), "lies in no passage"},
		{"empty span", answerJSON(func(m map[string]any) {
			c := finding(m, 0)["citation"].(map[string]any)
			c["start"], c["end"] = 120, 120
		}), "empty or negative"},
		{"summary too long", answerJSON(func(m map[string]any) { m["summary"] = strings.Repeat("x", 4001) }), "summary: longer"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAnswer(req, tt.raw)
			if !errors.Is(err, ErrMalformedAnswer) {
				t.Fatalf("got %v, want ErrMalformedAnswer", err)
			}
			if !strings.Contains(err.Error(), tt.where) {
				t.Errorf("message %q does not name %q", err, tt.where)
			}
			// The message names places, never the text of the answer.
			if strings.Contains(err.Error(), "adenocarcinoma") || strings.Contains(err.Error(), "Here is") {
				t.Errorf("message echoes the answer: %q", err)
			}
		})
	}
}

// A caller may tighten the schema; the answer is checked against it.
func TestParseAnswerUsesTheRequestSchema(t *testing.T) {
	req := validRequest()
	req.Schema = json.RawMessage(strings.Replace(string(AnswerSchema), `"maxItems": 20`, `"maxItems": 1`, 1))
	req, err := req.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseAnswer(req, answerJSON(nil)); !errors.Is(err, ErrMalformedAnswer) || !strings.Contains(err.Error(), "maxItems") {
		t.Errorf("got %v, want a maxItems violation", err)
	}
	if _, err := ParseAnswer(req, answerJSON(func(m map[string]any) { m["keyFindings"] = m["keyFindings"].([]any)[:1] })); err != nil {
		t.Errorf("one finding refused: %v", err)
	}
}

func TestValidateRequest(t *testing.T) {
	got, err := validRequest().Validate()
	if err != nil {
		t.Fatal(err)
	}
	if got.Language != "en" {
		t.Errorf("language %q", got.Language)
	}
	r := validRequest()
	r.Language = ""
	r.Documents[0].Passages[0].Kind = ""
	if got, err := r.Validate(); err != nil || got.Language != "en" || got.Documents[0].Passages[0].Kind != Finding {
		t.Errorf("defaults: %v %q %q", err, got.Language, got.Documents[0].Passages[0].Kind)
	}
	if r.Documents[0].Passages[0].Kind != "" {
		t.Error("Validate changed the caller's passages")
	}

	tests := []struct {
		field string
		edit  func(*SynthesisRequest)
	}{
		{"caseId", func(r *SynthesisRequest) { r.CaseID = "EU-2026-7KQ2ZD" }},
		{"caseType", func(r *SynthesisRequest) { r.CaseType = "second opinion" }},
		{"specialty", func(r *SynthesisRequest) { r.Specialty = "oncology" }},
		{"language", func(r *SynthesisRequest) { r.Language = "eng" }},
		{"documents", func(r *SynthesisRequest) { r.Documents = nil }},
		{"documents[1].documentId", func(r *SynthesisRequest) { r.Documents[1].ID = docA }},
		{"documents[0].documentId", func(r *SynthesisRequest) { r.Documents[0].ID = " " }},
		{"documents[0].passages", func(r *SynthesisRequest) { r.Documents[0].Passages = nil }},
		{"documents[0].passages[1].page", func(r *SynthesisRequest) { r.Documents[0].Passages[1].Page = 0 }},
		{"documents[0].passages[1].end", func(r *SynthesisRequest) { r.Documents[0].Passages[1].End = 0 }},
		{"documents[0].passages[1].kind", func(r *SynthesisRequest) { r.Documents[0].Passages[1].Kind = "NEGATION" }},
		{"documents[0].passages[1].text", func(r *SynthesisRequest) { r.Documents[0].Passages[1].Text = " \n" }},
		{"documents[1].passages[0].confidence", func(r *SynthesisRequest) { r.Documents[1].Passages[0].Confidence = 2 }},
		{"schema", func(r *SynthesisRequest) { r.Schema = json.RawMessage(`{"type": 12}`) }},
		{"schema", func(r *SynthesisRequest) { r.Schema = json.RawMessage(`{"$ref": "https://example.com/s.json"}`) }},
	}
	for _, tt := range tests {
		r := validRequest()
		tt.edit(&r)
		_, err := r.Validate()
		f, ok := fault.As(err)
		if !ok || f.Kind != fault.KindInvalid || f.Field != tt.field || !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: got %v, want invalid %s", tt.field, err, tt.field)
		}
	}
}

func TestErrors(t *testing.T) {
	pe := &ProviderError{Provider: "openai", Outcome: RateLimited, StatusCode: 429, RetryAfter: 2e9}
	if !pe.Retryable() || errors.Is(pe, ErrMalformedAnswer) {
		t.Error("rate limit: retryable, not malformed")
	}
	m := Malformedf("anthropic", "no tool_use block")
	if m.Retryable() || !errors.Is(m, ErrMalformedAnswer) || !strings.Contains(m.Error(), "no tool_use block") {
		t.Errorf("malformed: %v", m)
	}
	all := &AllProvidersFailedError{Attempts: []Attempt{
		{Provider: "openai", Outcome: RateLimited, Err: pe},
		{Provider: "anthropic", Outcome: ServerError, Err: &ProviderError{Provider: "anthropic", Outcome: ServerError, StatusCode: 503, RetryAfter: 5e9}},
		{Provider: "local", Outcome: Malformed, Err: m},
	}}
	var err error = all
	if !errors.Is(err, ErrAllProvidersFailed) || all.RetryAfter() != 2e9 {
		t.Errorf("all failed: %v, retry after %s", err, all.RetryAfter())
	}
	for _, want := range []string{"openai: rate_limited (HTTP 429) (retry after 2s)", "anthropic: server_error (HTTP 503)", "local: malformed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	if f, ok := fault.As(Fault(err)); !ok || f.Kind != fault.KindUnavailable || f.RetryAfter != 2e9 {
		t.Errorf("fault of all failed: %+v", f)
	}
	if f, ok := fault.As(Fault(ErrNoConsent)); !ok || f.Kind != fault.KindForbidden {
		t.Errorf("fault of no consent: %+v", f)
	}
	if f, ok := fault.As(Fault(errors.Join(ErrNotAllowed))); !ok || f.Kind != fault.KindForbidden {
		t.Errorf("fault of not allowed: %+v", f)
	}
}
