package domain

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
)

// SynthesisRequest asks for a case-level synthesis of a case's documents:
// a summary and the key findings, each citing the passage it comes from.
type SynthesisRequest struct {
	// RequestID identifies this request for the caller (the processing id
	// of ai-orchestration); it is never sent to a provider.
	RequestID string `json:"requestId,omitempty"`
	// CaseID is the case's UUID; it is never sent to an external provider.
	CaseID string `json:"caseId"`
	// CaseType is a routing key chosen by the caller, upper snake case
	// ("SECOND_OPINION", "IMAGING_REVIEW"); "" matches routes for any type.
	CaseType string `json:"caseType,omitempty"`
	// Specialty is the case's specialty; "" matches routes for any.
	Specialty vocab.Specialty `json:"specialty,omitempty"`
	// Language is the ISO 639-1 language the summary is written in; ""
	// means vocab.DefaultLanguage.
	Language vocab.Language `json:"language,omitempty"`
	// Documents are the case's documents as document-analysis extracted
	// them: passages (findings and sentences) with their position.
	Documents []Document `json:"documents"`
	// Schema is the JSON schema the answer must satisfy; nil means
	// AnswerSchema. A caller may tighten it (fewer findings, say), but it
	// must describe an Answer.
	Schema json.RawMessage `json:"schema,omitempty"`
	// Patient names the direct identifiers of this patient so that they
	// can be removed from the text; it is never sent to an external
	// provider.
	Patient PatientContext `json:"patient"`
	// Consent is what the caller found when it checked the patient's
	// consents. Without AI_PROCESSING no provider is called.
	Consent Consent `json:"consent"`
}

// Consent records the consents the caller checked before asking.
type Consent struct {
	AIProcessing bool `json:"aiProcessing"`
}

// Document is one document of a case, as passages of its extracted text.
type Document struct {
	// ID is the document's id in medical-records; external providers see
	// an alias ("doc-1") instead.
	ID    string `json:"documentId"`
	Title string `json:"title,omitempty"`
	// Passages are what document-analysis found in the document: findings
	// (already free of negated statements) and other sentences, with
	// their place in the page's text.
	Passages []Passage `json:"passages"`
}

// PassageKind tells a finding from any other sentence.
type PassageKind string

const (
	// Finding is a clinical finding document-analysis extracted.
	Finding PassageKind = "FINDING"
	// Sentence is any other sentence of the document.
	Sentence PassageKind = "SENTENCE"
)

// Passage is a span of one page of a document. Start and End are offsets
// into the page's text in the unit document-analysis uses for citations;
// this package only compares them.
type Passage struct {
	Page  int         `json:"page"`
	Start int         `json:"start"`
	End   int         `json:"end"`
	Kind  PassageKind `json:"kind"`
	Text  string      `json:"text"`
	// Confidence is document-analysis's confidence in a finding, 0 to 1;
	// 0 when unknown.
	Confidence float64 `json:"confidence,omitempty"`
}

// PatientContext lists the direct identifiers of the patient (and of
// people around them) as the caller knows them, for Redact. Identifiers
// that the text holds but the context does not are still caught by
// Redact's patterns.
type PatientContext struct {
	Names       []string  `json:"names,omitempty"`       // full names and name parts: given, middle, family, maiden
	DateOfBirth time.Time `json:"dateOfBirth,omitzero"`  // zero when unknown
	Emails      []string  `json:"emails,omitempty"`      //
	Phones      []string  `json:"phones,omitempty"`      // any notation: compared by digits
	Addresses   []string  `json:"addresses,omitempty"`   // address lines; each comma-separated part is removed too
	Identifiers []string  `json:"identifiers,omitempty"` // record numbers, MRNs, insurance numbers
	CaseNumber  string    `json:"caseNumber,omitempty"`  // REGION-YEAR-XXXXXX
}

// Limits of a request: they bound what one call costs and how long it takes.
const (
	MaxDocuments       = 100
	MaxPassages        = 2000 // over all documents
	MaxTextRunes       = 400_000
	maxCaseTypeLen     = 64
	maxTitleRunes      = 300
	maxPassageRunes    = 20_000
	maxContextEntries  = 50
	maxRequestIDLength = 128
)

var caseTypePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// Validate returns r with defaults filled in, or ErrInvalidRequest (as a
// fault naming the field at fault). Details never echo the text: it is
// health data.
func (r SynthesisRequest) Validate() (SynthesisRequest, error) {
	if len(r.RequestID) > maxRequestIDLength {
		return r, invalid("requestId", "must be at most %d characters", maxRequestIDLength)
	}
	id, err := uuid.Parse(r.CaseID)
	if err != nil {
		return r, invalid("caseId", "must be a UUID")
	}
	r.CaseID = id.String()
	if r.CaseType != "" && (len(r.CaseType) > maxCaseTypeLen || !caseTypePattern.MatchString(r.CaseType)) {
		return r, invalid("caseType", "must be upper snake case, at most %d characters", maxCaseTypeLen)
	}
	if r.Specialty != "" && !r.Specialty.Valid() {
		return r, invalid("specialty", "must be one of %s", strings.Join(vocab.Specialty("").Values(), ", "))
	}
	if r.Language == "" {
		r.Language = vocab.DefaultLanguage
	}
	if !r.Language.Valid() {
		return r, invalid("language", "must be an ISO 639-1 code in lower case, e.g. en")
	}
	if len(r.Documents) == 0 || len(r.Documents) > MaxDocuments {
		return r, invalid("documents", "must hold 1 to %d documents", MaxDocuments)
	}
	seen := map[string]bool{}
	passages, runes := 0, 0
	docs := make([]Document, len(r.Documents))
	for i, d := range r.Documents {
		field := fmt.Sprintf("documents[%d]", i)
		d.ID = strings.TrimSpace(d.ID)
		if d.ID == "" || len(d.ID) > 128 {
			return r, invalid(field+".documentId", "must be 1 to 128 characters")
		}
		if seen[d.ID] {
			return r, invalid(field+".documentId", "is repeated")
		}
		seen[d.ID] = true
		if utf8.RuneCountInString(d.Title) > maxTitleRunes {
			return r, invalid(field+".title", "must be at most %d characters", maxTitleRunes)
		}
		if len(d.Passages) == 0 {
			return r, invalid(field+".passages", "must not be empty")
		}
		ps := make([]Passage, len(d.Passages))
		for j, p := range d.Passages {
			pf := fmt.Sprintf("%s.passages[%d]", field, j)
			if p.Kind == "" {
				p.Kind = Finding
			}
			switch {
			case p.Kind != Finding && p.Kind != Sentence:
				return r, invalid(pf+".kind", "must be FINDING or SENTENCE")
			case p.Page < 1:
				return r, invalid(pf+".page", "must be 1 or more")
			case p.Start < 0 || p.End <= p.Start:
				return r, invalid(pf+".end", "must be after start, and start 0 or more")
			case strings.TrimSpace(p.Text) == "":
				return r, invalid(pf+".text", "must not be empty")
			case utf8.RuneCountInString(p.Text) > maxPassageRunes:
				return r, invalid(pf+".text", "must be at most %d characters", maxPassageRunes)
			case p.Confidence < 0 || p.Confidence > 1:
				return r, invalid(pf+".confidence", "must be between 0 and 1")
			}
			runes += utf8.RuneCountInString(p.Text)
			ps[j] = p
		}
		passages += len(ps)
		d.Passages = ps
		docs[i] = d
	}
	if passages > MaxPassages {
		return r, invalid("documents", "must hold at most %d passages in all", MaxPassages)
	}
	if runes > MaxTextRunes {
		return r, invalid("documents", "must hold at most %d characters of text in all", MaxTextRunes)
	}
	r.Documents = docs
	if _, err := compiledSchema(r.Schema); err != nil {
		return r, invalid("schema", "is not a usable JSON schema")
	}
	pc := r.Patient
	if len(pc.Names) > maxContextEntries || len(pc.Emails) > maxContextEntries || len(pc.Phones) > maxContextEntries ||
		len(pc.Addresses) > maxContextEntries || len(pc.Identifiers) > maxContextEntries {
		return r, invalid("patient", "must list at most %d entries of each kind", maxContextEntries)
	}
	return r, nil
}

// document finds a document of r by id.
func (r SynthesisRequest) document(id string) (Document, bool) {
	for _, d := range r.Documents {
		if d.ID == id {
			return d, true
		}
	}
	return Document{}, false
}
