package nlp

import (
	"reflect"
	"testing"
	"time"
	"unicode/utf8"
)

// TestCitationsExact checks, over every document of the corpus, that every
// cited span is exactly the words it claims: entities, their cues, key
// findings (and their other mentions), summary sentences and headings. It
// also checks that Analyze is deterministic.
func TestCitationsExact(t *testing.T) {
	docs := append(loadCorpus(t, "dev"), loadCorpus(t, "heldout")...)
	n := 0
	for _, d := range docs {
		text := map[int]string{}
		for _, p := range d.pages {
			text[p.Number] = p.Text
		}
		check := func(what string, s Span, want string) {
			t.Helper()
			n++
			p, ok := text[s.Page]
			if !ok || s.Start < 0 || s.End > len(p) || s.Start >= s.End {
				t.Errorf("%s: %s cites %+v outside its page", d.name, what, s)
				return
			}
			got := p[s.Start:s.End]
			if got != want || !utf8.ValidString(got) {
				t.Errorf("%s: %s cites %q, claims %q", d.name, what, got, want)
			}
		}
		a := Analyze(d.pages)
		for i, e := range a.Entities {
			check("entity", e.Cite, e.Text)
			for _, c := range e.Cues {
				check("cue", c.Cite, c.Text)
			}
			if e.Text == "" || e.Confidence <= 0 || e.Confidence > 1 {
				t.Errorf("%s: entity %d %+v", d.name, i, e)
			}
		}
		for _, f := range a.KeyFindings {
			check("finding", f.Cite, a.Entities[f.Entity].Text)
			for _, s := range f.Also {
				found := false
				for _, e := range a.Entities {
					found = found || e.Cite == s
				}
				if !found {
					t.Errorf("%s: finding %q cites another mention %+v that is no entity", d.name, f.Label, s)
				}
			}
		}
		for _, s := range a.Summary {
			check("summary", s.Cite, s.Text)
		}
		for _, s := range a.Sections {
			check("heading", s.Cite, s.Heading)
		}
		for _, c := range a.Concepts {
			for _, m := range c.Mentions {
				if a.Entities[m].Concept == nil || a.Entities[m].Concept.Code != c.Code {
					t.Errorf("%s: concept %s lists mention %d", d.name, c.Code, m)
				}
			}
		}
		if b := Analyze(d.pages); !reflect.DeepEqual(a, b) {
			t.Errorf("%s: two analyses differ", d.name)
		}
	}
	if n < 1000 {
		t.Errorf("only %d citations checked", n)
	}
}

// BenchmarkAnalyze analyses the whole corpus once per iteration and reports
// documents per second and (through SetBytes) MB/s of page text.
func BenchmarkAnalyze(b *testing.B) {
	docs := append(loadCorpus(b, "dev"), loadCorpus(b, "heldout")...)
	size := 0
	for _, d := range docs {
		for _, p := range d.pages {
			size += len(p.Text)
		}
	}
	dictionary() // load the dictionaries outside the timing
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		for _, d := range docs {
			Analyze(d.pages)
		}
	}
	b.ReportMetric(float64(b.N*len(docs))/time.Since(start).Seconds(), "docs/s")
}
