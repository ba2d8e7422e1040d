package nlp

// role is what a context trigger does. A trigger may have several roles.
type role uint16

const (
	negPre       role = 1 << iota // negates what follows: "no", "denies", "negative for"
	negPost                       // negates what precedes: "was ruled out", "is unlikely"
	uncPre                        // makes what follows uncertain: "possible", "suspicious for"
	uncPost                       // "is suspected", "cannot be excluded"
	histPre                       // historical: "history of", "status post"
	histPost                      // "in the past", "has resolved"
	famPre                        // family: "mother", "family history of"
	famPost                       // "in her mother", "on the paternal side"
	pseudo                        // looks like a trigger but is none: "no increase", "not only"
	terminate                     // ends every scope: "but", "however", "which"
	famTerminate                  // ends family scopes only: "the patient", "she"
	condOnly                      // applies to conditions only, not to procedures or drugs
	drugOnly                      // applies to drugs and procedures only: "not on", "hold"
)

// trigger is a context phrase with its roles and its scope in units (a word
// outside entities, or a whole entity, counts one unit; punctuation none).
type trigger struct {
	phrase string
	roles  role
	window int
}

// defaultWindow is the scope of a trigger without its own: ten units, so
// "denies abdominal pain, change in bowel habit, rectal bleeding or weight
// loss" negates all four while a trigger does not reach the far end of a
// long sentence.
const defaultWindow = 10

