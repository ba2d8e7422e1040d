package domain

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Category is a kind of direct identifier; its placeholder is "[" + it + "]".
type Category string

const (
	CatName       Category = "NAME"
	CatDate       Category = "DATE"
	CatEmail      Category = "EMAIL"
	CatPhone      Category = "PHONE"
	CatAddress    Category = "ADDRESS"
	CatID         Category = "ID"          // record, insurance, account numbers, MRN-like ids, UIDs
	CatCaseNumber Category = "CASE_NUMBER" // REGION-YEAR-XXXXXX
	CatURL        Category = "URL"
	CatAge        Category = "AGE_90+" // an age of 90 or more (HIPAA Safe Harbor)
)

// Placeholder is the text that replaces an identifier of category c.
func Placeholder(c Category) string { return "[" + string(c) + "]" }

var repeatedNames = regexp.MustCompile(`\[NAME\](?:[ \t]+\[NAME\])+`)

var placeholderPattern = regexp.MustCompile(`\[(?:NAME|DATE|EMAIL|PHONE|ADDRESS|ID|CASE_NUMBER|URL|AGE_90\+)\]`)

// Counts tells how many identifiers of each category were replaced: what
// an audit record or an event may say about a redaction, with no content.
type Counts map[Category]int

// Add adds o's counts to c.
func (c Counts) Add(o Counts) {
	for k, v := range o {
		c[k] += v
	}
}

// Total is the number of replacements.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Redactor removes direct identifiers from text: those the patient context
// names, matched in any case and spacing, and those that patterns
// recognise whoever they belong to — e-mail addresses, URLs, phone
// numbers, full dates and month-year dates (years alone stay: they date
// the history without identifying), street addresses and postcodes,
// labelled and MRN-like record numbers, case numbers, DICOM UIDs, ages of
// 90 or more, and names after a title ("Dr.", "Mrs") or a label
// ("Patient:"). Each is replaced by its placeholder.
//
// It errs on the side of removing: a word that is also the patient's
// name goes when it is written with a capital letter. It cannot find a
// name nobody told it and that no title or label announces; that is why
// callers give the patient context, and why only providers under a
// data-processing agreement are allowed at all.
type Redactor struct {
	rules []rule
}

// rule finds the spans to replace with its category's placeholder.
type rule struct {
	cat  Category
	find func(s string) [][2]int
}

// NewRedactor prepares the rules for one patient's context.
func NewRedactor(pc PatientContext) *Redactor {
	var r []rule
	add := func(cat Category, find func(string) [][2]int) {
		if find != nil {
			r = append(r, rule{cat, find})
		}
	}
	// Order matters: e-mails and URLs hold names and digits; labelled and
	// structured numbers go before dates and phones, dates before phones
	// (07.03.1984 is not a phone number), and long bare numbers last.
	add(CatURL, trimmed(pattern(urlPattern), ".,;:!?"))
	add(CatEmail, literals(pc.Emails, false))
	add(CatEmail, pattern(emailPattern))
	add(CatCaseNumber, literals([]string{pc.CaseNumber}, false))
	add(CatCaseNumber, pattern(caseNumberPattern))
	add(CatID, pattern(proNumberPattern))
	add(CatID, identifiers(pc.Identifiers))
	add(CatID, pattern(labelledIDPattern))
	add(CatID, pattern(ssnPattern))
	add(CatID, pattern(uidPattern))
	add(CatID, pattern(ibanPattern))
	add(CatDate, literals(dateVariants(pc.DateOfBirth), false))
	for _, p := range datePatterns {
		add(CatDate, pattern(p))
	}
	for _, p := range agePatterns {
		add(CatAge, pattern(p))
	}
	add(CatPhone, phones(pc.Phones))
	for _, p := range phonePatterns {
		add(CatPhone, phonePattern(p))
	}
	add(CatAddress, literals(addressParts(pc.Addresses), false))
	for _, p := range addressPatterns {
		add(CatAddress, pattern(p))
	}
	full, parts := nameParts(pc.Names)
	add(CatName, literals(full, false))
	add(CatName, pattern(labelledNamePattern))
	add(CatName, pattern(titledNamePattern))
	add(CatName, literals(parts, true))
	add(CatID, pattern(mrnLikePattern))
	add(CatID, pattern(longNumberPattern))
	return &Redactor{rules: r}
}

