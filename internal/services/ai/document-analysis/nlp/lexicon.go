package nlp

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
)

//go:embed icd10.tsv
var icd10TSV string

//go:embed lexicon.tsv
var lexiconTSV string

// lexKind is what a dictionary term names. Labs and vitals are names that
// become entities only with a value.
type lexKind uint8

const (
	lexCondition lexKind = iota
	lexMedication
	lexProcedure
	lexAnatomy
	lexLab
	lexVital
	lexIgnore // a phrase that contains a term but names none: "mass effect"
)

// priority breaks ties between terms of equal length: a condition wins over
// a procedure or an anatomy term with the same words.
var lexPriority = [...]int{lexIgnore: 7, lexCondition: 6, lexMedication: 5, lexLab: 4, lexVital: 4, lexProcedure: 3, lexAnatomy: 1}

// term is one dictionary entry.
type term struct {
	kind      lexKind
	canonical string // the preferred term (lower case for drugs)
	code      string // ICD-10 code of a condition ("" when none)
	match     MatchKind
	exact     string // case-sensitive form for abbreviations, else ""
	words     int
}

// trieNode is a node of the word trie.
type trieNode struct {
	next  map[string]*trieNode
	terms []*term
}

func (n *trieNode) child(w string) *trieNode {
	if n.next == nil {
		n.next = map[string]*trieNode{}
	}
	c := n.next[w]
	if c == nil {
		c = &trieNode{}
		n.next[w] = c
	}
	return c
}

// lexicon is the loaded dictionaries.
type lexicon struct {
	root       trieNode
	conditions int
	codes      map[string]string // ICD-10 code → term
}

var (
	lexOnce sync.Once
	lex     *lexicon
)

// dictionary returns the loaded dictionaries (parsed once; immutable after).
func dictionary() *lexicon {
	lexOnce.Do(func() {
		l, err := loadLexicon(icd10TSV, lexiconTSV)
		if err != nil {
			panic(err) // the embedded files are checked by tests
		}
		lex = l
	})
	return lex
}

// isAbbrev reports whether a synonym is matched case-sensitively: upper case
// (digits allowed), at most six characters, at least one letter.
func isAbbrev(s string) bool {
	if len(s) > 6 {
		return false
	}
	letters := 0
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			letters++
		case unicode.IsDigit(r), r == '-', r == '/':
		default:
			return false
		}
	}
	return letters > 0
}

func loadLexicon(icd, other string) (*lexicon, error) {
	l := &lexicon{codes: map[string]string{}}
	add := func(kind lexKind, canonical, code, syn string, preferred bool) error {
		words := normTokens(syn)
		if len(words) == 0 {
			return fmt.Errorf("empty term %q", syn)
		}
		t := &term{kind: kind, canonical: canonical, code: code, match: MatchSynonym, words: len(words)}
		switch {
		case preferred:
			t.match = MatchPreferred
		case isAbbrev(syn):
			t.match = MatchAbbreviation
			t.exact = syn
		}
		n := &l.root
		for _, w := range words {
			n = n.child(w)
		}
		n.terms = append(n.terms, t)
		return nil
	}
	for i, ln := range strings.Split(icd, "\n") {
		if strings.TrimSpace(ln) == "" || strings.HasPrefix(ln, "#") {
			continue
		}
		f := strings.Split(ln, "\t")
		if len(f) < 2 {
			return nil, fmt.Errorf("icd10.tsv:%d: want code, term, synonyms", i+1)
		}
		code, name := f[0], f[1]
		if code == "-" {
			code = ""
		} else {
			if _, dup := l.codes[code]; dup {
				return nil, fmt.Errorf("icd10.tsv:%d: code %s twice", i+1, code)
			}
			l.codes[code] = name
		}
		l.conditions++
		if err := add(lexCondition, name, code, name, true); err != nil {
			return nil, err
		}
		if len(f) > 2 && f[2] != "" {
			for _, s := range strings.Split(f[2], "|") {
				if err := add(lexCondition, name, code, s, false); err != nil {
					return nil, fmt.Errorf("icd10.tsv:%d: %v", i+1, err)
				}
			}
		}
	}
	kinds := map[string]lexKind{"IGNORE": lexIgnore, "MEDICATION": lexMedication, "PROCEDURE": lexProcedure, "ANATOMY": lexAnatomy, "LAB": lexLab, "VITAL": lexVital}
	for i, ln := range strings.Split(other, "\n") {
		if strings.TrimSpace(ln) == "" || strings.HasPrefix(ln, "#") {
			continue
		}
		f := strings.Split(ln, "\t")
		k, ok := kinds[f[0]]
		if !ok || len(f) < 2 {
			return nil, fmt.Errorf("lexicon.tsv:%d: want TYPE, name, synonyms", i+1)
		}
		name := f[1]
		if err := add(k, name, "", name, !isAbbrev(name) || k != lexCondition); err != nil {
			return nil, err
		}
		if len(f) > 2 && f[2] != "" {
			for _, s := range strings.Split(f[2], "|") {
				if err := add(k, name, "", s, false); err != nil {
					return nil, fmt.Errorf("lexicon.tsv:%d: %v", i+1, err)
				}
			}
		}
	}
	return l, nil
}