// triggers lists the context phrases (NegEx/ConText style, written for this
// project). Matching is longest-first on normalised words, so "not ruled out"
// (uncertain) beats "ruled out" (negated) and "no increase" (pseudo) beats
// "no".
var triggers = func() []trigger {
	t := []trigger{}
	add := func(r role, window int, phrases ...string) {
		for _, p := range phrases {
			t = append(t, trigger{phrase: p, roles: r, window: window})
		}
	}
	add(negPre, 0, "no", "not", "never", "none", "without", "w/o", "denies", "denied", "deny", "denying",
		"no evidence of", "no signs of", "no sign of", "no evidence for", "without evidence of", "without signs of",
		"no definite", "no definite evidence of", "no clear evidence of", "no findings of", "no features of",
		"no suggestion of", "no radiological evidence of", "no radiographic evidence of", "no imaging evidence of",
		"negative for", "free of", "absence of", "absent", "ruled out for", "rules out", "rule out for", /* rare */
		"no known", "no longer", "no further", "neither", "nor",
		"resolution of", "fails to reveal", "failed to reveal", "did not reveal", "does not show", "did not show",
		"not demonstrate", "no residual", "no recurrent", "no new", "unremarkable for", "declined", "declines", "refused")
	add(negPre|histPre, 0, "no history of", "no past history of", "no previous", "no prior")
	add(negPre|drugOnly, 1, "not on", "not taking", "off", "hold", "withhold", "stop", "discontinue", "cease", "ceased",
		"stopped", "discontinued")
	add(negPost|condOnly, 6, "was ruled out", "were ruled out", "is ruled out", "has been ruled out", "have been ruled out",
		"ruled out", "excluded", "was excluded", "has been excluded", "were excluded", "is excluded",
		"is unlikely", "unlikely", "are unlikely", "was negative", "were negative", "is negative", "are negative",
		"not seen", "not identified", "not visualized", "not visualised", "not demonstrated", "not detected",
		"not present", "not found", "not appreciated", "not evident", "not noted", "was not seen", "is not seen",
		"are not seen", "were not seen", "is absent", "are absent", "was absent", "free", "not suspected",
		"is not suspected", "was not suspected")
	add(negPost, 6, "was not performed", "not performed", "not done", "was not done", "was declined", "was stopped",
		"was discontinued", "discontinued", "stopped", "withheld", "held", "was not started", "not started",
		"not required", "is not required", "not needed", "is not needed", "not indicated", "is not indicated", "was not given")
	add(uncPre, 0, "possible", "possibly", "probable", "probably", "likely", "most likely", "suspicious for",
		"suspicious of", "suspected", "suspect", "suspicion of", "concerning for", "worrisome for", "worrying for",
		"may represent", "may be", "might be", "could be", "could represent", "can represent", "may reflect",
		"questionable", "question of", "cannot exclude", "can not exclude", "cannot rule out", "can't rule out",
		"could not exclude", "not ruled out", "not excluded", "rule out", "to rule out", "r/o", "to exclude",
		"differential diagnosis includes", "differential includes", "differential diagnosis", "differential",
		"presumed", "presumptive", "equivocal", "indeterminate", "suggestive of", "suggest", "suggests",
		"query", "evaluate for", "to evaluate for", "assess for", "to assess for",
		"concern for", "risk of", "at risk for", "risk for", "if", "in case of", "unlikely to be", "unlikely to represent",
		"uncertain", "unclear if", "possibility of", "questionably", "borderline")
	add(uncPost, 6, "is suspected", "are suspected", "was suspected", "suspected", "is likely", "are likely",
		"is possible", "is probable", "is questionable", "cannot be excluded", "can not be excluded",
		"could not be excluded", "cannot be ruled out", "could not be ruled out", "can't be ruled out",
		"not ruled out", "not excluded", "has not been ruled out", "has not been excluded", "not been ruled out",
		"is not excluded", "was not excluded", "remains possible", "to be excluded", "to be ruled out",
		"is very likely", "is highly likely", "is most likely", "is a possibility", "a possibility", "is probably",
		"should be excluded", "should be ruled out", "needs to be excluded", "must be excluded", "indeterminate")
	add(uncPost, 3, "possible", "probable", "questionable")
	add(uncPre, 3, "?", "exclude", "very likely", "highly likely", "possible contributions from", "contribution from")
	add(uncPre|uncPost, 2, "versus", "vs", "or possibly")
	add(histPre, 0, "history of", "h/o", "hx of", "hx", "past history of", "past medical history of",
		"past medical history significant for", "pmh of", "pmh significant for", "previous", "previously", "prior",
		"status post", "s/p", "remote", "old", "was treated for", "previously treated for", "childhood", "resolved")
	add(histPost, 6, "in the past", "years ago", "previously", "has resolved", "have resolved", "resolved",
		"now resolved", "in childhood", "in remission")
	add(famPre, 10, "family history of", "family history", "fhx", "fh of", "family hx of", "strong family history of")
	relatives := []string{"mother", "father", "sister", "brother", "sibling", "siblings", "parent", "parents",
		"grandmother", "grandfather", "grandparent", "grandparents", "aunt", "uncle", "cousin", "son", "daughter",
		"maternal", "paternal", "mum", "dad", "twin", "relatives", "relative", "first-degree relative"}
	add(famPre, 10, relatives...)
	for _, r := range relatives {
		for _, d := range []string{"in ", "in her ", "in his ", "in their ", "in a ", "in the ", "in one ", "in both "} {
			add(famPost, 8, d+r)
		}
	}
	add(famPost, 8, "on the maternal side", "on the paternal side", "on her mother's side", "on his father's side",
		"runs in the family", "in the family")
	add(pseudo, 0, "no increase", "no change", "no significant change", "no interval change", "no suspicious change",
		"not only", "not necessarily", "without difficulty", "no significant interval change", "no decrease",
		"gram negative", "gram-negative", "not resolved", "has not resolved", "not improved", "not improving",
		"no improvement", "no response", "not responded", "no significant improvement", "without change",
		"her2 negative", "her2-negative", "er negative", "pr negative", "receptor negative", "triple negative",
		"node negative", "margins negative", "egfr negative", "alk negative", "brca negative",
		"not certain whether", "no other", "year old", "years old", "month old", "week old", "day old",
		"prior to", "no more than", "year history of", "years history of", "month history of", "months history of",
		"week history of", "weeks history of", "day history of", "days history of", "long history of",
		"long-standing history of", "to suggest", "to indicate")
	add(terminate, 0, "but", "however", "although", "though", "yet", "except", "aside from", "apart from",
		"other than", "whereas", "nevertheless", "nonetheless", "which", "who", "secondary to", "due to",
		"because", "reports", "reported", "endorses", "endorsed", "complains", "complained", "complaining",
		"presents", "presented", "positive for", "admits", "notes", "now has", "has developed", "developed",
		"there is", "there are", "demonstrates", "shows", "showed", "revealed", "reveals")
	add(famTerminate, 0, "patient", "the patient", "pt", "she", "he", "herself", "himself", "her own", "his own")
	return t
}()

