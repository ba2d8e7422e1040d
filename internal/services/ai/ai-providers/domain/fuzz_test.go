package domain

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// Whatever the text, a known name written with a capital never survives,
// placeholders survive a second pass, and valid UTF-8 stays valid.
func FuzzRedact(f *testing.F) {
	f.Add(identifierRecord, "Zelda")
	f.Add("Seen 3 Mar 2024 by Dr. Who at 10 Downing Street, London SW1A 2AA; tel 020 7925 0918.", "Winifred")
	f.Add("[NAME] [DATE] 1.2.3.4.5 +49 (0)30 1234567", "Oskar")
	f.Fuzz(func(t *testing.T, text, name string) {
		if !utf8.ValidString(text) || !utf8.ValidString(name) {
			return
		}
		r, _ := utf8.DecodeRuneInString(name)
		if utf8.RuneCountInString(name) < 2 || !unicode.IsUpper(r) || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsLetter(r) }) >= 0 {
			return
		}
		if placeholderPattern.MatchString("[" + strings.ToUpper(name) + "]") {
			return
		}
		out, _ := Redact(text+" "+name+" ", PatientContext{Names: []string{name}})
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q", text)
		}
		if i := wordIndex(out, name); i >= 0 {
			t.Fatalf("name %q survived in %q", name, out)
		}
		again, _ := Redact(out, PatientContext{Names: []string{name}})
		if n, m := len(placeholderPattern.FindAllString(out, -1)), len(placeholderPattern.FindAllString(again, -1)); m < n {
			t.Fatalf("a second pass lost placeholders: %q → %q", out, again)
		}
	})
}

// wordIndex finds w standing alone in s, or -1.
func wordIndex(s, w string) int {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return -1
		}
		if wordAt(s, i+j, i+j+len(w)) {
			return i + j
		}
		i += j + 1
	}
}

// Whatever a provider answers, ParseAnswer does not panic, and what it
// accepts passes every check.
func FuzzParseAnswer(f *testing.F) {
	f.Add(answerJSON(nil))
	f.Add(answerJSON(func(m map[string]any) { delete(m, "summary") }))
	f.Add([]byte(`{"summary":"s","keyFindings":[{"text":"t","confidence":1e309,"citation":{"documentId":"x","page":1,"start":0,"end":1}}]}`))
	f.Add([]byte(`{"summary":"s","keyFindings":[`))
	req, err := validRequest().Validate()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ans, err := ParseAnswer(req, raw)
		if err != nil {
			return
		}
		if err := CheckAnswer(req, ans); err != nil {
			t.Fatalf("accepted %s: %v", raw, err)
		}
		if _, err := json.Marshal(ans); err != nil {
			t.Fatalf("accepted an answer that does not marshal: %v", err)
		}
	})
}
