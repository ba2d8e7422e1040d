// Package local is the embedded AI provider: an extractive case synthesis
// built from the findings document-analysis already extracted, in
// process, offline and deterministic — the same request always gives the
// same answer. It needs no model, no network and no configuration, so the
// platform works out of the box and the router always has a last resort.
//
// It runs inside the process, so the text never leaves it: the router
// gives it the request as the caller wrote it, not the de-identified view
// (see the domain package's privacy gate). It still needs the patient's
// AI_PROCESSING consent, like every provider.
package local

import (
	"cmp"
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/secondopinion/platform/internal/services/ai/ai-providers/domain"
)

// Name is the provider's name in routes.
const Name = "local"

// Model names the algorithm, so answers say which version wrote them.
const Model = "extractive-v1"

// Defaults of the synthesis.
const (
	maxFindings       = 10
	summaryFindings   = 3
	findingConfidence = 0.5  // a finding whose confidence document-analysis did not give
	sentenceDiscount  = 0.6  // a plain sentence stands in for a finding, with less confidence
	maxFindingRunes   = 1000 // as domain's limit
	maxSummaryRunes   = 4000
)

// Provider is the embedded provider.
type Provider struct{}

// New returns the embedded provider.
func New() *Provider { return &Provider{} }

var _ domain.Provider = (*Provider)(nil)

// Info describes the provider: in-process, so not external.
func (*Provider) Info() domain.ProviderInfo {
	return domain.ProviderInfo{Name: Name, Kind: domain.KindLocal, Model: Model, External: false}
}

// Synthesize answers req with Synthesis, as JSON like any provider's.
func (*Provider) Synthesize(ctx context.Context, req domain.SynthesisRequest) (domain.Reply, error) {
	if err := ctx.Err(); err != nil {
		return domain.Reply{}, err
	}
	raw, err := json.Marshal(Synthesis(req))
	if err != nil {
		return domain.Reply{}, err
	}
	return domain.Reply{Answer: raw, Model: Model}, nil
}

type candidate struct {
	doc   int
	p     domain.Passage
	id    string
	score float64
}

// Synthesis picks the key findings of req: its FINDING passages (its other
// sentences only when a case has no finding at all), most confident first,
// then in the order of the documents, without repeating a finding that
// several documents state. Each cites its own passage. The summary joins
// the first three. It is extractive: its language is the documents'.
func Synthesis(req domain.SynthesisRequest) domain.Answer {
	var found, other []candidate
	for i, d := range req.Documents {
		for _, p := range d.Passages {
			c := candidate{doc: i, p: p, id: d.ID}
			if p.Kind == domain.Sentence {
				c.score = cmp.Or(p.Confidence, findingConfidence) * sentenceDiscount
				other = append(other, c)
				continue
			}
			c.score = cmp.Or(p.Confidence, findingConfidence)
			found = append(found, c)
		}
	}
	if len(found) == 0 {
		found = other
	}
	slices.SortStableFunc(found, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.doc, b.doc), cmp.Compare(a.p.Page, b.p.Page), cmp.Compare(a.p.Start, b.p.Start))
	})
	ans := domain.Answer{KeyFindings: []domain.KeyFinding{}}
	seen := map[string]bool{}
	var summary []string
	for _, c := range found {
		key := normalise(c.p.Text)
		if key == "" || seen[key] {
			continue
		}
		seen[key] = true
		text := clip(strings.Join(strings.Fields(c.p.Text), " "), maxFindingRunes)
		ans.KeyFindings = append(ans.KeyFindings, domain.KeyFinding{
			Text:       text,
			Citation:   domain.Citation{DocumentID: c.id, Page: c.p.Page, Start: c.p.Start, End: c.p.End},
			Confidence: math.Round(c.score*100) / 100,
		})
		if len(summary) < summaryFindings {
			summary = append(summary, sentence(text))
		}
		if len(ans.KeyFindings) == maxFindings {
			break
		}
	}
	ans.Summary = clip(strings.Join(summary, " "), maxSummaryRunes)
	return ans
}

// normalise is the text compared for repeats: lower case, letters and
// digits only.
func normalise(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), " ")
}

// sentence ends s with a full stop unless it has its own.
func sentence(s string) string {
	if r, _ := utf8.DecodeLastRuneInString(s); unicode.IsPunct(r) {
		return s
	}
	return s + "."
}

// clip cuts s to n runes at a word boundary, with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n-1]
	if i := strings.LastIndexFunc(string(r), unicode.IsSpace); i > 0 {
		return strings.TrimSpace(string(r)[:i]) + "…"
	}
	return string(r) + "…"
}
