package nlp

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The labelled corpus (testdata/README.md describes the format) and the
// evaluation over it. TestCorpusEvaluation fails when a figure drops below
// its floor; the figures and floors are published in bench/RESULTS.md
// ("6. document-analysis NLP"), which bench/run.sh writes. Run with
// NLP_EVAL_VERBOSE=1 to print every error, and with NLP_EVAL_REPORT=<file>
// to write the tables as Markdown to file (an absolute path, or relative
// to this package's directory, where go test runs the test).

// goldEntity is a labelled entity.
type goldEntity struct {
	typ                          EntityType
	span                         Span
	text                         string
	neg, unc, hist, fam          bool
	code                         string
	flag                         Flag
	dose, unit, route, frequency string
	hasMed                       bool
}

type goldDoc struct {
	name   string
	pages  []Page
	labels []goldEntity
}

var (
	labelRe = regexp.MustCompile(`\[([^\[\]\n]+)\]\(([CMPLVA](?: [^()\n]*)?)\)`)
	icdRe   = regexp.MustCompile(`^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$`)
	typeOf  = map[byte]EntityType{'C': Condition, 'M': Medication, 'P': Procedure, 'L': Lab, 'V': Vital, 'A': Anatomy}
)

// parseGold strips the inline labels of one document.
func parseGold(name, raw string) (goldDoc, error) {
	d := goldDoc{name: name}
	for pi, rawPage := range strings.Split(raw, "\n<<<PAGE>>>\n") {
		var b strings.Builder
		var labels []goldEntity
		last := 0
		for _, m := range labelRe.FindAllStringSubmatchIndex(rawPage, -1) {
			b.WriteString(rawPage[last:m[0]])
			words := rawPage[m[2]:m[3]]
			start := b.Len()
			b.WriteString(words)
			g := goldEntity{span: Span{Page: pi + 1, Start: start, End: b.Len()}, text: words}
			fields := strings.Fields(rawPage[m[4]:m[5]])
			g.typ = typeOf[fields[0][0]]
			for _, f := range fields[1:] {
				k, v, kv := strings.Cut(f, "=")
				v = strings.ReplaceAll(v, "_", " ")
				switch {
				case f == "neg":
					g.neg = true
				case f == "unc":
					g.unc = true
				case f == "hist":
					g.hist = true
				case f == "fam":
					g.fam = true
				case f == "high":
					g.flag = FlagHigh
				case f == "low":
					g.flag = FlagLow
				case f == "normal":
					g.flag = FlagNormal
				case kv && k == "dose":
					g.dose, g.hasMed = v, true
				case kv && k == "unit":
					g.unit, g.hasMed = v, true
				case kv && k == "route":
					g.route, g.hasMed = v, true
				case kv && k == "freq":
					g.frequency, g.hasMed = v, true
				case icdRe.MatchString(f):
					g.code = f
				default:
					return d, fmt.Errorf("%s: unknown label field %q in %q", name, f, rawPage[m[0]:m[1]])
				}
			}
			labels = append(labels, g)
			last = m[1]
		}
		b.WriteString(rawPage[last:])
		text := b.String()
		if strings.ContainsAny(text, "[]") && regexp.MustCompile(`\]\([A-Z]`).MatchString(text) {
			return d, fmt.Errorf("%s: page %d has markup left after stripping", name, pi+1)
		}
		d.pages = append(d.pages, Page{Number: pi + 1, Text: text})
		d.labels = append(d.labels, labels...)
	}
	return d, nil
}

func loadCorpus(t testing.TB, set string) []goldDoc {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", set, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus in testdata/corpus/%s: %v", set, err)
	}
	sort.Strings(files)
	var docs []goldDoc
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := parseGold(filepath.Base(f), string(raw))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	return docs
}

// prf is a count of true positives, false positives and false negatives.
type prf struct{ tp, fp, fn int }

func (c prf) precision() float64 {
	if c.tp+c.fp == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fp)
}

func (c prf) recall() float64 {
	if c.tp+c.fn == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fn)
}

