package domain

import (
	"fmt"
	"strings"
)

// Cite points at the words of a document a finding rests on: the page and
// the byte offsets [Start, End) of that page's text, as document-analysis
// extracted it.
type Cite struct {
	DocumentID string
	Page       int
	Start      int
	End        int
}

// Finding is one finding of the pre-analysis. ID names it within the
// case's pre-analysis, for the professional's accept, edit or reject.
type Finding struct {
	ID         string
	Label      string // e.g. "pneumonia (J18), uncertain"; the synthesis' sentence
	Type       string // the entity type; "" for the synthesis' findings
	Code       string // the ICD-10 code, if any
	Text       string // the cited words; "" for the synthesis' findings
	Flag       string
	Uncertain  bool
	Historical bool
	Confidence float64
	Cite       Cite
}

// Passage is a sentence of a document's extractive summary.
type Passage struct {
	Text  string
	Score float64
	Cite  Cite
}

// Document is one document's part of the pre-analysis.
type Document struct {
	DocumentID string
	FileType   string
	Status     string // document-analysis': OK, PARTIAL, OCR_UNAVAILABLE, FAILED
	Reason     string
	Findings   []Finding
	Summary    []Passage
}

// Synthesis is the case-level summary a provider wrote from the
// documents' passages.
type Synthesis struct {
	Summary     string
	KeyFindings []Finding
	Provider    string
	Model       string
}

// PreAnalysis is what the professional starts from.
type PreAnalysis struct {
	Documents []Document
	// Synthesis is nil when no document had anything to synthesise (all
	// unreadable, or without findings and summary).
	Synthesis *Synthesis
}

// SourcePassage is a passage the providers' synthesis is asked to rest
// on, at [Start, End) of its page.
type SourcePassage struct {
	Page, Start, End int
	Kind             string // FINDING or SENTENCE, as ai-providers names them
	Text             string
	Confidence       float64
}

// What one document contributes to the synthesis: its strongest findings
// and summary sentences bound a request to a provider whatever the size
// of the records.
const (
	maxFindingPassages  = 25
	maxSentencePassages = 10
)

// Sources are the passages of d the synthesis rests on; none for a
// document with nothing readable.
func Sources(d Document) []SourcePassage {
	var out []SourcePassage
	for _, f := range d.Findings[:min(len(d.Findings), maxFindingPassages)] {
		if strings.TrimSpace(f.Text) == "" {
			continue
		}
		out = append(out, SourcePassage{Page: f.Cite.Page, Start: f.Cite.Start, End: f.Cite.End, Kind: "FINDING",
			Text: f.Text, Confidence: f.Confidence})
	}
	for _, p := range d.Summary[:min(len(d.Summary), maxSentencePassages)] {
		if strings.TrimSpace(p.Text) == "" {
			continue
		}
		out = append(out, SourcePassage{Page: p.Cite.Page, Start: p.Cite.Start, End: p.Cite.End, Kind: "SENTENCE",
			Text: p.Text, Confidence: min(max(p.Score, 0), 1)})
	}
	return out
}

// maxPassages bounds the passages of one synthesis, below what
// ai-providers accepts (2,000).
const maxPassages = 1500

// DocumentSources are the passages of each document the synthesis rests
// on, in order, leaving out documents with none and those past the
// bound.
func DocumentSources(docs []Document) [][]SourcePassage {
	out := make([][]SourcePassage, len(docs))
	total := 0
	for i, d := range docs {
		src := Sources(d)
		if total+len(src) > maxPassages {
			break
		}
		out[i], total = src, total+len(src)
	}
	return out
}

// Number names every finding of a: "<document id>:<n>" for a document's,
// "synthesis:<n>" for the synthesis', n from 1 in order.
func Number(a PreAnalysis) PreAnalysis {
	for i := range a.Documents {
		d := &a.Documents[i]
		for j := range d.Findings {
			d.Findings[j].ID = fmt.Sprintf("%s:%d", d.DocumentID, j+1)
			d.Findings[j].Cite.DocumentID = d.DocumentID
		}
		for j := range d.Summary {
			d.Summary[j].Cite.DocumentID = d.DocumentID
		}
	}
	if a.Synthesis != nil {
		for j := range a.Synthesis.KeyFindings {
			a.Synthesis.KeyFindings[j].ID = fmt.Sprintf("synthesis:%d", j+1)
		}
	}
	return a
}
