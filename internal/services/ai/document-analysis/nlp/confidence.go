package nlp

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Confidence heuristic (documented in doc.go). An entity starts from how it
// was recognised:
//
//	PREFERRED 0.90   the dictionary's preferred term
//	SYNONYM   0.85   a synonym, or a plural of the preferred term
//	ABBREVIATION 0.75 an upper-case abbreviation (abbreviations are ambiguous)
//	PATTERN   0.90   a lab or vital name with a value and a unit; 0.75 without a unit
//
// then adds
//
//	+0.05 in a section where its type is expected (conditions in FINDINGS,
//	      IMPRESSION, HISTORY; drugs in MEDICATIONS, PLAN; labs in LABS;
//	      vitals in VITALS, EXAMINATION; procedures in PROCEDURES, FINDINGS, PLAN)
//	+0.05 a drug with a dose; a lab with a stated reference range
//	-0.05 a negation, family or historical cue was applied (the context rules
//	      are less sure than the dictionary)
//	-0.20 uncertain (the text itself hedges)
//
// and is clamped to [0.05, 0.99], rounded to two decimals.
func entityConfidence(e *Entity) float64 {
	c := 0.0
	switch e.Match {
	case MatchPreferred:
		c = 0.90
	case MatchSynonym:
		c = 0.85
	case MatchAbbreviation:
		c = 0.75
	case MatchPattern:
		c = 0.90
		if e.Measurement != nil && e.Measurement.Unit == "" {
			c = 0.75
		}
	}
	if expected[e.Type][e.Section] {
		c += 0.05
	}
	if e.Medication != nil && e.Medication.Dose != "" {
		c += 0.05
	}
	if e.Measurement != nil && e.Measurement.RefSource == "STATED" {
		c += 0.05
	}
	if e.Negated || e.Family || e.Historical {
		c -= 0.05
	}
	if e.Uncertain {
		c -= 0.20
	}
	return round2(math.Max(0.05, math.Min(0.99, c)))
}