// A phrase listed under several roles merges them; one that is pseudo and
// something else acts as the other (see triggerTrie).

// phraseNode is a node of the trigger trie.
type phraseNode struct {
	next map[string]*phraseNode
	trig *trigger
}

var triggerTrie = func() *phraseNode {
	root := &phraseNode{}
	for i := range triggers {
		t := &triggers[i]
		n := root
		words := normTokens(t.phrase)
		if t.phrase == "?" {
			words = []string{"?"} // the one punctuation trigger: "? pneumonia"
		}
		for _, w := range words {
			if n.next == nil {
				n.next = map[string]*phraseNode{}
			}
			c := n.next[w]
			if c == nil {
				c = &phraseNode{}
				n.next[w] = c
			}
			n = c
		}
		if n.trig == nil {
			cp := *t
			n.trig = &cp
		} else {
			n.trig.roles |= t.roles
			if t.window > n.trig.window {
				n.trig.window = t.window
			}
		}
	}
	// a phrase that is both pseudo and something else acts as the other
	var clean func(n *phraseNode)
	clean = func(n *phraseNode) {
		if n.trig != nil && n.trig.roles&pseudo != 0 && n.trig.roles&^(pseudo|condOnly) != 0 {
			n.trig.roles &^= pseudo
		}
		for _, c := range n.next {
			clean(c)
		}
	}
	clean(root)
	return root
}()

// matchPhrase finds the longest phrase of the trie starting at token i,
// skipping soft punctuation between words. It returns the trigger and the
// index after its last token.
func matchPhrase(root *phraseNode, toks []token, i int) (*trigger, int) {
	var best *trigger
	bestEnd := -1
	n := root
	j := i
	for j < len(toks) {
		if toks[j].kind == tokPunct && toks[j].text != "?" {
			if j == i || !softPunct(toks[j].text) {
				break
			}
			j++
			continue
		}
		c := n.next[toks[j].norm]
		if c == nil {
			break
		}
		n = c
		j++
		if n.trig != nil {
			best, bestEnd = n.trig, j
		}
	}
	return best, bestEnd
}

// cueHit is a trigger found in a sentence: tokens [from, to).
type cueHit struct {
	trig     *trigger
	from, to int
}

// ctxEntity is an entity seen by the context rules: its token range and
// whether context applies to it.
type ctxEntity struct {
	from, to int
	idx      int // index in the analysis' entities
	applies  bool
	cond     bool
}