func (c prf) f1() float64 {
	p, r := c.precision(), c.recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// accuracy counts agreements among matched pairs.
type accuracy struct{ ok, n int }

func (a accuracy) value() float64 {
	if a.n == 0 {
		return 1
	}
	return float64(a.ok) / float64(a.n)
}

// evaluation is every figure of one corpus.
type evaluation struct {
	docs, bytes int
	gold        map[EntityType]int
	lenient     map[EntityType]*prf
	strict      map[EntityType]*prf
	context     map[CueKind]*prf // over conditions, medications and procedures
	codes       accuracy         // ICD-10 code of matched conditions labelled with one
	flags       accuracy         // HIGH/LOW/NORMAL of matched labs and vitals labelled with one
	medAttrs    accuracy         // dose, unit, route, frequency of matched drugs labelled with them
	errors      []string
}

var entityTypes = []EntityType{Condition, Medication, Procedure, Lab, Vital, Anatomy}
var cueKinds = []CueKind{CueNegation, CueUncertainty, CueHistorical, CueFamily}

func overlap(a, b Span) int {
	if a.Page != b.Page {
		return 0
	}
	return min(a.End, b.End) - max(a.Start, b.Start)
}

func evaluate(docs []goldDoc) *evaluation {
	ev := &evaluation{gold: map[EntityType]int{}, lenient: map[EntityType]*prf{}, strict: map[EntityType]*prf{}, context: map[CueKind]*prf{}}
	for _, t := range entityTypes {
		ev.lenient[t], ev.strict[t] = &prf{}, &prf{}
	}
	for _, k := range cueKinds {
		ev.context[k] = &prf{}
	}
	for _, d := range docs {
		ev.docs++
		for _, p := range d.pages {
			ev.bytes += len(p.Text)
		}
		a := Analyze(d.pages)
		errf := func(format string, args ...any) {
			ev.errors = append(ev.errors, d.name+": "+fmt.Sprintf(format, args...))
		}
		matchedPred := make([]int, len(a.Entities)) // gold index+1
		matchedGold := make([]int, len(d.labels))   // pred index+1
		// greedy one-to-one matching by largest overlap, same type
		type pair struct{ g, p, ov int }
		var pairs []pair
		for gi, g := range d.labels {
			for pi, e := range a.Entities {
				if e.Type == g.typ {
					if ov := overlap(g.span, e.Cite); ov > 0 {
						pairs = append(pairs, pair{gi, pi, ov})
					}
				}
			}
		}
		sort.SliceStable(pairs, func(i, j int) bool { return pairs[i].ov > pairs[j].ov })
		for _, pr := range pairs {
			if matchedGold[pr.g] == 0 && matchedPred[pr.p] == 0 {
				matchedGold[pr.g], matchedPred[pr.p] = pr.p+1, pr.g+1
			}
		}
		for gi, g := range d.labels {
			ev.gold[g.typ]++
			pi := matchedGold[gi] - 1
			if pi < 0 {
				ev.lenient[g.typ].fn++
				ev.strict[g.typ].fn++
				errf("FN %s %q", g.typ, g.text)
				continue
			}
			e := a.Entities[pi]
			ev.lenient[g.typ].tp++
			if e.Cite == g.span {
				ev.strict[g.typ].tp++
			} else {
				ev.strict[g.typ].fn++
				ev.strict[g.typ].fp++
				errf("SPAN %s gold %q got %q", g.typ, g.text, e.Text)
			}
			if g.code != "" {
				ev.codes.n++
				if e.Concept != nil && e.Concept.Code == g.code {
					ev.codes.ok++
				} else {
					errf("CODE %q gold %s got %+v", g.text, g.code, e.Concept)
				}
			}
			if g.flag != "" {
				ev.flags.n++
				if e.Measurement != nil && e.Measurement.Flag == g.flag {
					ev.flags.ok++
				} else if e.Measurement != nil {
					errf("FLAG %q gold %s got %s", g.text, g.flag, e.Measurement.Flag)
				}
			}
			if g.hasMed && e.Medication != nil {
				for _, c := range [][2]string{{g.dose, e.Medication.Dose}, {g.unit, e.Medication.Unit}, {g.route, e.Medication.Route}, {g.frequency, e.Medication.Frequency}} {
					ev.medAttrs.n++
					if strings.EqualFold(c[0], c[1]) {
						ev.medAttrs.ok++
					} else {
						errf("MED %q gold %q got %q", g.text, c[0], c[1])
					}
				}
			}
		}
		for pi, e := range a.Entities {
			if matchedPred[pi] == 0 {
				ev.lenient[e.Type].fp++
				ev.strict[e.Type].fp++
				errf("FP %s %q [%s]", e.Type, e.Text, e.Section)
			}
		}
		// context flags, end to end: a labelled flag on an entity we missed
		// counts as missed; a flag on an entity nobody labelled counts as wrong
		for _, k := range cueKinds {
			c := ev.context[k]
			for gi, g := range d.labels {
				if g.typ != Condition && g.typ != Medication && g.typ != Procedure {
					continue
				}
				want := flagOfGold(g, k)
				got := false
				if pi := matchedGold[gi] - 1; pi >= 0 {
					got = flagOf(a.Entities[pi], k)
				}
				switch {
				case want && got:
					c.tp++
				case want:
					c.fn++
					errf("%s missed on %q", k, g.text)
				case got:
					c.fp++
					errf("%s wrongly on %q", k, g.text)
				}
			}
			for pi, e := range a.Entities {
				if matchedPred[pi] == 0 && flagOf(e, k) {
					c.fp++
				}
			}
		}
	}
	return ev
}

func flagOf(e Entity, k CueKind) bool {
	switch k {
	case CueNegation:
		return e.Negated
	case CueUncertainty:
		return e.Uncertain
	case CueHistorical:
		return e.Historical
	}
	return e.Family
}

func flagOfGold(g goldEntity, k CueKind) bool {
	switch k {
	case CueNegation:
		return g.neg
	case CueUncertainty:
		return g.unc
	case CueHistorical:
		return g.hist
	}
	return g.fam
}

func (ev *evaluation) report(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "corpus %s: %d documents, %d bytes\n", name, ev.docs, ev.bytes)
	fmt.Fprintf(&b, "%-12s %6s %9s %7s %5s %9s %7s\n", "type", "gold", "precision", "recall", "F1", "strict P", "strict R")
	total := 0
	for _, t := range entityTypes {
		l, s := ev.lenient[t], ev.strict[t]
		total += ev.gold[t]
		fmt.Fprintf(&b, "%-12s %6d %9.3f %7.3f %5.3f %9.3f %7.3f\n", t, ev.gold[t], l.precision(), l.recall(), l.f1(), s.precision(), s.recall())
	}
	fmt.Fprintf(&b, "%-12s %6d\n", "all", total)
	for _, k := range cueKinds {
		c := ev.context[k]
		fmt.Fprintf(&b, "%-12s %6d %9.3f %7.3f %5.3f\n", k, c.tp+c.fn, c.precision(), c.recall(), c.f1())
	}
	fmt.Fprintf(&b, "ICD-10 code accuracy %.3f (%d), lab/vital flag accuracy %.3f (%d), medication attribute accuracy %.3f (%d)\n",
		ev.codes.value(), ev.codes.n, ev.flags.value(), ev.flags.n, ev.medAttrs.value(), ev.medAttrs.n)
	return b.String()
}

