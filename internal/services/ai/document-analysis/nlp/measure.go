package nlp

import (
	"regexp"
	"strconv"
	"strings"
)

// Measurements: a lab or vital name, then at most four filler words ("was",
// "of", "on admission"), then a value, a unit, an H/L marker and a reference
// range, each optional after the value. The entity spans from the name to the
// last of these.

// fillers may stand between a measurement's name and its value.
var measureFillers = map[string]bool{
	"was": true, "were": true, "is": true, "are": true, "of": true, "at": true, "level": true, "levels": true,
	"value": true, "now": true, "remains": true, "remained": true, "measured": true, "today": true, "on": true,
	"admission": true, "initially": true, "peaked": true, "peak": true, "up": true, "to": true, "result": true,
	"reading": true, "recorded": true, "elevated": true, "raised": true, "low": true, "high": true, "around": true,
	"approximately": true, "about": true, "by": true, "calculated": true, "estimated": true, "visual": true,
	"count": true, "of:": true, "increased": true, "decreased": true, "reduced": true, "mildly": true, "markedly": true,
	"moderately": true, "severely": true, "rose": true, "fell": true, "dropped": true, "has": true, "been": true,
	"room": true, "air": true,
}

// labUnits and vitalUnits are the units we recognise after a value, longest
// first at match time. Matching ignores case except for the one-letter units.
var labUnits = []string{
	"mL/min/1.73 m2", "mL/min/1.73m2", "mL/min/1.73m²", "ml/min/1.73m2", "mL/min/1.73 m²", "mL/min",
	"x 10^9/L", "x10^9/L", "× 10^9/L", "×10^9/L", "x 10^12/L", "x10^12/L", "×10^12/L", "10^9/L", "10^12/L",
	"x 10⁹/L", "x10⁹/L", "×10⁹/L", "10⁹/L", "x 10^3/µL", "x10^3/µL", "x 10^3/uL", "K/µL", "K/uL", "cells/µL", "cells/uL", "cells/mm3",
	"mmol/mol", "mmol/L", "µmol/L", "umol/L", "μmol/L", "nmol/L", "pmol/L", "mg/dL", "mg/L", "g/dL", "g/L", "ng/mL",
	"ng/dL", "ng/L", "pg/mL", "µg/L", "ug/L", "μg/L", "mcg/L", "µg/dL", "ug/dL", "μg/dL", "mcg/dL", "mIU/L", "mIU/mL", "µIU/mL",
	"uIU/mL", "μIU/mL", "mU/L", "IU/L", "U/L", "IU/mL", "U/mL", "kU/L", "mEq/L", "mg/mmol", "mg/g", "mm/hr", "mm/h",
	"/µL", "/uL", "/mm3", "fL", "fl", "pg", "kPa", "mmHg", "mm Hg", "seconds", "sec", "%", "L/min", "L", "s", "ratio",
}

var vitalUnits = []string{
	"mm Hg", "mmHg", "beats per minute", "beats/min", "bpm", "breaths per minute", "breaths/min", "/min", "per minute",
	"°C", "° C", "ºC", "degrees C", "degrees Celsius", "°F", "° F", "ºF", "degrees F", "degrees Fahrenheit",
	"kg/m2", "kg/m²", "kg", "lbs", "lb", "cm", "m", "%", "C", "F",
}

func init() {
	sortLongestFirst(labUnits)
	sortLongestFirst(vitalUnits)
}