// applyContext sets Negated, Uncertain, Historical and Family on the
// entities of one sentence. toks are the sentence's tokens; ents are sorted
// by from and do not overlap.
func applyContext(text string, page int, toks []token, ents []ctxEntity, out []Entity) {
	if len(ents) == 0 {
		return
	}
	inEntity := make([]int, len(toks)) // entity position+1 covering a token, 0 when none
	for k, e := range ents {
		for t := e.from; t < e.to; t++ {
			inEntity[t] = k + 1
		}
	}
	// find triggers outside entities, longest first, left to right
	var hits []cueHit
	for i := 0; i < len(toks); {
		if inEntity[i] != 0 || toks[i].kind == tokPunct && toks[i].text != "?" {
			if toks[i].text == ";" {
				hits = append(hits, cueHit{trig: &semicolon, from: i, to: i + 1})
			}
			i++
			continue
		}
		tr, end := matchPhrase(triggerTrie, toks, i)
		if tr == nil {
			i++
			continue
		}
		ok := true
		for k := i; k < end; k++ {
			if inEntity[k] != 0 {
				ok = false
			}
		}
		if !ok {
			i++
			continue
		}
		hits = append(hits, cueHit{trig: tr, from: i, to: end})
		i = end
	}
	cite := func(h cueHit) Span {
		return Span{Page: page, Start: toks[h.from].start, End: toks[h.to-1].end}
	}
	set := func(e ctxEntity, kind CueKind, h cueHit) {
		en := &out[e.idx]
		switch kind {
		case CueNegation:
			if en.Negated {
				return
			}
			en.Negated = true
		case CueUncertainty:
			if en.Uncertain {
				return
			}
			en.Uncertain = true
		case CueHistorical:
			if en.Historical {
				return
			}
			en.Historical = true
		case CueFamily:
			if en.Family {
				return
			}
			en.Family = true
		}
		c := cite(h)
		en.Cues = append(en.Cues, Cue{Kind: kind, Text: text[c.Start:c.End], Cite: c})
	}
	// units between two token positions, for the window
	unitAt := func(t int) bool { // token t starts a unit
		if toks[t].kind == tokPunct {
			return false
		}
		if k := inEntity[t]; k != 0 {
			return ents[k-1].from == t
		}
		return true
	}
	stops := func(h cueHit, fam bool) bool {
		return h.trig.roles&terminate != 0 || (fam && h.trig.roles&famTerminate != 0)
	}
	kinds := []struct {
		pre, post role
		kind      CueKind
	}{
		{negPre, negPost, CueNegation},
		{uncPre, uncPost, CueUncertainty},
		{histPre, histPost, CueHistorical},
		{famPre, famPost, CueFamily},
	}
	for hi, h := range hits {
		r := h.trig.roles
		if r&pseudo != 0 {
			continue
		}
		win := h.trig.window
		if win == 0 {
			win = defaultWindow
		}
		for _, k := range kinds {
			fam := k.kind == CueFamily
			sawCond := false
			apply := func(t int) {
				ei := inEntity[t]
				if ei == 0 || ents[ei-1].from != t {
					return
				}
				e := ents[ei-1]
				switch {
				case !e.applies, r&condOnly != 0 && !e.cond, r&drugOnly != 0 && e.cond:
				case k.kind == CueNegation && !e.cond && sawCond:
					// "no ST depression on the ECG": a negation that has
					// reached a condition does not carry on to the test
				default:
					set(e, k.kind, h)
				}
				if e.applies && e.cond {
					sawCond = true
				}
			}
			if r&k.pre != 0 {
				// forward: entities starting after the trigger, until a
				// terminator or the window ends
				limit := len(toks)
				for _, h2 := range hits[hi+1:] {
					if stops(h2, fam) {
						limit = h2.from
						break
					}
				}
				units := 0
				for t := h.to; t < limit; t++ {
					if unitAt(t) {
						if units++; units > win {
							break
						}
					}
					apply(t)
				}
			}
			if r&k.post != 0 {
				// backward: entities before the trigger, back to a
				// terminator or the window's end
				limit := 0
				for x := hi - 1; x >= 0; x-- {
					if stops(hits[x], fam) {
						limit = hits[x].to
						break
					}
				}
				units := 0
				sawCond = false
				for t := h.from - 1; t >= limit; t-- {
					if unitAt(t) {
						if units++; units > win {
							break
						}
					}
					apply(t)
				}
			}
		}
	}
	// "? pneumonia" and "pneumonia?": a question mark next to the entity
	for _, e := range ents {
		if !e.applies {
			continue
		}
		if e.from > 0 && toks[e.from-1].text == "?" {
			set(e, CueUncertainty, cueHit{from: e.from - 1, to: e.from})
		}
		if e.to < len(toks) && toks[e.to].text == "?" && toks[e.to].start == toks[e.to-1].end {
			set(e, CueUncertainty, cueHit{from: e.to, to: e.to + 1})
		}
	}
}

// semicolon ends every scope.
var semicolon = trigger{phrase: ";", roles: terminate}

// sectionContext applies section-level context: every condition, medication
// and procedure in a family history section is the family's.
func sectionContext(e *Entity, sec SectionKind, heading Span, headingText string) {
	if sec == SectionFamilyHistory && !e.Family {
		e.Family = true
		e.Cues = append(e.Cues, Cue{Kind: CueFamily, Text: headingText, Cite: heading})
	}
}
