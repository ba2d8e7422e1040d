package domain

import (
	"encoding/json"
	"fmt"
)

// SchemaName names the answer's schema (or tool) at the providers.
const SchemaName = "case_synthesis"

// Prompt is what an LLM adapter sends: instructions, and the case as JSON.
type Prompt struct {
	System string
	User   string
}

// caseInput is the case as the model reads it: only what the request
// holds for the model — no case id, no patient context.
type caseInput struct {
	CaseType  string          `json:"caseType,omitempty"`
	Specialty string          `json:"specialty,omitempty"`
	Language  string          `json:"language"`
	Documents []documentInput `json:"documents"`
}

type documentInput struct {
	DocumentID string         `json:"documentId"`
	Title      string         `json:"title,omitempty"`
	Passages   []passageInput `json:"passages"`
}

type passageInput struct {
	Page       int     `json:"page"`
	Start      int     `json:"start"`
	End        int     `json:"end"`
	Kind       string  `json:"kind"`
	Confidence float64 `json:"confidence,omitempty"`
	Text       string  `json:"text"`
}

// BuildPrompt writes the prompt for req (the view the provider may see).
// withSchema puts the schema in the instructions, for providers that get
// no structured-output parameter.
func BuildPrompt(req SynthesisRequest, withSchema bool) Prompt {
	in := caseInput{CaseType: req.CaseType, Specialty: string(req.Specialty), Language: string(req.Language)}
	for _, d := range req.Documents {
		di := documentInput{DocumentID: d.ID, Title: d.Title}
		for _, p := range d.Passages {
			di.Passages = append(di.Passages, passageInput{Page: p.Page, Start: p.Start, End: p.End, Kind: string(p.Kind), Confidence: p.Confidence, Text: p.Text})
		}
		in.Documents = append(in.Documents, di)
	}
	user, _ := json.Marshal(in) // plain structs: cannot fail
	system := fmt.Sprintf(`You prepare a case synthesis for a medical professional who will review a second-opinion case and decide for themselves. The patient never sees it unreviewed.

Rules:
- Use only the passages of the documents given. Do not add knowledge, diagnoses or advice that the passages do not state.
- Write the summary and each finding's text in the language with ISO 639-1 code %q.
- Give at most %d key findings, the most important first. Each finding cites exactly one passage: copy that passage's documentId and page, and give start and end inside the passage's own start and end (the passage's own start and end when in doubt).
- Give each finding a confidence between 0 and 1: how well the cited passage supports it.
- Text in square brackets such as [NAME], [DATE] or [ID] replaces removed personal identifiers. Keep them as they are and never try to guess what they hide.
- Answer with one JSON object that matches the schema %q and nothing else.`, req.Language, MaxKeyFindings, SchemaName)
	if withSchema {
		system += "\n\nThe JSON schema:\n" + string(SchemaOf(req))
	}
	return Prompt{System: system, User: string(user)}
}
