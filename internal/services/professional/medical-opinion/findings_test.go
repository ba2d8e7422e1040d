package medicalopinion

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/kit/testkit"
)

// The words of the AI pre-analysis and of the author's review, each
// marked so that a test finds where it went.
const (
	acceptedLabel = "Preserved ejection fraction kqa"
	editedLabel   = "Severe stenosis of the LAD kqe"
	editedText    = "Moderate stenosis of the LAD kqt"
	rejectedLabel = "Suspicious pulmonary nodule kqr"
	citedRecord   = "0190f5a8-7b1c-7d2e-9f00-1234567890ab"
)

// aiFindings is the author's review of a pre-analysis of three findings:
// one accepted, one edited, one rejected.
func aiFindings() []map[string]any {
	cite := func(page, start, end int) map[string]any {
		return map[string]any{"documentId": citedRecord, "page": page, "start": start, "end": end}
	}
	return []map[string]any{
		{"findingId": "finding-1", "label": acceptedLabel, "decision": "ACCEPTED", "citation": cite(1, 0, 42)},
		{"findingId": "finding-2", "label": editedLabel, "decision": "EDITED", "text": editedText, "citation": cite(2, 100, 160)},
		{"findingId": "finding-3", "label": rejectedLabel, "decision": "REJECTED", "citation": cite(3, 7, 30)},
	}
}

// reviewed is a draft with the review of the AI pre-analysis.
func reviewed() map[string]any {
	d := draft()
	d["aiFindings"] = aiFindings()
	return d
}

