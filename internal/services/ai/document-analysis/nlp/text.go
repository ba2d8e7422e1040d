package nlp

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of a token.
type tokKind uint8

const (
	tokWord   tokKind = iota // letters, possibly with digits: "SpO2", "HbA1c"
	tokNumber                // digits, with one decimal point or thousands commas: "8.2", "250,000"
	tokPunct                 // any other single rune that is not a space
)

// token is a piece of a sentence with its byte offsets in the page text.
type token struct {
	start, end int
	kind       tokKind
	text       string // as written
	norm       string // lower case
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// tokenize splits text[start:end] into tokens whose offsets are in text.
func tokenize(text string, start, end int) []token {
	var toks []token
	i := start
	for i < end {
		r, n := utf8.DecodeRuneInString(text[i:end])
		switch {
		case unicode.IsSpace(r):
			i += n
		case unicode.IsDigit(r):
			j := scanNumber(text, i, end)
			// "SpO2"-like tokens start with letters; "2nd", "3x", "10mg" start
			// with digits: a number directly followed by letters is split.
			toks = append(toks, token{start: i, end: j, kind: tokNumber, text: text[i:j], norm: text[i:j]})
			i = j
		case unicode.IsLetter(r):
			j := i
			for j < end {
				r2, n2 := utf8.DecodeRuneInString(text[j:end])
				if !isWordRune(r2) {
					break
				}
				j += n2
			}
			w := text[i:j]
			toks = append(toks, token{start: i, end: j, kind: tokWord, text: w, norm: strings.ToLower(w)})
			i = j
		default:
			toks = append(toks, token{start: i, end: i + n, kind: tokPunct, text: text[i : i+n], norm: text[i : i+n]})
			i += n
		}
	}
	return toks
}

// scanNumber returns the end of the number starting at i: digits, then
// optionally one "." and digits, or thousands groups ",ddd".
func scanNumber(text string, i, end int) int {
	j := i
	for j < end && isDigit(text[j]) {
		j++
	}
	// thousands: 250,000 (exactly three digits after each comma, and not
	// followed by another digit)
	for j+4 <= end && text[j] == ',' && isDigit(text[j+1]) && isDigit(text[j+2]) && isDigit(text[j+3]) && (j+4 == end || !isDigit(text[j+4])) {
		j += 4
	}
	if j+1 < end && text[j] == '.' && isDigit(text[j+1]) {
		j++
		for j < end && isDigit(text[j]) {
			j++
		}
	}
	return j
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// normTokens tokenizes a dictionary phrase into its normalised word and
// number tokens (punctuation dropped), the form the matcher compares.
func normTokens(phrase string) []string {
	var out []string
	for _, t := range tokenize(phrase, 0, len(phrase)) {
		if t.kind != tokPunct {
			out = append(out, t.norm)
		}
	}
	return out
}

// softPunct is punctuation a multi-word match may run across: "non-small",
// "h/o", "Parkinson's", "e.g.".
func softPunct(s string) bool {
	switch s {
	case "-", "/", "'", "’", ".", "–":
		return true
	}
	return false
}

// line is one line of a page: [start, end) without the newline.
type line struct{ start, end int }

func splitLines(text string) []line {
	var ls []line
	s := 0
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			e := i
			if e > s && text[e-1] == '\r' {
				e--
			}
			ls = append(ls, line{s, e})
			s = i + 1
		}
	}
	if s < len(text) {
		ls = append(ls, line{s, len(text)})
	}
	return ls
}

// trimSpan narrows [s,e) of text past leading and trailing white space and
// list bullets.
func trimSpan(text string, s, e int) (int, int) {
	for s < e {
		r, n := utf8.DecodeRuneInString(text[s:e])
		if unicode.IsSpace(r) || r == '•' || r == '*' || r == '·' {
			s += n
			continue
		}
		// "- item" (a dash followed by a space) is a bullet; "-5" is not.
		if r == '-' && s+1 < e && (text[s+1] == ' ' || text[s+1] == '\t') {
			s++
			continue
		}
		break
	}
	for e > s {
		r, n := utf8.DecodeLastRuneInString(text[s:e])
		if !unicode.IsSpace(r) {
			break
		}
		e -= n
	}
	return s, e
}

