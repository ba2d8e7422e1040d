package domain

import (
	"fmt"
	"testing"
)

func TestSourcesTakeTheStrongestAndSkipEmptyText(t *testing.T) {
	d := Document{DocumentID: "d"}
	for i := range maxFindingPassages + 5 {
		d.Findings = append(d.Findings, Finding{Text: fmt.Sprintf("finding %d", i), Confidence: 0.9,
			Cite: Cite{Page: 1, Start: i, End: i + 1}})
	}
	d.Findings[0].Text = "  "
	for i := range maxSentencePassages + 3 {
		d.Summary = append(d.Summary, Passage{Text: fmt.Sprintf("sentence %d", i), Score: 3, Cite: Cite{Page: 2, Start: i, End: i + 2}})
	}
	got := Sources(d)
	findings, sentences := 0, 0
	for _, p := range got {
		switch p.Kind {
		case "FINDING":
			findings++
		case "SENTENCE":
			sentences++
			if p.Confidence != 1 {
				t.Errorf("a summary score of 3 became confidence %v, want it clamped to 1", p.Confidence)
			}
		}
		if p.Text == "  " {
			t.Error("a blank passage was kept")
		}
	}
	if findings != maxFindingPassages-1 || sentences != maxSentencePassages {
		t.Fatalf("%d findings and %d sentences", findings, sentences)
	}
	if got[0].Text != "finding 1" || got[0].Start != 1 || got[0].Page != 1 {
		t.Fatalf("first passage %+v", got[0])
	}
	if len(Sources(Document{Status: "FAILED"})) != 0 {
		t.Fatal("an unreadable document has sources")
	}
}

func TestNumberNamesEveryFinding(t *testing.T) {
	a := Number(PreAnalysis{
		Documents: []Document{{DocumentID: "d1", Findings: []Finding{{}, {}}, Summary: []Passage{{}}}, {DocumentID: "d2", Findings: []Finding{{}}}},
		Synthesis: &Synthesis{KeyFindings: []Finding{{Cite: Cite{DocumentID: "d2"}}}},
	})
	ids := []string{a.Documents[0].Findings[0].ID, a.Documents[0].Findings[1].ID, a.Documents[1].Findings[0].ID, a.Synthesis.KeyFindings[0].ID}
	want := []string{"d1:1", "d1:2", "d2:1", "synthesis:1"}
	for i := range want {
		if ids[i] != want[i] {
			t.Errorf("id %d = %q, want %q", i, ids[i], want[i])
		}
	}
	if a.Documents[1].Findings[0].Cite.DocumentID != "d2" || a.Documents[0].Summary[0].Cite.DocumentID != "d1" {
		t.Error("citations do not name their document")
	}
}

func TestDocumentSourcesStayWithinTheBound(t *testing.T) {
	docs := make([]Document, 70)
	for i := range docs {
		for j := range maxFindingPassages {
			docs[i].Findings = append(docs[i].Findings, Finding{Text: "x", Cite: Cite{Page: 1, Start: j, End: j + 1}})
		}
	}
	docs[1].Status = "FAILED"
	docs[1].Findings = nil
	src := DocumentSources(docs)
	total := 0
	for _, s := range src {
		total += len(s)
	}
	if total > maxPassages || total < maxPassages-maxFindingPassages {
		t.Fatalf("%d passages", total)
	}
	if len(src[1]) != 0 || len(src[0]) != maxFindingPassages {
		t.Fatalf("first documents: %d, %d passages", len(src[0]), len(src[1]))
	}
}
