package local

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/services/ai/ai-providers/domain"
)

func request() domain.SynthesisRequest {
	r := domain.SynthesisRequest{
		CaseID:  "0190a4b2-0000-7000-8000-000000000001",
		Consent: domain.Consent{AIProcessing: true},
		Documents: []domain.Document{
			{ID: "d1", Passages: []domain.Passage{
				{Page: 1, Start: 0, End: 30, Kind: domain.Sentence, Text: "Referred for a second opinion."},
				{Page: 1, Start: 31, End: 80, Kind: domain.Finding, Text: "Spiculated 3 cm mass, right upper lobe", Confidence: 0.8},
				{Page: 2, Start: 5, End: 40, Kind: domain.Finding, Text: "Mediastinal lymph nodes enlarged.", Confidence: 0.6},
			}},
			{ID: "d2", Passages: []domain.Passage{
				{Page: 1, Start: 10, End: 50, Kind: domain.Finding, Text: "Adenocarcinoma, TTF-1 positive.", Confidence: 0.95},
				{Page: 1, Start: 60, End: 99, Kind: domain.Finding, Text: "spiculated 3-cm mass, right upper lobe!", Confidence: 0.7},
				{Page: 3, Start: 0, End: 20, Kind: domain.Finding, Text: "EGFR wild type."},
			}},
		},
	}
	v, err := r.Validate()
	if err != nil {
		panic(err)
	}
	return v
}

func TestSynthesis(t *testing.T) {
	req := request()
	ans := Synthesis(req)
	var got []string
	for _, f := range ans.KeyFindings {
		got = append(got, fmt.Sprintf("%s p%d [%d,%d) %.2f %s", f.Citation.DocumentID, f.Citation.Page, f.Citation.Start, f.Citation.End, f.Confidence, f.Text))
	}
	want := []string{
		"d2 p1 [10,50) 0.95 Adenocarcinoma, TTF-1 positive.",
		"d1 p1 [31,80) 0.80 Spiculated 3 cm mass, right upper lobe",
		"d1 p2 [5,40) 0.60 Mediastinal lymph nodes enlarged.",
		"d2 p3 [0,20) 0.50 EGFR wild type.", // no confidence given: the default
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings (the repeated mass is dropped, the sentence is not a finding):\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ans.Summary != "Adenocarcinoma, TTF-1 positive. Spiculated 3 cm mass, right upper lobe. Mediastinal lymph nodes enlarged." {
		t.Errorf("summary %q", ans.Summary)
	}
	// Its answer passes the same checks as any provider's.
	raw, _ := json.Marshal(ans)
	if _, err := domain.ParseAnswer(req, raw); err != nil {
		t.Fatal(err)
	}
	// Deterministic: the same request, the same answer.
	for range 20 {
		if again := Synthesis(request()); !reflect.DeepEqual(again, ans) {
			t.Fatal("two runs differ")
		}
	}
}

func TestSynthesisWithoutFindings(t *testing.T) {
	req := request()
	req.Documents = req.Documents[:1]
	req.Documents[0].Passages = req.Documents[0].Passages[:1]
	ans := Synthesis(req)
	if len(ans.KeyFindings) != 1 || ans.KeyFindings[0].Confidence != 0.3 || ans.Summary != "Referred for a second opinion." {
		t.Errorf("sentences stand in for findings, with less confidence: %+v", ans)
	}
}

func TestSynthesisBounds(t *testing.T) {
	req := request()
	var ps []domain.Passage
	for i := range 30 {
		ps = append(ps, domain.Passage{Page: 1, Start: i * 10, End: i*10 + 9, Kind: domain.Finding, Text: fmt.Sprintf("finding %d %s", i, strings.Repeat("word ", 400))})
	}
	req.Documents = []domain.Document{{ID: "d", Passages: ps}}
	ans := Synthesis(req)
	raw, _ := json.Marshal(ans)
	if _, err := domain.ParseAnswer(req, raw); err != nil {
		t.Fatal(err)
	}
	if len(ans.KeyFindings) != maxFindings || !strings.HasSuffix(ans.KeyFindings[0].Text, "…") {
		t.Errorf("%d findings, first ends %q", len(ans.KeyFindings), ans.KeyFindings[0].Text[len(ans.KeyFindings[0].Text)-10:])
	}
}

func TestProvider(t *testing.T) {
	p := New()
	if info := p.Info(); info.External || info.Name != "local" || info.Kind != domain.KindLocal {
		t.Errorf("info %+v", info)
	}
	reply, err := p.Synthesize(context.Background(), request())
	if err != nil || reply.Model != Model || !json.Valid(reply.Answer) {
		t.Fatalf("%v %+v", err, reply)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Synthesize(ctx, request()); err != context.Canceled {
		t.Errorf("canceled: %v", err)
	}
}