// Redact returns text with the identifiers replaced, and how many of each.
func (r *Redactor) Redact(text string) (string, Counts) {
	counts := Counts{}
	for _, ru := range r.rules {
		spans := ru.find(text)
		if len(spans) == 0 {
			continue
		}
		spans = dropOverlaps(spans, placeholderPattern.FindAllStringIndex(text, -1))
		if len(spans) == 0 {
			continue
		}
		var b strings.Builder
		last := 0
		for _, sp := range spans {
			b.WriteString(text[last:sp[0]])
			b.WriteString(Placeholder(ru.cat))
			last = sp[1]
		}
		b.WriteString(text[last:])
		text = b.String()
		counts[ru.cat] += len(spans)
	}
	// "[NAME] [NAME]" says no more than "[NAME]", and hides how many
	// words the name had.
	text = repeatedNames.ReplaceAllString(text, Placeholder(CatName))
	return text, counts
}

// Redact is NewRedactor(pc).Redact(text).
func Redact(text string, pc PatientContext) (string, Counts) {
	return NewRedactor(pc).Redact(text)
}

// dropOverlaps sorts spans, merges overlapping ones and drops those that
// touch a placeholder already in the text (placeholders come in order).
func dropOverlaps(spans [][2]int, placeholders [][]int) [][2]int {
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	out := spans[:0]
	p := 0
	for _, sp := range spans {
		for p < len(placeholders) && placeholders[p][1] <= sp[0] {
			p++ // placeholders wholly before this span and every later one
		}
		if sp[1] <= sp[0] || (p < len(placeholders) && placeholders[p][0] < sp[1]) {
			continue
		}
		if n := len(out); n > 0 && sp[0] < out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], sp[1])
			continue
		}
		out = append(out, sp)
	}
	return out
}

// pattern finds re's matches; when re has a group named v, only that
// group is replaced (a label before it stays).
func pattern(re *regexp.Regexp) func(string) [][2]int {
	v := re.SubexpIndex("v")
	return func(s string) [][2]int {
		var out [][2]int
		for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
			if v > 0 {
				if m[2*v] >= 0 {
					out = append(out, [2]int{m[2*v], m[2*v+1]})
				}
				continue
			}
			out = append(out, [2]int{m[0], m[1]})
		}
		return out
	}
}

// trimmed drops trailing punctuation from find's spans: the full stop
// after a URL ends the sentence, not the URL.
func trimmed(find func(string) [][2]int, cut string) func(string) [][2]int {
	return func(s string) [][2]int {
		spans := find(s)
		for i, sp := range spans {
			for sp[1] > sp[0] && strings.ContainsRune(cut, rune(s[sp[1]-1])) {
				sp[1]--
			}
			spans[i] = sp
		}
		return spans
	}
}

// phonePattern is pattern for phone numbers: a match counts when it holds
// 7 to 15 digits (E.164 allows 15).
func phonePattern(re *regexp.Regexp) func(string) [][2]int {
	find := pattern(re)
	return func(s string) [][2]int {
		var out [][2]int
		for _, sp := range find(s) {
			if s[sp[0]] == '(' && !strings.Contains(s[sp[0]:sp[1]], ")") {
				sp[0]++ // "(07700 900461)": the parenthesis is the text's
			}
			if n := countDigits(s[sp[0]:sp[1]]); n >= 7 && n <= 15 {
				out = append(out, sp)
			}
		}
		return out
	}
}

// literals finds each value in any case, with any run of spaces where the
// value has spaces, standing as a whole word (no letter or digit just
// before or after). With capital, a match must start with a capital letter
// as names in running text do, which spares "may" for a patient named May.
func literals(values []string, capital bool) func(string) [][2]int {
	var alts []string
	for _, v := range values {
		v = strings.Join(strings.Fields(v), " ")
		if utf8.RuneCountInString(v) < 2 {
			continue
		}
		words := strings.Fields(v)
		for i, w := range words {
			words[i] = regexp.QuoteMeta(w)
		}
		alts = append(alts, strings.Join(words, `\s+`))
	}
	if len(alts) == 0 {
		return nil
	}
	// Longest first, so "Anne Marie" wins over "Anne".
	sort.SliceStable(alts, func(i, j int) bool { return len(alts[i]) > len(alts[j]) })
	re := regexp.MustCompile(`(?i)(?:` + strings.Join(slices.Compact(alts), "|") + `)`)
	return func(s string) [][2]int {
		var out [][2]int
		for _, m := range re.FindAllStringIndex(s, -1) {
			if !wordAt(s, m[0], m[1]) {
				continue
			}
			if capital {
				if r, _ := utf8.DecodeRuneInString(s[m[0]:]); !unicode.IsUpper(r) {
					continue
				}
			}
			out = append(out, [2]int{m[0], m[1]})
		}
		return out
	}
}

