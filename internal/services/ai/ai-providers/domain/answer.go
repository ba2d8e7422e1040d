package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pb33f/jsonschema/v6"
)

// Answer is a case synthesis: a summary and the key findings, each citing
// the passage it rests on, so that a reviewer can check it.
type Answer struct {
	Summary     string       `json:"summary"`
	KeyFindings []KeyFinding `json:"keyFindings"`
}

// KeyFinding is one finding of the synthesis.
type KeyFinding struct {
	Text       string   `json:"text"`
	Citation   Citation `json:"citation"`
	Confidence float64  `json:"confidence"`
}

// Citation points at a span of a page of a document of the request: it
// lies within one of the passages the request gave for that page.
type Citation struct {
	DocumentID string `json:"documentId"`
	Page       int    `json:"page"`
	Start      int    `json:"start"`
	End        int    `json:"end"`
}

// Limits of an answer.
const (
	MaxKeyFindings  = 20
	maxSummaryRunes = 4000
	maxFindingRunes = 1000
)

// AnswerSchema is the JSON schema of an Answer (draft 2020-12). It keeps
// to the subset that OpenAI's strict structured outputs accept — every
// property required, no additional properties, no string lengths — so the
// same schema is sent to every provider; lengths are checked in Go.
var AnswerSchema = json.RawMessage(`{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "CaseSynthesis",
  "type": "object",
  "additionalProperties": false,
  "required": ["summary", "keyFindings"],
  "properties": {
    "summary": {"type": "string", "description": "A concise synthesis of the case for the reviewing professional."},
    "keyFindings": {
      "type": "array",
      "minItems": 1,
      "maxItems": 20,
      "items": {
        "type": "object",
        "additionalProperties": false,
        "required": ["text", "citation", "confidence"],
        "properties": {
          "text": {"type": "string", "description": "The finding, in one sentence."},
          "citation": {
            "type": "object",
            "additionalProperties": false,
            "required": ["documentId", "page", "start", "end"],
            "properties": {
              "documentId": {"type": "string"},
              "page": {"type": "integer", "minimum": 1},
              "start": {"type": "integer", "minimum": 0},
              "end": {"type": "integer", "minimum": 1}
            }
          },
          "confidence": {"type": "number", "minimum": 0, "maximum": 1}
        }
      }
    }
  }
}`)

// SchemaOf is the schema of r's answer: r.Schema, or AnswerSchema.
func SchemaOf(r SynthesisRequest) json.RawMessage {
	if len(r.Schema) == 0 {
		return AnswerSchema
	}
	return r.Schema
}

var schemas sync.Map // sha256 of the schema → *jsonschema.Schema

// compiledSchema compiles a schema once; nil or empty means AnswerSchema.
// Only the schema itself is read: no $ref is fetched from anywhere.
func compiledSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	if len(raw) == 0 {
		raw = AnswerSchema
	}
	key := sha256.Sum256(raw)
	if s, ok := schemas.Load(key); ok {
		return s.(*jsonschema.Schema), nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	if err := c.AddResource("answer.json", doc); err != nil {
		return nil, err
	}
	s, err := c.Compile("answer.json")
	if err != nil {
		return nil, err
	}
	schemas.Store(key, s)
	return s, nil
}

// noLoader refuses every URL: a schema is self-contained.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema reference %q is not loaded: schemas must be self-contained", url)
}

// ParseAnswer checks a provider's raw answer for the request it was given
// (the de-identified view, for an external provider) and decodes it. It
// returns an error wrapping ErrMalformedAnswer when the answer is not JSON,
// breaks the request's schema, leaves a text empty or too long, or cites a
// document, page or span the request does not hold. Messages name the
// place at fault, never the text.
func ParseAnswer(req SynthesisRequest, raw []byte) (Answer, error) {
	var ans Answer
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ans, malformed("the answer is empty")
	}
	if !json.Valid(raw) {
		return ans, malformed("the answer is not valid JSON (truncated or malformed)")
	}
	schema, err := compiledSchema(req.Schema)
	if err != nil {
		return ans, fmt.Errorf("%w: schema: %v", ErrInvalidRequest, err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return ans, malformed("the answer is not valid JSON")
	}
	if err := schema.Validate(inst); err != nil {
		return ans, malformed("the answer breaks the schema: %s", schemaViolation(err))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ans); err != nil {
		return ans, malformed("the answer is not a case synthesis: %s", decodeProblem(err))
	}
	if err := CheckAnswer(req, ans); err != nil {
		return Answer{}, err
	}
	return ans, nil
}

// CheckAnswer applies the rules a schema cannot express: texts present and
// bounded, confidences in [0, 1], and every citation inside a passage of
// the request.
func CheckAnswer(req SynthesisRequest, ans Answer) error {
	if strings.TrimSpace(ans.Summary) == "" {
		return malformed("summary: empty")
	}
	if utf8.RuneCountInString(ans.Summary) > maxSummaryRunes {
		return malformed("summary: longer than %d characters", maxSummaryRunes)
	}
	if len(ans.KeyFindings) == 0 || len(ans.KeyFindings) > MaxKeyFindings {
		return malformed("keyFindings: must hold 1 to %d findings, holds %d", MaxKeyFindings, len(ans.KeyFindings))
	}
	for i, f := range ans.KeyFindings {
		at := fmt.Sprintf("keyFindings[%d]", i)
		if strings.TrimSpace(f.Text) == "" {
			return malformed("%s.text: empty", at)
		}
		if utf8.RuneCountInString(f.Text) > maxFindingRunes {
			return malformed("%s.text: longer than %d characters", at, maxFindingRunes)
		}
		if !(f.Confidence >= 0 && f.Confidence <= 1) { // also refuses NaN
			return malformed("%s.confidence: not between 0 and 1", at)
		}
		if err := checkCitation(req, f.Citation); err != nil {
			return malformed("%s.citation: %s", at, err)
		}
	}
	return nil
}

func checkCitation(req SynthesisRequest, c Citation) error {
	doc, ok := req.document(c.DocumentID)
	if !ok {
		return errors.New("no such document in the request")
	}
	if c.Start < 0 || c.End <= c.Start {
		return fmt.Errorf("span [%d,%d) is empty or negative", c.Start, c.End)
	}
	onPage := false
	for _, p := range doc.Passages {
		if p.Page != c.Page {
			continue
		}
		onPage = true
		if p.Start <= c.Start && c.End <= p.End {
			return nil
		}
	}
	if !onPage {
		return fmt.Errorf("document %q has no passage on page %d", c.DocumentID, c.Page)
	}
	return fmt.Errorf("span [%d,%d) on page %d lies in no passage of document %q", c.Start, c.End, c.Page, c.DocumentID)
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformedAnswer}, args...)...)
}

// schemaViolation names where and which keyword failed, without the value
// (the library's own message may quote it).
func schemaViolation(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return "invalid"
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	where := "/" + strings.Join(ve.InstanceLocation, "/")
	kw := strings.Join(ve.ErrorKind.KeywordPath(), "/")
	if kw == "" {
		kw = "schema"
	}
	return where + " fails " + kw
}

// decodeProblem describes a decoding error without the value.
func decodeProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		return "unknown field " + strings.TrimPrefix(msg, "json: unknown field ")
	}
	return "invalid"
}
