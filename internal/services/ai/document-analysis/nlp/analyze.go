package nlp

import (
	"sort"
)

// sentence is a sentence of the document with its section.
type sentence struct {
	page       int
	start, end int
	section    SectionKind
	secIndex   int // index in Analysis.Sections, -1 in SectionNone
	entities   []int
}

// Analyze reads a document's pages and returns its analysis. It is
// deterministic, does no I/O and never fails: a document without recognisable
// content yields an Analysis with empty lists. Pages are analysed in the
// order given; a section continues across pages until the next heading.
func Analyze(pages []Page) *Analysis {
	a := &Analysis{Version: Version, Sections: []Section{}, Entities: []Entity{}, Concepts: []CodedConcept{},
		KeyFindings: []Finding{}, Summary: []SummarySentence{}}
	lx := dictionary()
	var sents []sentence
	cur, curIdx := SectionNone, -1
	for _, p := range pages {
		text := p.Text
		segStart := 0
		flush := func(end int) {
			for _, s := range splitSentences(text, segStart, end) {
				sents = append(sents, sentence{page: p.Number, start: s[0], end: s[1], section: cur, secIndex: curIdx})
			}
		}
		first := len(sents) == 0 && len(a.Sections) == 0
		for _, l := range splitLines(text) {
			h, ok := detectHeading(text, l)
			if !ok {
				if skipLine(text, l, first) {
					// a title or sub-heading: not extracted, section unchanged
					flush(l.start)
					segStart = l.end
				}
				if ls, le := trimSpan(text, l.start, l.end); ls < le {
					first = false
				}
				continue
			}
			first = false
			flush(h.start)
			if curIdx >= 0 {
				a.Sections[curIdx].End = Position{Page: p.Number, Offset: h.start}
			}
			a.Sections = append(a.Sections, Section{Kind: h.kind, Heading: text[h.start:h.end],
				Cite: Span{Page: p.Number, Start: h.start, End: h.end}})
			cur, curIdx = h.kind, len(a.Sections)-1
			segStart = h.bodyStart
		}
		flush(len(text))
		if curIdx >= 0 {
			a.Sections[curIdx].End = Position{Page: p.Number, Offset: len(text)}
		}
	}
	texts := map[int]string{}
	for _, p := range pages {
		texts[p.Number] = p.Text
	}
	for si := range sents {
		s := &sents[si]
		text := texts[s.page]
		toks := tokenize(text, s.start, s.end)
		var ctx []ctxEntity
		lastEnd := 0 // first token not yet used by an entity
		for i := 0; i < len(toks); {
			if toks[i].kind == tokPunct {
				i++
				continue
			}
			m, ok := lx.longestAt(toks, i)
			if !ok {
				i++
				continue
			}
			e := Entity{Section: s.section, Match: m.term.match}
			if m.plural && e.Match == MatchPreferred {
				e.Match = MatchSynonym
			}
			from, to := m.from, m.to
			endByte := toks[to-1].end
			switch m.term.kind {
			case lexLab, lexVital:
				meas, eb, next, ok := measurement(text, toks, to, s.end, m.term)
				if !ok {
					i++
					continue
				}
				e.Type = Lab
				if m.term.kind == lexVital {
					e.Type = Vital
				}
				e.Match = MatchPattern
				e.Measurement = meas
				endByte, to = eb, next
			case lexMedication:
				e.Type = Medication
				d, next := medicationDetail(text, toks, to, m.term.canonical)
				e.Medication = d
				if next > to {
					endByte, to = toks[next-1].end, next
				}
			case lexCondition:
				e.Type = Condition
				if m.term.code != "" {
					e.Concept = &Concept{System: "ICD-10", Code: m.term.code, Term: m.term.canonical}
				}
			case lexIgnore:
				i = to
				continue
			case lexProcedure:
				e.Type = Procedure
			case lexAnatomy:
				e.Type = Anatomy
				// laterality written before the organ: "left breast"
				if from > lastEnd && from > 0 && lateral[toks[from-1].norm] && toks[from-1].kind == tokWord {
					from--
				}
			}
			startByte := toks[from].start
			e.Text = text[startByte:endByte]
			e.Cite = Span{Page: s.page, Start: startByte, End: endByte}
			idx := len(a.Entities)
			a.Entities = append(a.Entities, e)
			s.entities = append(s.entities, idx)
			applies := e.Type == Condition || e.Type == Medication || e.Type == Procedure
			ctx = append(ctx, ctxEntity{from: from, to: to, idx: idx, applies: applies, cond: e.Type == Condition})
			lastEnd = to
			i = to
		}
		applyContext(text, s.page, toks, ctx, a.Entities)
		if s.secIndex >= 0 && s.section == SectionFamilyHistory {
			sec := a.Sections[s.secIndex]
			for _, c := range ctx {
				if c.applies {
					sectionContext(&a.Entities[c.idx], s.section, sec.Cite, sec.Heading)
				}
			}
		}
	}
	for i := range a.Entities {
		a.Entities[i].Confidence = entityConfidence(&a.Entities[i])
	}
	a.Concepts = concepts(a.Entities)
	a.KeyFindings = keyFindings(a.Entities)
	a.Summary = summarize(sents, texts, a.Entities)
	a.Confidence = overallConfidence(a)
	return a
}

// lateral words join the anatomy term they precede.
var lateral = map[string]bool{"left": true, "right": true, "bilateral": true, "both": true}

// concepts groups condition entities by code, in order of first mention.
func concepts(ents []Entity) []CodedConcept {
	out := []CodedConcept{}
	at := map[string]int{}
	for i, e := range ents {
		if e.Concept == nil {
			continue
		}
		k, ok := at[e.Concept.Code]
		if !ok {
			k = len(out)
			at[e.Concept.Code] = k
			out = append(out, CodedConcept{Concept: *e.Concept})
		}
		out[k].Mentions = append(out[k].Mentions, i)
		if !e.Negated && !e.Family {
			out[k].Asserted = true
		}
	}
	return out
}

// sortFindings sorts findings by score, then by position in the document.
func sortFindings(f []Finding) {
	sort.SliceStable(f, func(i, j int) bool {
		if f[i].Score != f[j].Score {
			return f[i].Score > f[j].Score
		}
		return f[i].Entity < f[j].Entity
	})
}