// wordAt reports whether s[i:j] stands alone: no letter or digit touches it.
func wordAt(s string, i, j int) bool {
	if i > 0 {
		if r, _ := utf8.DecodeLastRuneInString(s[:i]); unicode.IsLetter(r) || unicode.IsDigit(r) {
			return false
		}
	}
	if j < len(s) {
		if r, _ := utf8.DecodeRuneInString(s[j:]); unicode.IsLetter(r) || unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// identifiers finds record numbers as written with or without separators:
// "AB-123 456" matches the known "AB123456".
func identifiers(values []string) func(string) [][2]int {
	var alts []string
	for _, v := range values {
		var chars []string
		for _, r := range v {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				chars = append(chars, regexp.QuoteMeta(string(r)))
			}
		}
		if len(chars) >= 3 {
			alts = append(alts, strings.Join(chars, `[\s\-./]?`))
		}
	}
	if len(alts) == 0 {
		return nil
	}
	re := regexp.MustCompile(`(?i)(?:` + strings.Join(alts, "|") + `)`)
	return func(s string) [][2]int {
		var out [][2]int
		for _, m := range re.FindAllStringIndex(s, -1) {
			if wordAt(s, m[0], m[1]) {
				out = append(out, [2]int{m[0], m[1]})
			}
		}
		return out
	}
}

// phones finds the known phone numbers in any notation: the last 8 digits
// of a known number (all, if it has 7) with any separators between them,
// and before them an optional country code, trunk prefix "(0)" and up to 4
// digits of area code — so "+44 (0)20 7946 0958" and "020-7946-0958" are both found
// for the known "+44 20 7946 0958".
func phones(values []string) func(string) [][2]int {
	var alts []string
	for _, v := range values {
		d := digits(v)
		if len(d) < 7 {
			continue
		}
		core := d[len(d)-min(len(d), 8):]
		alts = append(alts, strings.Join(strings.Split(core, ""), `[\s().\-/]*`))
	}
	if len(alts) == 0 {
		return nil
	}
	re := regexp.MustCompile(`(?:(?:\+|00)\d{1,3}[\s.\-/]*)?(?:\(0\)[\s.\-/]*|0[\s.\-/]*)?(?:\d[\s.\-/]*){0,4}(?:` + strings.Join(alts, "|") + `)`)
	return func(s string) [][2]int {
		var out [][2]int
		for _, m := range re.FindAllStringIndex(s, -1) {
			if wordAt(s, m[0], m[1]) {
				out = append(out, [2]int{m[0], m[1]})
			}
		}
		return out
	}
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func countDigits(s string) int { return len(digits(s)) }

// dateVariants are the ways a date of birth is commonly written.
func dateVariants(t time.Time) []string {
	if t.IsZero() {
		return nil
	}
	layouts := []string{
		"2006-01-02", "2006/01/02", "02.01.2006", "2.1.2006", "02/01/2006", "2/1/2006", "01/02/2006", "1/2/2006",
		"02-01-2006", "01-02-2006", "02.01.06", "02/01/06", "01/02/06", "020106", "02012006", "20060102",
		"2 January 2006", "January 2, 2006", "January 2 2006", "2 Jan 2006", "Jan 2, 2006", "02-Jan-2006", "2-Jan-2006",
		"02 Jan 2006", "2. January 2006",
	}
	out := make([]string, 0, len(layouts))
	for _, l := range layouts {
		out = append(out, t.Format(l))
	}
	return out
}

// addressParts are the address lines and each comma-separated part of
// them of 3 characters or more (street, town, postcode).
func addressParts(lines []string) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l)
		for _, p := range strings.Split(l, ",") {
			if p = strings.TrimSpace(p); utf8.RuneCountInString(p) >= 3 {
				out = append(out, p)
			}
		}
	}
	return out
}

// nameParts splits names into full names (two words or more) and single
// words of 2 letters or more: "Anne-Marie O'Neill" gives the full name and
// "Anne-Marie", "Anne", "Marie", "O'Neill".
func nameParts(names []string) (full, parts []string) {
	for _, n := range names {
		words := strings.Fields(n)
		if len(words) > 1 {
			full = append(full, strings.Join(words, " "))
		}
		for _, w := range words {
			w = strings.Trim(w, ".,;:")
			parts = append(parts, w)
			if strings.Contains(w, "-") {
				parts = append(parts, strings.Split(w, "-")...)
			}
		}
	}
	return full, parts
}