// lexMatch is a dictionary match over tokens [from, to) of a sentence.
type lexMatch struct {
	from, to int
	term     *term
	plural   bool
}

// singular returns the forms a plural word may have in the dictionary.
func singular(w string) []string {
	var out []string
	if len(w) > 3 && strings.HasSuffix(w, "s") && !strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "is") && !strings.HasSuffix(w, "us") {
		out = append(out, w[:len(w)-1])
		if strings.HasSuffix(w, "es") {
			out = append(out, w[:len(w)-2])
		}
		if strings.HasSuffix(w, "ies") {
			out = append(out, w[:len(w)-3]+"y") // biopsies
		}
	}
	return out
}

// longestAt finds the longest dictionary term starting at word token i of
// toks. Multi-word terms may cross soft punctuation (hyphen, slash,
// apostrophe, dot) but not commas, brackets or other hard punctuation.
func (l *lexicon) longestAt(toks []token, i int) (lexMatch, bool) {
	var best lexMatch
	found := false
	var walk func(n *trieNode, j int, plural bool)
	walk = func(n *trieNode, j int, plural bool) {
		// j is the index of the next token to consume
		for _, t := range n.terms {
			to := j
			if !acceptCase(toks, i, to, t) {
				continue
			}
			if !found || to > best.to || (to == best.to && better(t, best.term, plural, best.plural)) {
				best = lexMatch{from: i, to: to, term: t, plural: plural}
				found = true
			}
		}
		if j >= len(toks) || n.next == nil {
			return
		}
		k := j
		if k > i {
			// skip soft punctuation between words, stop at hard punctuation
			for k < len(toks) && toks[k].kind == tokPunct {
				if !softPunct(toks[k].text) || toks[k].start != toks[k-1].end && toks[k].text != "/" {
					return
				}
				k++
			}
			if k >= len(toks) {
				return
			}
		}
		if toks[k].kind == tokPunct {
			return
		}
		if c := n.next[toks[k].norm]; c != nil {
			walk(c, k+1, plural)
		}
		for _, s := range singular(toks[k].norm) {
			if c := n.next[s]; c != nil && c.terms != nil {
				walk(c, k+1, true)
			}
		}
	}
	walk(&l.root, i, false)
	return best, found
}

// better orders two terms matching the same tokens.
func better(a, b *term, ap, bp bool) bool {
	if lexPriority[a.kind] != lexPriority[b.kind] {
		return lexPriority[a.kind] > lexPriority[b.kind]
	}
	if ap != bp {
		return !ap
	}
	return a.match == MatchPreferred && b.match != MatchPreferred
}

// acceptCase checks an abbreviation's case: the words as written must equal
// the dictionary's form (ignoring punctuation between them).
func acceptCase(toks []token, from, to int, t *term) bool {
	if t.exact == "" {
		return true
	}
	var b strings.Builder
	for _, tk := range toks[from:to] {
		if tk.kind != tokPunct {
			b.WriteString(tk.text)
		}
	}
	want := strings.Map(func(r rune) rune {
		if r == '-' || r == '/' || r == ' ' {
			return -1
		}
		return r
	}, t.exact)
	got := b.String()
	return got == want || got == want+"s" // plural abbreviations: "PVCs"
}
