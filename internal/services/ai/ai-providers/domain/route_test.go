package domain

import (
	"slices"
	"strings"
	"testing"

	"github.com/secondopinion/platform/api/vocab"
)

var providers = map[string]ProviderInfo{
	"local":     {Name: "local", Kind: KindLocal},
	"openai":    {Name: "openai", Kind: KindOpenAI, External: true},
	"azure-eu":  {Name: "azure-eu", Kind: KindOpenAI, External: true},
	"anthropic": {Name: "anthropic", Kind: KindAnthropic, External: true},
}

func routing() Routing {
	return Routing{
		Routes: []Route{
			{Specialty: "ONCOLOGY", Chain: []string{"anthropic", "local"}},
			{CaseType: "IMAGING_REVIEW", Chain: []string{"openai", "local"}},
			{CaseType: "IMAGING_REVIEW", Specialty: "RADIOLOGY", Chain: []string{"azure-eu", "openai", "local"}},
		},
		DefaultChain: []string{"local"},
		AllowList:    []string{"openai", "azure-eu", "anthropic"},
	}
}

func TestChainFor(t *testing.T) {
	r := routing()
	tests := []struct {
		caseType  string
		specialty vocab.Specialty
		want      string
	}{
		{"IMAGING_REVIEW", "RADIOLOGY", "azure-eu,openai,local"}, // type and specialty
		{"IMAGING_REVIEW", "ONCOLOGY", "anthropic,local"},        // specialty beats type
		{"IMAGING_REVIEW", "CARDIOLOGY", "openai,local"},         // type alone
		{"SECOND_OPINION", "ONCOLOGY", "anthropic,local"},
		{"SECOND_OPINION", "CARDIOLOGY", "local"}, // default
		{"", "", "local"},
	}
	for _, tt := range tests {
		if got := strings.Join(r.ChainFor(tt.caseType, tt.specialty), ","); got != tt.want {
			t.Errorf("ChainFor(%q, %q) = %s, want %s", tt.caseType, tt.specialty, got, tt.want)
		}
	}
	if got := (Routing{}).ChainFor("X", "ONCOLOGY"); !slices.Equal(got, []string{"local"}) {
		t.Errorf("empty configuration: %v, want the local default", got)
	}
	// The chain is a copy: a caller cannot edit the configuration.
	c := r.ChainFor("", "ONCOLOGY")
	c[0] = "openai"
	if r.Routes[0].Chain[0] != "anthropic" {
		t.Error("ChainFor returned the configuration's own slice")
	}
}

func TestPlanKeepsToTheAllowList(t *testing.T) {
	r := routing()
	r.AllowList = []string{"openai"} // the DPA with the others lapsed
	req := SynthesisRequest{CaseType: "IMAGING_REVIEW", Specialty: "RADIOLOGY"}
	got := r.Plan(req, providers)
	want := []Step{{"azure-eu", false}, {"openai", true}, {"local", true}}
	if !slices.Equal(got, want) {
		t.Errorf("plan %v, want %v", got, want)
	}
	r.DefaultChain = []string{"ghost", "local"}
	if got := r.Plan(SynthesisRequest{}, providers); got[0].Allowed || !got[1].Allowed {
		t.Errorf("an unknown provider is allowed: %v", got)
	}
}

func TestValidateRouting(t *testing.T) {
	if err := routing().Validate(providers); err != nil {
		t.Fatal(err)
	}
	if err := (Routing{}).Validate(providers); err != nil {
		t.Errorf("the empty configuration (local only) is refused: %v", err)
	}
	tests := []struct {
		want string
		edit func(*Routing)
	}{
		{"not on the allow-list", func(r *Routing) { r.AllowList = []string{"openai", "azure-eu"} }},
		{"not on the allow-list", func(r *Routing) { r.AllowList = nil; r.Routes = nil; r.DefaultChain = []string{"openai", "local"} }},
		{"unknown provider \"gpt\"", func(r *Routing) { r.Routes[1].Chain = []string{"gpt"} }},
		{"named twice", func(r *Routing) { r.Routes[1].Chain = []string{"local", "local"} }},
		{"empty chain", func(r *Routing) { r.Routes[1].Chain = nil }},
		{"repeats an earlier route", func(r *Routing) { r.Routes = append(r.Routes, Route{Specialty: "ONCOLOGY", Chain: []string{"local"}}) }},
		{"neither a case type nor a specialty", func(r *Routing) { r.Routes = append(r.Routes, Route{Chain: []string{"local"}}) }},
		{"unknown specialty", func(r *Routing) { r.Routes[0].Specialty = "ONCOLOGIE" }},
		{"upper snake case", func(r *Routing) { r.Routes[1].CaseType = "imaging" }},
		{"allow-list: unknown provider", func(r *Routing) { r.AllowList = append(r.AllowList, "mistral") }},
	}
	for _, tt := range tests {
		r := routing()
		r.Routes = slices.Clone(r.Routes)
		tt.edit(&r)
		if err := r.Validate(providers); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v, want an error with %q", err, tt.want)
		}
	}
}

func TestParseRoutes(t *testing.T) {
	got, err := ParseRoutes(" ONCOLOGY=anthropic, local; IMAGING_REVIEW/RADIOLOGY=openai,local;SECOND_OPINION/*=openai ; */CARDIOLOGY=local; URGENT_REVIEW=openai;")
	if err != nil {
		t.Fatal(err)
	}
	want := []Route{
		{Specialty: "ONCOLOGY", Chain: []string{"anthropic", "local"}},
		{CaseType: "IMAGING_REVIEW", Specialty: "RADIOLOGY", Chain: []string{"openai", "local"}},
		{CaseType: "SECOND_OPINION", Chain: []string{"openai"}},
		{Specialty: "CARDIOLOGY", Chain: []string{"local"}},
		{CaseType: "URGENT_REVIEW", Chain: []string{"openai"}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i].CaseType != want[i].CaseType || got[i].Specialty != want[i].Specialty || !slices.Equal(got[i].Chain, want[i].Chain) {
			t.Errorf("route %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := ParseRoutes("ONCOLOGY"); err == nil {
		t.Error("an entry without = is accepted")
	}
	if got, _ := ParseRoutes(""); len(got) != 0 {
		t.Errorf("empty: %v", got)
	}
}

func TestPromptHoldsOnlyTheView(t *testing.T) {
	req := validRequest()
	req.Patient = patient
	view := Deidentify(req).Request
	p := BuildPrompt(view, false)
	for _, leak := range []string{req.CaseID, docA, docB, "Margaret", "1931"} {
		if strings.Contains(p.System+p.User, leak) {
			t.Errorf("prompt holds %q", leak)
		}
	}
	for _, want := range []string{`"documentId":"doc-1"`, `"start":100`, `"end":160`, `"kind":"FINDING"`, `"specialty":"ONCOLOGY"`} {
		if !strings.Contains(p.User, want) {
			t.Errorf("prompt lacks %s: %s", want, p.User)
		}
	}
	if !strings.Contains(p.System, `"en"`) || strings.Contains(p.System, `"$schema"`) {
		t.Error("system prompt: language missing or schema present without asking")
	}
	if !strings.Contains(BuildPrompt(view, true).System, `"keyFindings"`) {
		t.Error("withSchema: schema missing")
	}
}