// A person's name in running text: capitalised words on one line,
// initials with their dot ("Jane Q. Public"), "Family, Given"; after a
// label it may start with a title ("Dr. Priya Raman"). A word that ends
// a sentence ("Raman. Admitted") ends the name.
const (
	titles     = `(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau|Fr|Hr|Mme|Mlle|Sr|Sra|Dott|Dra)`
	nameWord   = `(?:\p{Lu}\.[ \t]*)*\p{Lu}[\p{L}'’-]+`
	nameWords  = nameWord + `(?:,?[ \t]+` + nameWord + `){0,2}`
	personName = `(?:` + titles + `\.?[ \t]+)?` + nameWord + `(?:,?[ \t]+` + nameWord + `){0,3}`
)

const months = `(?:jan(?:uary|uar|vier)?|feb(?:ruary|ruar|braio)?|f[ée]vrier|febrero|mar(?:ch|s|zo)?|m[äa]rz|maart|apr(?:il|ile)?|avril|abril|may|mayo|mai|mei|maggio|jun(?:e|i|io)?|juin|giugno|jul(?:y|i|io)?|juillet|luglio|aug(?:ust|ustus)?|ao[uû]t|agosto|sep(?:t(?:ember|embre)?)?|settembre|septiembre|setiembre|oct(?:ober|obre|ubre)?|okt(?:ober)?|ottobre|nov(?:ember|embre|iembre)?|dec(?:ember)?|d[ée]cembre|dez(?:ember)?|diciembre|dicembre|gennaio|enero|januari|februari|aprile)\.?`

