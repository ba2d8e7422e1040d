package nlp

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// The Markdown tables of the corpus evaluation, which TestCorpusEvaluation
// writes to the file named by NLP_EVAL_REPORT when that is set. bench/run.sh
// puts them in bench/RESULTS.md ("6. document-analysis NLP"); the prose
// around them is run.sh's.

// floorOf is the floor named what, if there is one.
func floorOf(what string) (floor, bool) {
	for _, f := range floors {
		if f.what == what {
			return f, true
		}
	}
	return floor{}, false
}

// thousands writes n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// markdownReport is the tables of the whole corpus, against the floors,
// and of the held-out subset.
func markdownReport(evDev, evHeld, evAll *evaluation) string {
	var b strings.Builder
	total := 0
	var perType []string
	for _, t := range entityTypes {
		total += evAll.gold[t]
		perType = append(perType, fmt.Sprintf("%s %s", t, thousands(evAll.gold[t])))
	}
	ctxGold := func(k CueKind) string {
		c := evAll.context[k]
		return thousands(c.tp + c.fn)
	}
	fmt.Fprintf(&b, "The corpus: %d documents (%d in `dev/`, %d in `heldout/`), %s bytes of page text, "+
		"%s labelled entities (%s), with %s negated, %s uncertain, %s historical and %s family labels "+
		"on conditions, medications and procedures.\n\n",
		evAll.docs, evDev.docs, evHeld.docs, thousands(evAll.bytes), thousands(total), strings.Join(perType, ", "),
		ctxGold(CueNegation), ctxGold(CueUncertainty), ctxGold(CueHistorical), ctxGold(CueFamily))

	// figure formats a measured value, marked when below its floor.
	below := 0
	figure := func(v float64, what string) string {
		s := fmt.Sprintf("%.3f", v)
		if f, ok := floorOf(what); ok && v < f.min {
			below++
			return "**" + s + "** (below)"
		}
		return s
	}
	floorCell := func(what string) string {
		if f, ok := floorOf(what); ok {
			return fmt.Sprintf("%.2f", f.min)
		}
		return ""
	}

	fmt.Fprintf(&b, "**Whole corpus** (dev and held-out, %d documents), against the floors `TestCorpusEvaluation` enforces on it:\n\n", evAll.docs)
	b.WriteString("| figure | gold | precision | recall | strict P | strict R | floor P | floor R |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, t := range entityTypes {
		l, s := evAll.lenient[t], evAll.strict[t]
		p, r := string(t)+" precision", string(t)+" recall"
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.3f | %.3f | %s | %s |\n", t, thousands(evAll.gold[t]),
			figure(l.precision(), p), figure(l.recall(), r), s.precision(), s.recall(), floorCell(p), floorCell(r))
	}
	for _, k := range cueKinds {
		c := evAll.context[k]
		p, r := string(k)+" precision", string(k)+" recall"
		fmt.Fprintf(&b, "| %s | %s | %s | %s | | | %s | %s |\n", strings.ToLower(string(k)), thousands(c.tp+c.fn),
			figure(c.precision(), p), figure(c.recall(), r), floorCell(p), floorCell(r))
	}
	b.WriteString("\n")
	accuracies := []struct {
		label, what string
		a           accuracy
	}{
		{"ICD-10 code of matched conditions (%s)", "ICD-10 code accuracy", evAll.codes},
		{"HIGH/LOW/NORMAL of matched labs and vitals (%s)", "lab/vital flag accuracy", evAll.flags},
		{"dose, unit, route, frequency of matched drugs (%s attributes)", "medication attribute accuracy", evAll.medAttrs},
	}
	b.WriteString("| accuracy | measured | floor |\n|---|---|---|\n")
	for _, a := range accuracies {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", fmt.Sprintf(a.label, thousands(a.a.n)), figure(a.a.value(), a.what), floorCell(a.what))
	}
	b.WriteString("\n")
	if below == 0 {
		fmt.Fprintf(&b, "Every figure meets its floor (%d floors).", len(floors))
	} else {
		fmt.Fprintf(&b, "**%d of %d figures are below their floors** (marked): `TestCorpusEvaluation` fails.", below, len(floors))
	}
	b.WriteString("\n\n")

	fmt.Fprintf(&b, "**Held-out** (%d documents, %s bytes; no floors):\n\n", evHeld.docs, thousands(evHeld.bytes))
	b.WriteString("| figure | gold | precision | recall | strict P | strict R |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, t := range entityTypes {
		l, s := evHeld.lenient[t], evHeld.strict[t]
		fmt.Fprintf(&b, "| %s | %s | %.3f | %.3f | %.3f | %.3f |\n", t, thousands(evHeld.gold[t]),
			l.precision(), l.recall(), s.precision(), s.recall())
	}
	for _, k := range cueKinds {
		c := evHeld.context[k]
		fmt.Fprintf(&b, "| %s | %s | %.3f | %.3f | | |\n", strings.ToLower(string(k)), thousands(c.tp+c.fn), c.precision(), c.recall())
	}
	b.WriteString("\n")
	held := []accuracy{evHeld.codes, evHeld.flags, evHeld.medAttrs}
	b.WriteString("| accuracy | measured |\n|---|---|\n")
	for i, a := range accuracies {
		fmt.Fprintf(&b, "| %s | %.3f |\n", fmt.Sprintf(a.label, thousands(held[i].n)), held[i].value())
	}
	return b.String()
}

func TestMarkdownReportMarksFiguresBelowFloor(t *testing.T) {
	ev := evaluate(nil)
	ev.lenient[Condition].tp, ev.lenient[Condition].fp = 9, 1 // precision 0.900 < 0.95
	ev.context[CueFamily].tp = 2
	got := markdownReport(evaluate(nil), evaluate(nil), ev)
	for _, want := range []string{
		"| CONDITION | 0 | **0.900** (below) | 1.000 |",
		"| family | 2 | 1.000 | 1.000 | | | 0.95 | 0.95 |",
		fmt.Sprintf("**1 of %d figures are below their floors**", len(floors)),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}