func sortLongestFirst(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && len(s[j]) > len(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// matchUnit returns the length of the unit at text[i:] (0 when none). A unit
// must end at a non-letter.
func matchUnit(text string, i int, units []string) (string, int) {
	for _, u := range units {
		if i+len(u) > len(text) {
			continue
		}
		got := text[i : i+len(u)]
		short := len(u) <= 1
		if short && got != u || !short && !strings.EqualFold(got, u) {
			continue
		}
		if e := i + len(u); e < len(text) && isLetterByte(text[e]) {
			continue
		}
		return got, len(u)
	}
	return "", 0
}

func isLetterByte(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80 }

// skipSpaces skips blanks (not line breaks) from i.
func skipSpaces(text string, i, end int) int {
	for i < end && (text[i] == ' ' || text[i] == '\t') {
		i++
	}
	return i
}

var (
	// a value: optional comparator, a number, optionally "-number" (a range
	// of values: "35-40%") or "/number" (blood pressure)
	valueRe = regexp.MustCompile(`^(<=|>=|<|>|≤|≥|~)?\s?(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?:(?:-|–)(\d+(?:\.\d+)?)|/(\d+(?:\.\d+)?))?`)
	// a reference range in brackets, after "ref", "normal", "range", "N", or
	// bare: "(4.0-5.6)", "[ref: 70–99 mg/dL]", "normal range 3.5 to 5.0"
	refRe = regexp.MustCompile(`^[ \t]*([(\[]?)[ \t]*(?i:(?:ref(?:erence)?\.?(?:[ \t]+(?:range|interval))?|normal(?:[ \t]+range)?|nr|range|n)[ \t]*[:=]?[ \t]*)?(\d+(?:\.\d+)?)[ \t]*(?:-|–|—|to)[ \t]*(\d+(?:\.\d+)?)[ \t]*([^\s)\]]{0,14})[ \t]*([)\]]?)`)
	// a one-sided range: "(<5.7%)", "(ref < 200)", "[>60]"
	refOneRe = regexp.MustCompile(`^[ \t]*([(\[])[ \t]*(?i:(?:ref(?:erence)?\.?(?:[ \t]+range)?|normal|nr|n)[ \t]*[:=]?[ \t]*)?(<=|>=|<|>|≤|≥)[ \t]*(\d+(?:\.\d+)?)[ \t]*([^\s)\]]{0,14})[ \t]*([)\]])`)
	// a flag marker after a value: "H", "(L)", "*H", "high", "↑"
	markerRe = regexp.MustCompile(`^[ \t]*(?:\(|\[)?[ \t]*(\*?(?:H|L|HH|LL|HIGH|LOW|High|Low|high|low|↑|↓)\*?)[ \t]*(?:\)|\])?`)
)

func parseNum(s string) float64 {
	s = strings.ReplaceAll(s, ",", "")
	v, _ := strconv.ParseFloat(s, 64)
	return v
}

// measurement parses a value after a lab or vital name that ends at byte
// nameEnd, within the sentence ending at end. toks are the sentence tokens,
// k the index of the first token after the name. It returns the measurement,
// the byte end of the entity and the index of the first token after it.
func measurement(text string, toks []token, k, end int, t *term) (*Measurement, int, int, bool) {
	// fillers and separators
	n := 0
	for k < len(toks) && n < 5 {
		tk := toks[k]
		if tk.kind == tokPunct && (tk.text == ":" || tk.text == "=" || tk.text == "-" || tk.text == "–") {
			k++
			n++
			continue
		}
		if tk.kind == tokWord && measureFillers[tk.norm] {
			k++
			n++
			continue
		}
		break
	}
	if k >= len(toks) {
		return nil, 0, 0, false
	}
	vs := toks[k].start
	if toks[k].kind == tokPunct && strings.ContainsAny(toks[k].text, "<>≤≥~") {
		// comparator: fine
	} else if toks[k].kind != tokNumber {
		return nil, 0, 0, false
	}
	m := valueRe.FindStringSubmatch(text[vs:end])
	if m == nil {
		return nil, 0, 0, false
	}
	meas := &Measurement{Name: t.canonical, ValueText: m[0], Value: parseNum(m[2])}
	pos := vs + len(m[0])
	vital := t.kind == lexVital
	if m[4] != "" {
		if !vital || t.canonical != "blood pressure" {
			// "x/y" outside blood pressure is not a value we read
			return nil, 0, 0, false
		}
		v2 := parseNum(m[4])
		meas.Value2 = &v2
	} else if vital && t.canonical == "blood pressure" {
		return nil, 0, 0, false
	}
	// unit
	units := labUnits
	if vital {
		units = vitalUnits
	}
	if u, l := matchUnit(text, skipSpaces(text, pos, end), units); l > 0 && skipSpaces(text, pos, end)+l <= end {
		meas.Unit = u
		pos = skipSpaces(text, pos, end) + l
	}
	last := pos
	// marker and range, in either order
	var marker string
	for range 2 {
		if marker == "" {
			if mm := markerRe.FindStringSubmatch(text[last:end]); mm != nil && !vital && endsWord(text, last+len(mm[0]), end) {
				marker = mm[1]
				last += len(mm[0])
				continue
			}
		}
		if meas.RefText == "" && !vital {
			if rm := refRe.FindStringSubmatchIndex(text[last:end]); rm != nil && balanced(text[last:end], rm) {
				g := func(i int) string {
					if rm[2*i] < 0 {
						return ""
					}
					return text[last+rm[2*i] : last+rm[2*i+1]]
				}
				unit := g(4)
				if unit == "" || looksLikeUnit(unit) {
					lo, hi := parseNum(g(2)), parseNum(g(3))
					meas.RefLow, meas.RefHigh = &lo, &hi
					meas.RefText = strings.TrimSpace(text[last+rm[0] : last+rm[1]])
					meas.RefSource = "STATED"
					last += rm[1]
					continue
				}
			}
			if rm := refOneRe.FindStringSubmatchIndex(text[last:end]); rm != nil {
				g := func(i int) string { return text[last+rm[2*i] : last+rm[2*i+1]] }
				unit := g(4)
				if unit == "" || looksLikeUnit(unit) {
					v := parseNum(g(3))
					switch g(2) {
					case "<", "<=", "≤":
						meas.RefHigh = &v
					default:
						meas.RefLow = &v
					}
					meas.RefText = strings.TrimSpace(text[last+rm[0] : last+rm[1]])
					meas.RefSource = "STATED"
					last += rm[1]
					continue
				}
			}
		}
		break
	}
	// flag
	switch {
	case meas.RefSource == "STATED":
		meas.Flag = FlagNormal
		if meas.RefHigh != nil && meas.Value > *meas.RefHigh {
			meas.Flag = FlagHigh
		}
		if meas.RefLow != nil && meas.Value < *meas.RefLow {
			meas.Flag = FlagLow
		}
		// "<0.01" against an upper limit: below it is normal
	case marker != "":
		meas.RefSource = "MARKER"
		if strings.ContainsAny(marker, "Hh↑") {
			meas.Flag = FlagHigh
		} else {
			meas.Flag = FlagLow
		}
	case vital:
		vitalFlag(meas)
	}
	if marker != "" && meas.RefSource == "STATED" {
		// a written marker and a range that disagree: trust the range
		_ = marker
	}
	// trim trailing blanks of the span
	for last > vs && (text[last-1] == ' ' || text[last-1] == '\t') {
		last--
	}
	// the index of the first token at or after last
	j := k
	for j < len(toks) && toks[j].start < last {
		j++
	}
	return meas, last, j, true
}

// endsWord reports whether position i ends a word (not inside one).
func endsWord(text string, i, end int) bool {
	return i >= end || !isLetterByte(text[i])
}

// balanced rejects a bare range that opens no bracket but closes one, and a
// bracket that opens without closing.
func balanced(s string, rm []int) bool {
	open := rm[2] < rm[3]
	closed := rm[10] < rm[11]
	return open == closed
}

// looksLikeUnit accepts what can follow a range's numbers inside its
// brackets: a unit, not a word of prose.
func looksLikeUnit(s string) bool {
	if _, l := matchUnit(s, 0, labUnits); l == len(s) {
		return true
	}
	_, l := matchUnit(s, 0, vitalUnits)
	return l == len(s)
}

// Adult limits for vital signs (resting adult, not pregnant): outside them a
// vital is flagged. They are deliberately simple and are documented as such.
//
//	blood pressure   HIGH if systolic ≥ 140 or diastolic ≥ 90; LOW if systolic < 90 or diastolic < 60
//	heart rate       HIGH > 100/min; LOW < 60/min
//	respiratory rate HIGH > 20/min; LOW < 12/min
//	temperature      HIGH ≥ 38.0 °C (100.4 °F); LOW < 35.0 °C (95 °F); °F assumed when the value is over 45
//	oxygen saturation LOW < 94 %
//	BMI              HIGH ≥ 30; LOW < 18.5
//
// Weight, height and waist are not flagged.
func vitalFlag(m *Measurement) {
	set := func(hi, lo bool) {
		m.RefSource = "ADULT_NORM"
		switch {
		case hi:
			m.Flag = FlagHigh
		case lo:
			m.Flag = FlagLow
		default:
			m.Flag = FlagNormal
		}
	}
	v := m.Value
	switch m.Name {
	case "blood pressure":
		d := 0.0
		if m.Value2 != nil {
			d = *m.Value2
		}
		set(v >= 140 || d >= 90, v < 90 || d < 60)
	case "heart rate":
		set(v > 100, v < 60)
	case "respiratory rate":
		set(v > 20, v < 12)
	case "temperature":
		c := v
		if strings.ContainsAny(m.Unit, "F") || (m.Unit == "" && v > 45) {
			c = (v - 32) * 5 / 9
		}
		set(c >= 38.0, c < 35.0)
	case "oxygen saturation":
		set(false, v < 94)
	case "BMI":
		set(v >= 30, v < 18.5)
	}
}