// The author records accept, edit or reject per finding; the author, the
// reviewer and an admin read every decision, the patient only the
// findings the author kept, in the words kept, in the opinion, its report
// and nowhere else. Every change of the review is in the audit trail,
// without a word of it, and no event carries it.
func testAIReview(t *testing.T, h *harness) {
	f := h.newFixture("JUNIOR")
	author, patient, reviewer := "pro:"+f.author, "patient:"+f.patient, "pro:"+f.reviewer
	path := "/api/v1/cases/" + f.caseID + "/opinion"
	recorded := func() int {
		t.Helper()
		n := 0
		for _, e := range h.auditEntries(f.patient) {
			if e.Action == "opinion.ai_review.recorded" {
				n++
			}
		}
		return n
	}

	// A draft without findings changes no review.
	id := h.want(h.do(author, "PUT", path, draft()), 200, "draft without findings").body["id"].(string)
	if n := recorded(); n != 0 {
		t.Errorf("%d audit entries of an AI review before any", n)
	}
	res := h.want(h.do(author, "PUT", path, reviewed()), 200, "save the review")
	wantAll(t, "the saved draft", res.body)
	h.want(h.do(author, "PUT", path, reviewed()), 200, "save the same review again")
	if n := recorded(); n != 1 {
		t.Errorf("%d audit entries after one change of the review, want 1", n)
	}
	for _, e := range h.auditEntries(f.patient) {
		if e.Action == "opinion.ai_review.recorded" {
			if e.ResourceType != "opinion" || e.ResourceID != id || e.Actor != f.author || e.ActorRole != "professional" ||
				e.Outcome != "allowed" || e.RequestID == "" || e.ClientAddr != "127.0.0.1" {
				t.Errorf("audit entry of the review: %+v", e)
			}
		}
	}
	// A changed decision is another entry.
	d := reviewed()
	d["aiFindings"].([]map[string]any)[2]["decision"] = "ACCEPTED"
	h.want(h.do(author, "PUT", path, d), 200, "accept the rejected finding")
	h.want(h.do(author, "PUT", path, reviewed()), 200, "reject it again")
	if n := recorded(); n != 3 {
		t.Errorf("%d audit entries after three changes of the review, want 3", n)
	}

	// Refused reviews change nothing: 422 with the field at fault.
	for field, edit := range map[string]func([]map[string]any) []map[string]any{
		"body.aiFindings[2].findingId": func(fs []map[string]any) []map[string]any {
			fs[2]["findingId"] = "finding-1"
			return fs
		},
		"body.aiFindings[0].findingId": func(fs []map[string]any) []map[string]any {
			fs[0]["findingId"] = "finding 1"
			return fs
		},
		"body.aiFindings[1].text": func(fs []map[string]any) []map[string]any {
			delete(fs[1], "text")
			return fs
		},
		"body.aiFindings[0].text": func(fs []map[string]any) []map[string]any {
			fs[0]["text"] = "Accepted, yet reworded."
			return fs
		},
		"body.aiFindings[2].decision": func(fs []map[string]any) []map[string]any {
			fs[2]["decision"] = "IGNORED"
			return fs
		},
		"body.aiFindings[0].label": func(fs []map[string]any) []map[string]any {
			fs[0]["label"] = strings.Repeat("x", 501)
			return fs
		},
		"body.aiFindings[1].citation.end": func(fs []map[string]any) []map[string]any {
			fs[1]["citation"].(map[string]any)["end"] = 100
			return fs
		},
		"body.aiFindings[1].citation.page": func(fs []map[string]any) []map[string]any {
			fs[1]["citation"].(map[string]any)["page"] = 0
			return fs
		},
		"body.aiFindings[0].citation.start": func(fs []map[string]any) []map[string]any {
			fs[0]["citation"].(map[string]any)["start"] = -1
			return fs
		},
		"body.aiFindings[0].citation.documentId": func(fs []map[string]any) []map[string]any {
			fs[0]["citation"].(map[string]any)["documentId"] = "report.pdf"
			return fs
		},
		"body.aiFindings": func(fs []map[string]any) []map[string]any {
			for i := range 201 - len(fs) {
				f := aiFindings()[2]
				f["findingId"] = fmt.Sprintf("extra-%d", i)
				fs = append(fs, f)
			}
			return fs
		},
	} {
		d := draft()
		d["aiFindings"] = edit(aiFindings())
		res := h.do(author, "PUT", path, d)
		if res.status != http.StatusUnprocessableEntity || res.header.Get("Content-Type") != "application/problem+json" ||
			!strings.Contains(string(res.raw), `"`+field+`"`) {
			t.Errorf("%s: %d %s %s", field, res.status, res.header.Get("Content-Type"), res.raw)
		}
	}
	if n := recorded(); n != 3 {
		t.Errorf("%d audit entries after refused reviews, want 3", n)
	}
	wantAll(t, "the author's read after refused reviews", h.want(h.do(author, "GET", path, nil), 200, "author reads").body)

	// Through review and approval, every reader but the patient sees it all.
	h.want(h.do(author, "POST", path+"/submit", nil), 200, "submit")
	wantAll(t, "the reviewer's read", h.want(h.do(reviewer, "GET", "/api/v1/opinions/"+id, nil), 200, "reviewer reads").body)
	h.want(h.do(patient, "GET", path, nil), 404, "patient reads the opinion in review")
	h.want(h.do(reviewer, "POST", "/api/v1/opinions/"+id+"/review", map[string]any{"decision": "APPROVE"}), 200, "approve")
	wantAll(t, "the author's read", h.want(h.do(author, "GET", path, nil), 200, "author reads").body)
	wantAll(t, "the admin's read", h.want(h.do("admin", "GET", "/api/v1/opinions/"+id, nil), 200, "admin reads").body)

	res = h.want(h.do(patient, "GET", path, nil), 200, "patient reads")
	if _, ok := res.body["aiFindings"]; ok {
		t.Errorf("the patient reads the author's decisions: %s", res.raw)
	}
	wantKept(t, "the patient's read", res.body["reviewedFindings"])
	for _, hidden := range []string{rejectedLabel, editedLabel, "REJECTED", "finding-3"} {
		if strings.Contains(string(res.raw), hidden) {
			t.Errorf("the patient reads %q: %s", hidden, res.raw)
		}
	}

	// The report is the patient's document, whoever downloads it.
	for _, who := range []string{patient, author} {
		text := pdfText(t, h.want(h.do(who, "GET", "/api/v1/opinions/"+id+"/report", nil), 200, "report as "+who).raw)
		for _, want := range []string{"Findings reviewed from the AI pre-analysis", acceptedLabel, editedText, "page 2"} {
			if !strings.Contains(text, want) {
				t.Errorf("the report as %s lacks %q", who, want)
			}
		}
		for _, hidden := range []string{rejectedLabel, editedLabel} {
			if strings.Contains(text, hidden) {
				t.Errorf("the report as %s shows %q", who, hidden)
			}
		}
	}

	// Nothing of the review leaves in an event, an audit entry included.
	for _, e := range testkit.Outbox(t, h.db) {
		env, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, marker := range []string{"kqa", "kqe", "kqt", "kqr"} {
			if strings.Contains(string(env), marker) {
				t.Errorf("%s carries the AI review: %s", e.Type, env)
			}
		}
	}
	if types(h.outbox(f.caseID)) != "opinion.submitted opinion.approved" {
		t.Errorf("events: %s", types(h.outbox(f.caseID)))
	}
}

// wantAll checks that an opinion as the author, a reviewer or an admin
// reads it holds every decision of aiFindings, and what the patient
// reads of them.
func wantAll(t *testing.T, what string, body map[string]any) {
	t.Helper()
	got, err := json.Marshal(body["aiFindings"])
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(aiFindings())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s: aiFindings\n%s\nwant\n%s", what, got, want)
	}
	wantKept(t, what, body["reviewedFindings"])
}

// wantKept checks the reviewed findings of an opinion: the accepted one
// in the AI's words, the edited one in the author's, with their
// citations, and nothing else.
func wantKept(t *testing.T, what string, v any) {
	t.Helper()
	fs, _ := v.([]any)
	var texts []string
	for _, f := range fs {
		texts = append(texts, f.(map[string]any)["text"].(string))
	}
	if !slices.Equal(texts, []string{acceptedLabel, editedText}) {
		t.Errorf("%s: reviewedFindings %v", what, v)
		return
	}
	c := fs[1].(map[string]any)["citation"].(map[string]any)
	if c["documentId"] != citedRecord || c["page"] != 2.0 || c["start"] != 100.0 || c["end"] != 160.0 || len(fs[1].(map[string]any)) != 2 {
		t.Errorf("%s: the edited finding %v", what, fs[1])
	}
}
