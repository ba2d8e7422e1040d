package nlp

import (
	"strings"
	"unicode"
)

// headingWords is the vocabulary of section headings. A heading is a line
// that starts with at most six of these words, followed by a colon (content
// may follow on the same line) or by nothing (then it must be upper case or
// end in a keyword). Every heading needs at least one keyword (kinds below);
// fillers only qualify it ("Discharge medications", "Labs on admission").
var headingFillers = map[string]bool{
	"of": true, "and": true, "on": true, "at": true, "the": true, "for": true, "to": true, "&": true, "/": true,
	"present": true, "illness": true, "past": true, "current": true, "discharge": true, "admission": true,
	"clinical": true, "physical": true, "relevant": true, "home": true, "active": true, "key": true,
	"pertinent": true, "outpatient": true, "medical": true, "surgical": true, "problem": true, "list": true,
	"results": true, "final": true, "preliminary": true, "primary": true, "secondary": true, "principal": true,
	"significant": true, "prior": true, "new": true, "initial": true, "further": true, "chief": true,
	"general": true, "brief": true, "study": true, "details": true, "data": true, "review": true,
	"systems": true, "investigations": true, "information": true, "on-admission": true, "and/or": true,
	"test": true, "tests": true, "presenting": true, "interval": true, "hospital": true, "blood": true, "pathology": true, "imaging": true, "radiology": true,
}

// headingKeywords maps a heading keyword to its section kind. Checked in the
// order of headingOrder, so "family history" is FAMILY_HISTORY, not HISTORY.
var headingKeywords = map[string]SectionKind{
	"family": SectionFamilyHistory, "fhx": SectionFamilyHistory,
	"social": SectionSocialHistory, "shx": SectionSocialHistory,
	"allergies": SectionAllergies, "allergy": SectionAllergies,
	"medications": SectionMedications, "medication": SectionMedications, "meds": SectionMedications,
	"drugs": SectionMedications, "prescriptions": SectionMedications, "treatment": SectionPlan,
	"vitals": SectionVitals, "vital": SectionVitals, "signs": SectionVitals,
	"labs": SectionLabs, "lab": SectionLabs, "laboratory": SectionLabs, "bloods": SectionLabs, "chemistry": SectionLabs, "hematology": SectionLabs, "haematology": SectionLabs,
	"examination": SectionExamination, "exam": SectionExamination, "ros": SectionExamination,
	"procedure": SectionProcedures, "procedures": SectionProcedures, "operation": SectionProcedures, "technique": SectionProcedures, "protocol": SectionProcedures,
	"course":   SectionCourse,
	"findings": SectionFindings, "finding": SectionFindings, "results": SectionFindings,
	"impression": SectionImpression, "impressions": SectionImpression, "conclusion": SectionImpression, "conclusions": SectionImpression,
	"assessment": SectionImpression, "diagnosis": SectionImpression, "diagnoses": SectionImpression, "interpretation": SectionImpression,
	"opinion": SectionImpression, "summary": SectionImpression, "a/p": SectionImpression,
	"plan": SectionPlan, "recommendation": SectionPlan, "recommendations": SectionPlan, "follow-up": SectionPlan, "followup": SectionPlan,
	"disposition": SectionPlan, "management": SectionPlan,
	"history": SectionHistory, "hpi": SectionHistory, "pmh": SectionHistory, "psh": SectionHistory, "indication": SectionHistory, "indications": SectionHistory,
	"complaint": SectionHistory, "complaints": SectionHistory, "reason": SectionHistory, "presentation": SectionHistory, "background": SectionHistory,
	"comparison": SectionOther, "addendum": SectionOther, "comments": SectionOther, "comment": SectionOther,
}

// headingOrder is the precedence of kinds when a heading has several
// keywords: "Assessment and plan" is IMPRESSION, "Family history" is
// FAMILY_HISTORY, "Lab results" is LABS, "Reason for referral" HISTORY.
var headingOrder = []SectionKind{
	SectionFamilyHistory, SectionSocialHistory, SectionAllergies, SectionMedications, SectionVitals, SectionLabs,
	SectionImpression, SectionFindings, SectionPlan, SectionExamination, SectionProcedures, SectionCourse,
	SectionHistory, SectionOther,
}

// heading is a detected heading on one line.
type heading struct {
	kind       SectionKind
	start, end int // the heading words (without the colon)
	bodyStart  int // where the section's text begins on this line (after the colon), or the line end
}