var expected = map[EntityType]map[SectionKind]bool{
	Condition:  {SectionFindings: true, SectionImpression: true, SectionHistory: true},
	Medication: {SectionMedications: true, SectionPlan: true},
	Lab:        {SectionLabs: true},
	Vital:      {SectionVitals: true, SectionExamination: true},
	Procedure:  {SectionProcedures: true, SectionFindings: true, SectionPlan: true},
	Anatomy:    {SectionFindings: true, SectionExamination: true},
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// sectionWeight is how much a section counts for key findings and the
// summary: the conclusion first, then the findings, then the rest.
func sectionWeight(k SectionKind) float64 {
	switch k {
	case SectionImpression:
		return 3
	case SectionFindings:
		return 2
	case SectionLabs, SectionVitals, SectionExamination, SectionCourse:
		return 1
	case SectionHistory, SectionPlan, SectionNone, SectionProcedures:
		return 0.5
	}
	return 0.25
}

// keyFindings picks the positive conditions (not negated, not the family's)
// and the labs and vitals outside their range. Score = section weight +
// confidence − 1 if historical − 0.5 if uncertain. Mentions of one ICD-10
// code (or of one lab name) merge into the best-scored one; the rest are
// listed in Also. Sorted by score, then by order in the document.
func keyFindings(ents []Entity) []Finding {
	out := []Finding{}
	at := map[string]int{}
	for i, e := range ents {
		var key string
		switch {
		case e.Type == Condition && !e.Negated && !e.Family:
			key = "C:" + strings.ToLower(e.Text)
			if e.Concept != nil {
				key = "C:" + e.Concept.Code
			}
		case (e.Type == Lab || e.Type == Vital) && e.Measurement != nil && (e.Measurement.Flag == FlagHigh || e.Measurement.Flag == FlagLow):
			key = "M:" + e.Measurement.Name
		default:
			continue
		}
		score := sectionWeight(e.Section) + e.Confidence
		if e.Historical {
			score--
		}
		if e.Uncertain {
			score -= 0.5
		}
		f := Finding{Label: findingLabel(&e), Type: e.Type, Entity: i, Cite: e.Cite, Section: e.Section,
			Uncertain: e.Uncertain, Historical: e.Historical, Score: round2(score), Confidence: e.Confidence}
		if e.Concept != nil {
			f.Code = e.Concept.Code
		}
		if e.Measurement != nil {
			f.Flag = e.Measurement.Flag
		}
		if k, ok := at[key]; ok {
			old := &out[k]
			if f.Score > old.Score {
				f.Also = append(append(old.Also, old.Cite), f.Also...)
				*old = f
			} else {
				old.Also = append(old.Also, f.Cite)
			}
			continue
		}
		at[key] = len(out)
		out = append(out, f)
	}
	sortFindings(out)
	return out
}

// findingLabel describes an entity for a reader.
func findingLabel(e *Entity) string {
	var b strings.Builder
	switch {
	case e.Measurement != nil:
		m := e.Measurement
		fmt.Fprintf(&b, "%s %s", m.Name, m.ValueText)
		if m.Unit != "" {
			b.WriteString(" " + m.Unit)
		}
		if m.Flag != "" {
			b.WriteString(" " + string(m.Flag))
		}
		if m.RefText != "" {
			b.WriteString(" (reference " + strings.Trim(m.RefText, "()[] ") + ")")
		}
	case e.Concept != nil:
		fmt.Fprintf(&b, "%s (%s %s)", e.Text, e.Concept.System, e.Concept.Code)
	default:
		b.WriteString(e.Text)
	}
	if e.Uncertain {
		b.WriteString(", uncertain")
	}
	if e.Historical {
		b.WriteString(", historical")
	}
	return b.String()
}

// summarize picks the extractive summary: each sentence scores its section's
// weight, +1 per positive condition (at most 3), +1 per lab or vital outside
// its range (at most 3), +0.5 per negated condition in IMPRESSION or FINDINGS
// (a pertinent negative, at most 2), −1 for a sentence of fewer than four
// words. Sentences scoring at least 2 are candidates; the best
// max(3, min(6, n/5)) of them (ties: earlier first) are returned in document
// order.
func summarize(sents []sentence, texts map[int]string, ents []Entity) []SummarySentence {
	type cand struct {
		s     SummarySentence
		order int
	}
	var cs []cand
	for i, s := range sents {
		text := texts[s.page][s.start:s.end]
		score := sectionWeight(s.section)
		reasons := []string{fmt.Sprintf("section %s +%g", s.section, sectionWeight(s.section))}
		pos, abn, neg := 0, 0, 0
		for _, ei := range s.entities {
			e := ents[ei]
			switch {
			case e.Type == Condition && !e.Negated && !e.Family:
				pos++
			case e.Type == Condition && e.Negated && (s.section == SectionImpression || s.section == SectionFindings):
				neg++
			case e.Measurement != nil && (e.Measurement.Flag == FlagHigh || e.Measurement.Flag == FlagLow):
				abn++
			}
		}
		if pos > 0 {
			n := min(pos, 3)
			score += float64(n)
			reasons = append(reasons, fmt.Sprintf("%d positive condition(s) +%d", pos, n))
		}
		if abn > 0 {
			n := min(abn, 3)
			score += float64(n)
			reasons = append(reasons, fmt.Sprintf("%d abnormal result(s) +%d", abn, n))
		}
		if neg > 0 {
			n := 0.5 * float64(min(neg, 2))
			score += n
			reasons = append(reasons, fmt.Sprintf("%d pertinent negative(s) +%g", neg, n))
		}
		if len(strings.Fields(text)) < 4 {
			score--
			reasons = append(reasons, "fewer than 4 words -1")
		}
		if score < 2 {
			continue
		}
		cs = append(cs, cand{s: SummarySentence{Text: text, Cite: Span{Page: s.page, Start: s.start, End: s.end},
			Score: score, Reasons: reasons}, order: i})
	}
	k := max(3, min(6, len(sents)/5))
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].s.Score > cs[j].s.Score })
	if len(cs) > k {
		cs = cs[:k]
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].order < cs[j].order })
	out := make([]SummarySentence, len(cs))
	for i, c := range cs {
		out[i] = c.s
	}
	return out
}

func overallConfidence(a *Analysis) float64 {
	var sum float64
	n := 0
	if len(a.KeyFindings) > 0 {
		for _, f := range a.KeyFindings {
			sum += f.Confidence
			n++
		}
	} else {
		for _, e := range a.Entities {
			sum += e.Confidence
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return round2(sum / float64(n))
}