// floor is a published minimum.
type floor struct {
	what string
	min  float64
	got  func(ev *evaluation) float64
}

func lenientP(t EntityType) func(*evaluation) float64 {
	return func(ev *evaluation) float64 { return ev.lenient[t].precision() }
}
func lenientR(t EntityType) func(*evaluation) float64 {
	return func(ev *evaluation) float64 { return ev.lenient[t].recall() }
}
func ctxP(k CueKind) func(*evaluation) float64 {
	return func(ev *evaluation) float64 { return ev.context[k].precision() }
}
func ctxR(k CueKind) func(*evaluation) float64 {
	return func(ev *evaluation) float64 { return ev.context[k].recall() }
}

// floors are the minimums published in bench/RESULTS.md, a little below the
// figures measured on the whole corpus (dev and held-out together).
var floors = []floor{
	{"CONDITION precision", 0.95, lenientP(Condition)},
	{"CONDITION recall", 0.95, lenientR(Condition)},
	{"MEDICATION precision", 0.95, lenientP(Medication)},
	{"MEDICATION recall", 0.95, lenientR(Medication)},
	{"PROCEDURE precision", 0.95, lenientP(Procedure)},
	{"PROCEDURE recall", 0.95, lenientR(Procedure)},
	{"LAB precision", 0.95, lenientP(Lab)},
	{"LAB recall", 0.95, lenientR(Lab)},
	{"VITAL precision", 0.95, lenientP(Vital)},
	{"VITAL recall", 0.95, lenientR(Vital)},
	{"ANATOMY precision", 0.95, lenientP(Anatomy)},
	{"ANATOMY recall", 0.95, lenientR(Anatomy)},
	{"NEGATION precision", 0.95, ctxP(CueNegation)},
	{"NEGATION recall", 0.95, ctxR(CueNegation)},
	{"UNCERTAINTY precision", 0.85, ctxP(CueUncertainty)},
	{"UNCERTAINTY recall", 0.80, ctxR(CueUncertainty)},
	{"HISTORICAL precision", 0.90, ctxP(CueHistorical)},
	{"HISTORICAL recall", 0.80, ctxR(CueHistorical)},
	{"FAMILY precision", 0.95, ctxP(CueFamily)},
	{"FAMILY recall", 0.95, ctxR(CueFamily)},
	{"ICD-10 code accuracy", 0.97, func(ev *evaluation) float64 { return ev.codes.value() }},
	{"lab/vital flag accuracy", 0.97, func(ev *evaluation) float64 { return ev.flags.value() }},
	{"medication attribute accuracy", 0.95, func(ev *evaluation) float64 { return ev.medAttrs.value() }},
}

func TestCorpusEvaluation(t *testing.T) {
	dev := loadCorpus(t, "dev")
	held := loadCorpus(t, "heldout")
	all := append(append([]goldDoc{}, dev...), held...)
	if len(all) < 60 {
		t.Errorf("corpus has %d documents, want at least 60", len(all))
	}
	evDev, evHeld, evAll := evaluate(dev), evaluate(held), evaluate(all)
	t.Log("\n" + evDev.report("dev") + "\n" + evHeld.report("heldout") + "\n" + evAll.report("all"))
	if os.Getenv("NLP_EVAL_VERBOSE") != "" {
		for _, e := range evAll.errors {
			t.Log(e)
		}
	}
	for _, f := range floors {
		if got := f.got(evAll); got < f.min {
			t.Errorf("%s = %.3f, below its floor %.2f", f.what, got, f.min)
		}
	}
	if path := os.Getenv("NLP_EVAL_REPORT"); path != "" {
		if err := os.WriteFile(path, []byte(markdownReport(evDev, evHeld, evAll)), 0o644); err != nil {
			t.Errorf("writing the report NLP_EVAL_REPORT names: %v", err)
		}
	}
}