// detectHeading reports whether the line text[l.start:l.end] starts with a
// heading.
func detectHeading(text string, l line) (heading, bool) {
	s, e := trimSpan(text, l.start, l.end)
	if s >= e {
		return heading{}, false
	}
	// optional enumeration: "1." "2)" "A."
	if i := s; i < e {
		j := i
		for j < e && (isDigit(text[j]) || (j == i && text[j] >= 'A' && text[j] <= 'Z' && j+1 < e && text[j+1] == '.')) {
			j++
		}
		if j > i && j < e && (text[j] == '.' || text[j] == ')') && j+1 < e && text[j+1] == ' ' {
			s, _ = trimSpan(text, j+1, e)
		}
	}
	colon := strings.IndexByte(text[s:e], ':')
	hEnd := e
	if colon >= 0 {
		hEnd = s + colon
	}
	words := strings.FieldsFunc(text[s:hEnd], func(r rune) bool { return unicode.IsSpace(r) || r == ',' })
	if len(words) == 0 || len(words) > 6 {
		return heading{}, false
	}
	kinds := map[SectionKind]bool{}
	for _, w := range words {
		lw := strings.ToLower(strings.Trim(w, "-–#*"))
		if k, ok := headingKeywords[lw]; ok {
			kinds[k] = true
			continue
		}
		if strings.Contains(lw, "/") {
			// "Assessment/Plan", "Impression/Recommendation"
			ok := true
			for _, part := range strings.Split(lw, "/") {
				if k, isKey := headingKeywords[part]; isKey {
					kinds[k] = true
				} else if !headingFillers[part] {
					ok = false
				}
			}
			if ok {
				continue
			}
			return heading{}, false
		}
		if !headingFillers[lw] {
			return heading{}, false
		}
	}
	if len(kinds) == 0 {
		return heading{}, false
	}
	var kind SectionKind
	joined := strings.ToLower(strings.Join(words, " "))
	switch {
	case joined == "discharge summary":
		kind = SectionOther // a document title, not the summary section
	case strings.Contains(joined, "reason") || strings.Contains(joined, "indication") || strings.Contains(joined, "complaint"):
		kind = SectionHistory // "Reason for exam", "Indication for study"
	}
	for _, k := range headingOrder {
		if kind != "" {
			break
		}
		if kinds[k] {
			kind = k
		}
	}
	hs, he := trimSpan(text, s, hEnd)
	if colon < 0 {
		// A line without a colon is a heading only when it is upper case
		// ("FINDINGS") or short and in title case ("Past Medical History"),
		// so a sentence starting "History was unremarkable" is not one.
		title := true
		for _, w := range words {
			r := []rune(w)
			if !unicode.IsUpper(r[0]) && !headingFillers[strings.ToLower(w)] {
				title = false
			}
		}
		if !title {
			return heading{}, false
		}
		return heading{kind: kind, start: hs, end: he, bodyStart: l.end}, true
	}
	return heading{kind: kind, start: hs, end: he, bodyStart: s + colon + 1}, true
}

// skipLine reports whether a line that is not a heading is a title or a
// sub-heading whose words are not extracted: the document's first line when
// it reads like a title (no colon, no digit, no final full stop, at most
// eight words, and more text follows),
// any line in upper case without digits or a final full stop ("CT HEAD
// WITHOUT CONTRAST"), and a label of at most three words ending in a colon with
// nothing after it ("Liver:" in a lab report).
func skipLine(text string, l line, first bool) bool {
	s, e := trimSpan(text, l.start, l.end)
	if s >= e {
		return false
	}
	t := text[s:e]
	words := strings.Fields(t)
	if strings.HasSuffix(t, ":") && len(words) <= 3 {
		return true
	}
	if strings.HasSuffix(t, ".") || strings.Contains(t, ":") || len(words) > 10 {
		return false
	}
	if strings.ContainsAny(t, "0123456789") {
		return false // a line with a number is data ("ALT 38 U/L"), not a title
	}
	if first && len(words) <= 8 && strings.TrimSpace(text[l.end:]) != "" {
		return true
	}
	letters := 0
	for _, r := range t {
		if unicode.IsLower(r) {
			return false
		}
		if unicode.IsUpper(r) {
			letters++
		}
	}
	return letters >= 3
}
