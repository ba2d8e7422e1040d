package nlp

import "strings"

// A medication mention is the drug's name and what is written right after
// it, in any order, each at most once, separated by blanks or a comma: a dose
// (a number and a unit: "500 mg", "1-2 tablets", "20 units"), a route ("PO",
// "by mouth", "IV") and a frequency ("twice daily", "BID", "every 8 hours",
// "as needed"). A formulation ("XR", "SR") or a brand in brackets may stand
// between the name and the rest.

var doseUnits = phraseSet("mg", "g", "gram", "grams", "mcg", "µg", "μg", "ug", "microgram", "micrograms", "units", "unit",
	"U", "IU", "iu", "mL", "ml", "mmol", "mEq", "%", "puffs", "puff", "tablets", "tablet", "tab", "tabs", "capsules",
	"capsule", "caps", "drops", "mg/kg", "mg/m2", "mg/m²", "mcg/h", "mcg/hr", "mg/h", "units/kg", "L/min", "l/min", "L", "litres",
	"liters", "sachet", "sachets", "patch", "AUC")

var routes = map[string]string{
	"po": "PO", "p o": "PO", "oral": "PO", "orally": "PO", "by mouth": "PO", "per os": "PO",
	"iv": "IV", "i v": "IV", "intravenous": "IV", "intravenously": "IV", "ivi": "IV",
	"im": "IM", "i m": "IM", "intramuscular": "IM", "intramuscularly": "IM",
	"sc": "SC", "s c": "SC", "sq": "SC", "subcut": "SC", "subcutaneous": "SC", "subcutaneously": "SC", "sc injection": "SC",
	"inhaled": "INH", "inh": "INH", "by inhaler": "INH", "via inhaler": "INH", "inhaler": "INH",
	"nebulised": "NEB", "nebulized": "NEB", "neb": "NEB", "nebs": "NEB", "via nebuliser": "NEB", "via nebulizer": "NEB",
	"sublingual": "SL", "sl": "SL", "sublingually": "SL",
	"pr": "PR", "rectally": "PR", "per rectum": "PR",
	"topical": "TOP", "topically": "TOP",
	"transdermal": "TD", "transdermally": "TD",
	"via nasal cannula": "INH", "by nasal cannula": "INH", "nasal cannula": "INH",
}

var routeSet = func() *phraseNode {
	var keys []string
	for k := range routes {
		keys = append(keys, k)
	}
	return phraseSet(keys...)
}()

var frequencies = phraseSet("daily", "once daily", "twice daily", "three times daily", "four times daily", "once a day",
	"twice a day", "three times a day", "four times a day", "every day", "each day", "a day", "per day", "bid", "b i d", "tid", "t i d",
	"qid", "q i d", "qd", "q d", "od", "bd", "b d", "tds", "qds", "qhs", "q h s", "hs", "at night", "nightly", "at bedtime",
	"before bed", "in the morning", "every morning", "each morning", "in the evening", "every evening", "mane", "nocte",
	"weekly", "once weekly", "once a week", "twice weekly", "twice a week", "every week", "monthly", "once monthly",
	"every month", "every other day", "on alternate days", "alternate days", "every 2 weeks", "every two weeks",
	"every 3 weeks", "every three weeks", "every 4 weeks", "every four weeks", "every 6 weeks", "every 12 weeks",
	"every 3 months", "every 6 months", "every six months", "every 4 hours", "every 6 hours", "every 8 hours",
	"every 12 hours", "every 24 hours", "every four hours", "every six hours", "every eight hours", "every twelve hours",
	"q4h", "q6h", "q8h", "q12h", "q24h", "q4 h", "q6 h", "q8 h", "q12 h", "q2w", "q3w", "q4w", "q3 weeks", "q3weeks",
	"prn", "p r n", "as needed", "as required", "when required", "when needed", "as directed", "stat", "once",
	"with meals", "before meals", "after meals", "with breakfast", "before breakfast", "with dinner", "continuous",
	"continuously", "per hour", "an hour", "3 times a day", "2 times a day", "4 times a day", "3 times daily",
	"2 times daily", "4 times daily", "1 time daily", "x1", "daily at night", "in divided doses", "as a single dose",
	"on days 1 and 8", "day 1", "for 5 days", "for 7 days", "for 10 days", "for 14 days")

