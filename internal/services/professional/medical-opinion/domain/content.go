package domain

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// Confidences is the vocabulary of an opinion's confidence, lowest first.
var Confidences = []string{"LOW", "MEDIUM", "HIGH"}

// Bounds of an opinion's content, so one opinion stays a readable report
// and a bounded row.
const (
	MaxSummary         = 5000
	MaxAnswer          = 10000
	MaxDiagnoses       = 20
	MaxDescription     = 500
	MaxRecommendations = 20
	MaxRecommendation  = 1000
	MaxReferences      = 20
	MaxReference       = 500
)

// Diagnosis is one diagnosis with its ICD-10 code.
type Diagnosis struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

// Content is what a professional writes. A draft may be partial; Complete
// says whether it can be submitted.
type Content struct {
	Summary         string
	Diagnoses       []Diagnosis
	Recommendations []string
	Confidence      string // "" while undecided in a draft
	Answer          string // to the patient's question
	References      []string
	AIFindings      []Finding // the professional's review of the AI pre-analysis
}

// Validate returns c trimmed, with codes in upper case, or the first field
// at fault. Details never echo the input: it is health data.
func (c Content) Validate() (Content, error) {
	c.Summary = strings.TrimSpace(c.Summary)
	c.Answer = strings.TrimSpace(c.Answer)
	c.Confidence = strings.TrimSpace(c.Confidence)
	if err := maxLen("summary", c.Summary, MaxSummary); err != nil {
		return c, err
	}
	if err := maxLen("answer", c.Answer, MaxAnswer); err != nil {
		return c, err
	}
	if c.Confidence != "" && !slices.Contains(Confidences, c.Confidence) {
		return c, fault.Invalid("confidence", "must be one of %s", strings.Join(Confidences, ", "))
	}
	if len(c.Diagnoses) > MaxDiagnoses {
		return c, fault.Invalid("diagnoses", "at most %d diagnoses", MaxDiagnoses)
	}
	ds := make([]Diagnosis, len(c.Diagnoses))
	for i, d := range c.Diagnoses {
		d.Code = strings.ToUpper(strings.TrimSpace(d.Code))
		d.Description = strings.TrimSpace(d.Description)
		if !ValidICD10(d.Code) {
			return c, fault.Invalid(fmt.Sprintf("diagnoses[%d].code", i), "must be an ICD-10 code such as I25.10")
		}
		if err := required(fmt.Sprintf("diagnoses[%d].description", i), d.Description, MaxDescription); err != nil {
			return c, err
		}
		ds[i] = d
	}
	c.Diagnoses = ds
	var err error
	if c.Recommendations, err = list("recommendations", c.Recommendations, MaxRecommendations, MaxRecommendation); err != nil {
		return c, err
	}
	if c.References, err = list("references", c.References, MaxReferences, MaxReference); err != nil {
		return c, err
	}
	if c.AIFindings, err = validFindings(c.AIFindings); err != nil {
		return c, err
	}
	return c, nil
}

// Complete reports the first part a submitted opinion must have and c
// lacks: a summary, at least one diagnosis, the answer and a confidence.
// The field names the part of the stored opinion ("opinion.summary"), not
// of a request: a submit sends none.
func (c Content) Complete() error {
	switch {
	case c.Summary == "":
		return fault.Invalid("opinion.summary", "is required to submit")
	case len(c.Diagnoses) == 0:
		return fault.Invalid("opinion.diagnoses", "at least one diagnosis is required to submit")
	case c.Answer == "":
		return fault.Invalid("opinion.answer", "is required to submit")
	case c.Confidence == "":
		return fault.Invalid("opinion.confidence", "is required to submit")
	}
	return nil
}

func maxLen(field, s string, n int) error {
	if utf8.RuneCountInString(s) > n {
		return fault.Invalid(field, "at most %d characters", n)
	}
	return nil
}

func required(field, s string, n int) error {
	if s == "" {
		return fault.Invalid(field, "is required")
	}
	return maxLen(field, s, n)
}

// list trims every item of a bounded list of non-empty texts.
func list(field string, items []string, maxItems, maxChars int) ([]string, error) {
	if len(items) > maxItems {
		return nil, fault.Invalid(field, "at most %d items", maxItems)
	}
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = strings.TrimSpace(s)
		if err := required(fmt.Sprintf("%s[%d]", field, i), out[i], maxChars); err != nil {
			return nil, err
		}
	}
	return out, nil
}