var (
	urlPattern        = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"')\]]+`)
	emailPattern      = regexp.MustCompile(`(?i)[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}`)
	caseNumberPattern = regexp.MustCompile(`\b[A-Z]{2,3}-(?:19|20)\d{2}-[A-Z0-9]{6}\b`)
	proNumberPattern  = regexp.MustCompile(`\bPRO-[A-Z]{2,3}-[A-Z0-9]{6}\b`)
	labelledIDPattern = regexp.MustCompile(`(?i)\b(?:MRN|MR#|medical\s+record(?:\s+(?:number|no\.?|#))?|record\s+(?:number|no\.?|#|id)|patient\s+(?:id|no\.?|number|#)|hospital\s+(?:number|no\.?|id)|NHS\s+(?:number|no\.?)|insurance\s+(?:number|no\.?|id)|policy\s+(?:number|no\.?)|member\s+(?:id|number)|account\s+(?:number|no\.?)|SSN|social\s+security\s+(?:number|no\.?)|accession\s+(?:number|no\.?)|case\s+(?:number|no\.?|id)|(?:versicherten|patienten|fall)nummer|num[ée]ro\s+de\s+(?:dossier|patient|s[ée]curit[ée]\s+sociale)|n[úu]mero\s+de\s+historia)\s*[:#.]?\s*(?P<v>[A-Z0-9](?:[A-Z0-9\-/.]*[A-Z0-9])?(?: \d{3,})*)`)
	ssnPattern        = regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`)
	uidPattern        = regexp.MustCompile(`\b\d+(?:\.\d+){3,}\b`)
	ibanPattern       = regexp.MustCompile(`\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){3,7}(?:\s?[A-Z0-9]{1,3})?\b`)
	mrnLikePattern    = regexp.MustCompile(`\b[A-Z]{1,4}-?\d{5,}[A-Z]?\b`)
	longNumberPattern = regexp.MustCompile(`\b\d{7,}\b`)

	datePatterns = []*regexp.Regexp{
		// ISO, with an optional time
		regexp.MustCompile(`\b(?:19|20)\d{2}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b`),
		// day and month (either order) and year: 07.03.1984, 3/7/84
		regexp.MustCompile(`\b(?:0?[1-9]|[12]\d|3[01])[./-](?:0?[1-9]|[12]\d|3[01])[./-](?:(?:19|20)\d{2}|\d{2})\b`),
		// 7 March 1984, 7. März 1984, 7th of March, 1984, 07-Mar-1984
		regexp.MustCompile(`(?i)\b\d{1,2}(?:st|nd|rd|th|er|\.)?(?:\s+|-)(?:of\s+|de\s+)?` + months + `(?:,?\s+|-)(?:de\s+)?(?:(?:19|20)\d{2}|\d{2})\b`),
		// March 7, 1984
		regexp.MustCompile(`(?i)\b` + months + `\s+\d{1,2}(?:st|nd|rd|th)?,?\s+(?:19|20)\d{2}\b`),
		// March 1984, 03/1984
		regexp.MustCompile(`(?i)\b` + months + `,?\s+(?:de\s+)?(?:19|20)\d{2}\b`),
		regexp.MustCompile(`\b(?:0?[1-9]|1[0-2])[./](?:19|20)\d{2}\b`),
		// 7 March, March 7th: the day of an event is a date element too
		regexp.MustCompile(`(?i)(?P<v>\b\d{1,2}(?:st|nd|rd|th|er|\.)?\s+(?:of\s+|de\s+)?` + months + `)(?:\s|[,;:)]|$)`),
		regexp.MustCompile(`(?i)\b` + months + `\s+\d{1,2}(?:st|nd|rd|th)?\b`),
	}

	agePatterns = []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(?:9\d|1[0-4]\d)(?:\s*|-)(?:years?(?:\s+|-)old|years?|yrs?|y/?o|j[äa]hrige[rn]?|jahre|ans|a[ñn]os|anni|jaar)\b`),
		regexp.MustCompile(`(?i)\b(?:aged?|age:|alter:?|[âa]ge:?)\s+(?P<v>9\d|1[0-4]\d)\b`),
	}

	phonePatterns = []*regexp.Regexp{
		regexp.MustCompile(`(?i)\b(?:tel|phone|telephone|mobile|cell|fax|telefon|handy|t[ée]l[ée]phone|portable|m[oó]vil|tel[ée]fono|cellulare)\.?\s*[:#]?\s*(?P<v>\+?[\d(][\d\s().\-/]{4,}\d)`),
		regexp.MustCompile(`(?:\+|\b00)\d{1,3}[\s.\-/]?(?:\(0\)[\s.\-]?)?(?:\(?\d{1,5}\)?[\s.\-/]?){1,5}\d{2,}`),
		regexp.MustCompile(`\(?\b0\d{1,5}\)?[\s.\-/]?\d{2,}(?:[\s.\-]\d{2,}){0,4}`),
		regexp.MustCompile(`\(?\b\d{3}\)?[\s.\-]\d{3}[\s.\-]\d{4}\b`),
	}

	addressPatterns = []*regexp.Regexp{
		regexp.MustCompile(`\b\d{1,5}[A-Za-z]?\s+(?:\p{Lu}[\p{L}'’.-]*\s+){1,4}(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Boulevard|Blvd|Drive|Dr|Way|Court|Ct|Place|Pl|Square|Sq|Terrace|Close|Crescent|Highway|Hwy|Parkway|Pkwy)\b`),
		regexp.MustCompile(`\b\p{Lu}[\p{L}-]*(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer|straat|laan|plein|gracht|steig|pfad)\s+\d{1,4}\s?[a-zA-Z]?\b`),
		regexp.MustCompile(`\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:[Rr]ue|[Aa]venue|[Bb]oulevard|[Bb]d|[Pp]lace|[Cc]hemin|[Ii]mpasse|[Qq]uai|[Aa]llée)\s+(?:(?:de|du|des|la|le|l'|d')\s*)*\p{Lu}[\p{L}'’-]*(?:\s+\p{Lu}[\p{L}'’-]*){0,3}`),
		regexp.MustCompile(`\b(?:Calle|Via|Viale|Piazza|Avenida|Rua|Corso|Plaza)\s+(?:(?:de|del|della|di|la)\s+)*(?:\p{Lu}[\p{L}'’-]*\s+){1,3}\d{1,4}\b`),
		regexp.MustCompile(`(?i)\bP\.?\s?O\.?\s+Box\s+\d+\b`),
		regexp.MustCompile(`\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b`), // UK postcode
		regexp.MustCompile(`\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b`),       // US state and ZIP
	}

	labelledNamePattern = regexp.MustCompile(`(?i:\b(?:patient(?:in)?|name|patient\s+name|pt\.?|nom|nombre|cognome|vorname|nachname|family\s+name|given\s+name|surname|first\s+name|last\s+name|mother|father|husband|wife|son|daughter|next\s+of\s+kin|contact|referring\s+(?:physician|doctor)|signed(?:\s+by)?|dictated\s+by|guardian|emergency\s+contact))[ \t]*:[ \t]*(?P<v>` + personName + `)`)
	titledNamePattern   = regexp.MustCompile(`\b` + titles + `\.?[ \t]+(?P<v>` + nameWords + `)`)
)