var asNeeded = phraseSet("as needed", "as required", "prn", "p r n", "when required", "when needed", "for pain", "for nausea")

var formulations = map[string]bool{"xr": true, "er": true, "sr": true, "xl": true, "cr": true, "mr": true, "la": true, "odt": true, "ec": true}

// phraseSet builds a trie of phrases (normalised like dictionary terms).
func phraseSet(phrases ...string) *phraseNode {
	root := &phraseNode{}
	for _, p := range phrases {
		n := root
		for _, w := range normTokens(p) {
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
		n.trig = &trigger{phrase: p}
	}
	return root
}

// medicationDetail reads what follows a drug name: toks[k:] are the tokens
// after the name. It returns the detail and the index after the last token
// used (k when nothing follows).
func medicationDetail(text string, toks []token, k int, name string) (*MedicationDetail, int) {
	d := &MedicationDetail{Name: strings.ToLower(name)}
	last := k
	j := k
	// a formulation or a bracketed brand: "metformin XR", "atorvastatin (Lipitor)"
	if j < len(toks) && toks[j].kind == tokWord && formulations[toks[j].norm] && toks[j].text == strings.ToUpper(toks[j].text) {
		j++
		last = j
	}
	if j+2 < len(toks) && toks[j].text == "(" && toks[j+1].kind == tokWord && toks[j+2].text == ")" {
		j += 3
		last = j
	}
	for steps := 0; steps < 6 && j < len(toks); steps++ {
		i := j
		if toks[i].text == "," && i+1 < len(toks) {
			i++ // a comma may separate the parts
		}
		switch {
		case d.Dose == "" && toks[i].kind == tokNumber:
			// number [-number] unit
			e := i + 1
			if e+1 < len(toks) && (toks[e].text == "-" || toks[e].text == "–" || toks[e].text == "/") && toks[e+1].kind == tokNumber {
				e += 2
			}
			if _, ue := matchPhrase(doseUnits, toks, e); ue > e {
				d.Dose = text[toks[i].start:toks[e-1].end]
				d.Unit = text[toks[e].start:toks[ue-1].end]
				j = ue
				last = j
				continue
			}
			// a bare number followed by a route or frequency: "aspirin 81 daily"
			if _, fe := matchPhrase(frequencies, toks, e); fe > e {
				d.Dose = text[toks[i].start:toks[e-1].end]
				j = e
				last = j
				continue
			}
			if _, re := matchPhrase(routeSet, toks, e); re > e {
				d.Dose = text[toks[i].start:toks[e-1].end]
				j = e
				last = j
				continue
			}
		case d.Route == "":
			if _, re := matchPhrase(routeSet, toks, i); re > i && acceptRoute(toks, i, re) {
				d.Route = routes[joinNorm(toks, i, re)]
				j = re
				last = j
				continue
			}
		}
		if d.Frequency == "" {
			if _, fe := matchPhrase(frequencies, toks, i); fe > i {
				// "every 4 hours as needed": a second, on-demand phrase joins
				if _, pe := matchPhrase(asNeeded, toks, fe); pe > fe {
					fe = pe
				}
				d.Frequency = text[toks[i].start:toks[fe-1].end]
				j = fe
				last = j
				continue
			}
		}
		if d.Route == "" && i == j {
			// the route may come after the frequency
			if _, re := matchPhrase(routeSet, toks, i); re > i && acceptRoute(toks, i, re) {
				d.Route = routes[joinNorm(toks, i, re)]
				j = re
				last = j
				continue
			}
		}
		break
	}
	return d, last
}

// acceptRoute rejects ambiguous short routes written in lower case where a
// word is meant ("im" is not a route in prose; "IM" is).
func acceptRoute(toks []token, i, e int) bool {
	if e-i == 1 && len(toks[i].text) <= 2 {
		switch toks[i].norm {
		case "iv", "im", "sc", "sq", "sl", "pr", "po":
			return toks[i].text == strings.ToUpper(toks[i].text) || toks[i].norm == "po"
		}
	}
	return true
}

// joinNorm joins the normalised word tokens of toks[i:e] with spaces.
func joinNorm(toks []token, i, e int) string {
	var w []string
	for _, t := range toks[i:e] {
		if t.kind != tokPunct {
			w = append(w, t.norm)
		}
	}
	return strings.Join(w, " ")
}