// abbreviations that end with a period without ending a sentence.
var noBreakAbbrev = map[string]bool{
	"dr": true, "mr": true, "mrs": true, "ms": true, "prof": true, "vs": true, "approx": true,
	"e.g": true, "i.e": true, "eg": true, "ie": true, "no": true, "st": true, "fig": true,
	"ca": true, "cf": true, "incl": true, "max": true, "min": true, "yrs": true, "hx": true,
}

// splitSentences splits text[s:e) (one section's body on one page) into
// sentence spans. A sentence ends at ".", "!" or "?" followed by white space
// and an upper-case letter, digit or bullet (or the end), except after a
// known abbreviation or a "?" standing before a word ("? pneumonia"); and at
// a line break when the next line is blank, starts with a bullet, a digit or
// an upper-case letter, or the line ends with ":". A line that continues in
// lower case is a wrapped sentence.
func splitSentences(text string, s, e int) [][2]int {
	var out [][2]int
	start := s
	emit := func(a, b int) {
		a, b = trimSpan(text, a, b)
		if a < b {
			out = append(out, [2]int{a, b})
		}
	}
	for i := s; i < e; i++ {
		c := text[i]
		switch c {
		case '.', '!', '?':
			if c == '?' && (i == s || text[i-1] == ' ' || text[i-1] == '\n' || text[i-1] == '\t') && i+1 < e && text[i+1] == ' ' {
				continue // "? pneumonia": a query before the word
			}
			if c == '.' && i+1 < e && isDigit(text[i+1]) {
				continue
			}
			j := i + 1
			for j < e && (text[j] == ')' || text[j] == '"') {
				j++
			}
			if j < e && text[j] != ' ' && text[j] != '\n' && text[j] != '\t' && text[j] != '\r' {
				continue
			}
			if c == '.' {
				w := lastWord(text, start, i)
				if noBreakAbbrev[strings.ToLower(w)] || (len(w) == 1 && unicode.IsUpper(rune(w[0]))) {
					continue
				}
			}
			k := j
			for k < e && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r') {
				k++
			}
			if k >= e || text[k] == '\n' || startsSentence(text, k, e) {
				emit(start, j)
				start = j
				i = j - 1
			}
		case '\n':
			// the line just ended is [lineStart, i)
			ls := strings.LastIndexByte(text[s:i], '\n') + s + 1
			prev := strings.TrimRight(text[ls:i], " \t\r")
			k := i + 1
			for k < e && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r') {
				k++
			}
			if k >= e || text[k] == '\n' || strings.HasSuffix(prev, ":") || startsSentence(text, k, e) || strings.TrimSpace(prev) == "" {
				emit(start, i)
				start = i + 1
			}
		}
	}
	emit(start, e)
	return out
}

// lastWord returns the word (letters and inner dots) ending at text[i].
func lastWord(text string, from, i int) string {
	j := i
	for j > from {
		r, n := utf8.DecodeLastRuneInString(text[from:j])
		if !unicode.IsLetter(r) && r != '.' {
			break
		}
		j -= n
	}
	return strings.Trim(text[j:i], ".")
}

// startsSentence reports whether the text at k looks like a sentence start:
// an upper-case letter, a digit, a bullet or an opening bracket.
func startsSentence(text string, k, e int) bool {
	if k >= e {
		return true
	}
	r, _ := utf8.DecodeRuneInString(text[k:e])
	return unicode.IsUpper(r) || unicode.IsDigit(r) || r == '-' || r == '*' || r == '•' || r == '(' || r == '[' || r == '?'
}
