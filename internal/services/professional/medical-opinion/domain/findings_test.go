package domain

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

const doc = "0190f5a8-7b1c-7d2e-9f00-1234567890ab"

func finding(id, decision, text string) Finding {
	return Finding{ID: id, Label: "Ejection fraction 55%", Decision: decision, Text: text,
		Citation: Citation{DocumentID: doc, Page: 2, Start: 10, End: 30}}
}

func TestValidateFindings(t *testing.T) {
	with := func(edit func(*Finding)) []Finding {
		f := finding("f-1", FindingAccepted, "")
		edit(&f)
		return []Finding{f}
	}
	many := make([]Finding, MaxFindings+1)
	for i := range many {
		many[i] = finding(fmt.Sprintf("f%d", i), FindingRejected, "")
	}
	for name, tc := range map[string]struct {
		in    []Finding
		field string
	}{
		"none":                 {nil, ""},
		"each decision":        {[]Finding{finding("a", FindingAccepted, ""), finding("b", FindingEdited, "EF normal"), finding("c", FindingRejected, "")}, ""},
		"id of every allowed":  {with(func(f *Finding) { f.ID = "Ab9._:-" }), ""},
		"id at 100":            {with(func(f *Finding) { f.ID = strings.Repeat("a", 100) }), ""},
		"id too long":          {with(func(f *Finding) { f.ID = strings.Repeat("a", 101) }), "aiFindings[0].findingId"},
		"no id":                {with(func(f *Finding) { f.ID = "" }), "aiFindings[0].findingId"},
		"id with a space":      {with(func(f *Finding) { f.ID = "f 1" }), "aiFindings[0].findingId"},
		"duplicate id":         {[]Finding{finding("a", FindingAccepted, ""), finding("b", FindingRejected, ""), finding("a", FindingRejected, "")}, "aiFindings[2].findingId"},
		"no label":             {with(func(f *Finding) { f.Label = "  " }), "aiFindings[0].label"},
		"label at limit":       {with(func(f *Finding) { f.Label = strings.Repeat("é", MaxFindingLabel) }), ""},
		"label too long":       {with(func(f *Finding) { f.Label = strings.Repeat("x", MaxFindingLabel+1) }), "aiFindings[0].label"},
		"no decision":          {with(func(f *Finding) { f.Decision = "" }), "aiFindings[0].decision"},
		"unknown decision":     {with(func(f *Finding) { f.Decision = "accepted" }), "aiFindings[0].decision"},
		"edited without text":  {with(func(f *Finding) { f.Decision, f.Text = FindingEdited, " " }), "aiFindings[0].text"},
		"edited text too long": {with(func(f *Finding) { f.Decision, f.Text = FindingEdited, strings.Repeat("x", MaxFindingText+1) }), "aiFindings[0].text"},
		"edited text at limit": {with(func(f *Finding) { f.Decision, f.Text = FindingEdited, strings.Repeat("x", MaxFindingText) }), ""},
		"accepted with text":   {with(func(f *Finding) { f.Text = "mine" }), "aiFindings[0].text"},
		"rejected with text":   {with(func(f *Finding) { f.Decision, f.Text = FindingRejected, "mine" }), "aiFindings[0].text"},
		"no document":          {with(func(f *Finding) { f.Citation.DocumentID = "" }), "aiFindings[0].citation.documentId"},
		"document not a uuid":  {with(func(f *Finding) { f.Citation.DocumentID = "report.pdf" }), "aiFindings[0].citation.documentId"},
		"document in braces":   {with(func(f *Finding) { f.Citation.DocumentID = "{" + doc + "}" }), "aiFindings[0].citation.documentId"},
		"page 0":               {with(func(f *Finding) { f.Citation.Page = 0 }), "aiFindings[0].citation.page"},
		"negative start":       {with(func(f *Finding) { f.Citation.Start = -1 }), "aiFindings[0].citation.start"},
		"start 0":              {with(func(f *Finding) { f.Citation.Start = 0 }), ""},
		"empty span":           {with(func(f *Finding) { f.Citation.End = f.Citation.Start }), "aiFindings[0].citation.end"},
		"end before start":     {with(func(f *Finding) { f.Citation.End = 5 }), "aiFindings[0].citation.end"},
		"at most":              {many[:MaxFindings], ""},
		"too many":             {many, "aiFindings"},
		"second one at fault":  {[]Finding{finding("a", FindingAccepted, ""), finding("b", FindingEdited, "")}, "aiFindings[1].text"},
	} {
		_, err := Content{AIFindings: tc.in}.Validate()
		if tc.field == "" && err != nil || tc.field != "" && field(err) != tc.field {
			t.Errorf("%s: %v, want field %q", name, err, tc.field)
		}
		if err != nil && strings.Contains(err.Error(), "Ejection") {
			t.Errorf("%s: the error echoes the finding: %v", name, err)
		}
	}

	f := finding("f-1", FindingEdited, "  EF normal. ")
	f.Label, f.Citation.DocumentID = " EF 55% ", strings.ToUpper(doc)
	c, err := Content{AIFindings: []Finding{f}}.Validate()
	want := Finding{ID: "f-1", Label: "EF 55%", Decision: FindingEdited, Text: "EF normal.", Citation: Citation{doc, 2, 10, 30}}
	if err != nil || len(c.AIFindings) != 1 || c.AIFindings[0] != want {
		t.Errorf("normalised: %+v %v", c.AIFindings, err)
	}
}

func TestReviewed(t *testing.T) {
	edited := finding("b", FindingEdited, "EF normal")
	edited.Citation.Page = 3
	for name, tc := range map[string]struct {
		in   []Finding
		want []ReviewedFinding
	}{
		"none":     {nil, []ReviewedFinding{}},
		"rejected": {[]Finding{finding("a", FindingRejected, "")}, []ReviewedFinding{}},
		"kept, in order, in the words kept": {
			[]Finding{finding("a", FindingAccepted, ""), finding("r", FindingRejected, ""), edited},
			[]ReviewedFinding{{"Ejection fraction 55%", Citation{doc, 2, 10, 30}}, {"EF normal", Citation{doc, 3, 10, 30}}},
		},
		"unknown decision": {[]Finding{finding("a", "MAYBE", "")}, []ReviewedFinding{}},
	} {
		if got := Reviewed(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v, want %+v", name, got, tc.want)
		}
	}
}
