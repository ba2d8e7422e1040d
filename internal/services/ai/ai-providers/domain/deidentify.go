package domain

import (
	"fmt"
	"slices"
)

// Deidentified is the view of a request that an external provider gets,
// with what is needed to read its answer back.
type Deidentified struct {
	// Request holds no case id, no request id, no patient context; its
	// documents are called "doc-1", "doc-2", … and their titles and
	// passages are redacted. Positions (page, start, end) are those of
	// the original text, so citations need no translation.
	Request SynthesisRequest
	// Counts says how many identifiers of each kind were replaced.
	Counts Counts
	ids    map[string]string // alias → document id
}

// Deidentify builds the external view of req (a validated request).
func Deidentify(req SynthesisRequest) Deidentified {
	red := NewRedactor(req.Patient)
	counts := Counts{}
	redact := func(s string) string {
		out, c := red.Redact(s)
		counts.Add(c)
		return out
	}
	view := SynthesisRequest{
		CaseType:  req.CaseType,
		Specialty: req.Specialty,
		Language:  req.Language,
		Schema:    req.Schema,
		Consent:   req.Consent,
		Documents: make([]Document, len(req.Documents)),
	}
	ids := make(map[string]string, len(req.Documents))
	for i, d := range req.Documents {
		alias := fmt.Sprintf("doc-%d", i+1)
		ids[alias] = d.ID
		nd := Document{ID: alias, Passages: slices.Clone(d.Passages)}
		if d.Title != "" {
			nd.Title = redact(d.Title)
		}
		for j := range nd.Passages {
			nd.Passages[j].Text = redact(nd.Passages[j].Text)
		}
		view.Documents[i] = nd
	}
	return Deidentified{Request: view, Counts: counts, ids: ids}
}

// Restore returns ans (an answer to the view, already checked against it)
// with the documents' own ids in its citations.
func (d Deidentified) Restore(ans Answer) Answer {
	out := Answer{Summary: ans.Summary, KeyFindings: slices.Clone(ans.KeyFindings)}
	for i, f := range out.KeyFindings {
		if id, ok := d.ids[f.Citation.DocumentID]; ok {
			out.KeyFindings[i].Citation.DocumentID = id
		}
	}
	return out
}
