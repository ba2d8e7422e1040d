package medicalopinion

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// A SENIOR's opinion is approved on submit; the patient reads it and its
// PDF only then.
func testSeniorFlow(t *testing.T, h *harness) {
	f := h.newFixture("SENIOR")
	author, patient := "pro:"+f.author, "patient:"+f.patient
	path := "/api/v1/cases/" + f.caseID + "/opinion"
	res := h.want(h.do(author, "PUT", path, draft()), 200, "save")
	id := res.body["id"].(string)
	if res.body["status"] != "DRAFT" || res.body["diagnoses"].([]any)[1].(map[string]any)["code"] != "I25.10" ||
		res.body["caseId"] != f.caseID || res.body["professionalId"] != f.author {
		t.Errorf("draft: %v", res.body)
	}
	// Saving again updates the same opinion.
	d := draft()
	d["summary"] = "Stable angina."
	if res := h.want(h.do(author, "PUT", path, d), 200, "save again"); res.body["id"] != id || res.body["summary"] != "Stable angina." {
		t.Errorf("second save: %v", res.body)
	}
	h.want(h.do(patient, "GET", path, nil), 404, "patient reads a draft")
	h.want(h.do(patient, "GET", "/api/v1/opinions/"+id+"/report", nil), 404, "patient's report of a draft")
	if res := h.want(h.do(author, "GET", path, nil), 200, "author reads the draft"); res.body["status"] != "DRAFT" {
		t.Errorf("author's read: %v", res.body)
	}

	res = h.want(h.do(author, "POST", path+"/submit", nil), 200, "submit")
	if res.body["status"] != "APPROVED" || res.body["approvedAt"] == nil || res.body["submittedAt"] == nil {
		t.Errorf("submitted: %v", res.body)
	}
	approvedAt, err := time.Parse(time.RFC3339, res.body["approvedAt"].(string))
	if err != nil || !approvedAt.Equal(h.clock.now()) {
		t.Errorf("approvedAt %v: %v", approvedAt, err)
	}
	evs := h.outbox(f.caseID)
	if types(evs) != "opinion.submitted opinion.approved" {
		t.Fatalf("events: %s", types(evs))
	}
	if p := payload(t, evs[0]); p["reviewRequired"] != false || p["opinionId"] != id || p["professionalId"] != f.author || p["caseId"] != f.caseID {
		t.Errorf("submitted payload: %v", p)
	}
	// payouts accrues the author's earning by level: no reviewer's fee.
	if p := payload(t, evs[1]); p["authorLevel"] != "SENIOR" || p["reviewerId"] != nil || p["opinionId"] != id {
		t.Errorf("approved payload: %v", p)
	}
	h.want(h.do(author, "PUT", path, draft()), 409, "edit an approved opinion")
	h.want(h.do(author, "POST", path+"/submit", nil), 409, "submit twice")

	res = h.want(h.do(patient, "GET", path, nil), 200, "patient reads")
	if res.body["status"] != "APPROVED" || res.body["answer"] != "No bypass is needed at this stage." || res.body["reviewerId"] != nil {
		t.Errorf("patient's read: %v", res.body)
	}
	res = h.want(h.do(patient, "GET", "/api/v1/opinions/"+id+"/report", nil), 200, "patient's report")
	if ct := res.header.Get("Content-Type"); ct != "application/pdf" || !strings.HasPrefix(string(res.raw), "%PDF") {
		t.Fatalf("report: %s %.20q", ct, res.raw)
	}
	text := pdfText(t, res.raw)
	for _, want := range []string{f.number, "Do I need a bypass operation?", "Stable angina.", "I20.9", "Statin therapy",
		"ESC Guidelines 2024", "HIGH", "Ada Lovelace", "SENIOR", "PRO-EU-", approvedAt.Format("2 January 2006"), "treating physicians"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, who := range []string{author, "admin"} {
		h.want(h.do(who, "GET", "/api/v1/opinions/"+id+"/report", nil), 200, "report as "+who)
	}
}

// A JUNIOR's opinion waits for an eligible reviewer, who may send it back.
func testJuniorReview(t *testing.T, h *harness) {
	f := h.newFixture("JUNIOR")
	author, patient := "pro:"+f.author, "patient:"+f.patient
	path := "/api/v1/cases/" + f.caseID + "/opinion"
	id := h.want(h.do(author, "PUT", path, draft()), 200, "save").body["id"].(string)
	reviewPath := "/api/v1/opinions/" + id + "/review"
	// Nobody reviews a draft.
	h.want(h.do("pro:"+f.reviewer, "POST", reviewPath, map[string]any{"decision": "APPROVE"}), 409, "review a draft")
	h.want(h.do("pro:"+f.reviewer, "GET", "/api/v1/opinions/"+id, nil), 404, "reviewer reads a draft")

	res := h.want(h.do(author, "POST", path+"/submit", nil), 200, "submit")
	if res.body["status"] != "SUBMITTED" || res.body["approvedAt"] != nil {
		t.Errorf("submitted: %v", res.body)
	}
	evs := h.outbox(f.caseID)
	if types(evs) != "opinion.submitted" || payload(t, evs[0])["reviewRequired"] != true {
		t.Fatalf("events: %s", types(evs))
	}
	h.want(h.do(patient, "GET", path, nil), 404, "patient reads a submitted opinion")
	h.want(h.do(author, "PUT", path, draft()), 409, "edit while in review")

	// Only eligible reviewers read and review it.
	for _, who := range []string{f.juniorPeer, f.otherSpecialty, f.pending, h.pro("SENIOR", "SUSPENDED", "CARDIOLOGY")} {
		h.want(h.do("pro:"+who, "GET", "/api/v1/opinions/"+id, nil), 404, "ineligible read")
		h.want(h.do("pro:"+who, "POST", reviewPath, map[string]any{"decision": "APPROVE"}), 404, "ineligible review")
	}
	h.want(h.do(author, "POST", reviewPath, map[string]any{"decision": "APPROVE"}), 403, "self-review")
	h.want(h.do("admin", "POST", reviewPath, map[string]any{"decision": "APPROVE"}), 403, "admin review")
	h.want(h.do("pro:"+f.reviewer, "GET", "/api/v1/opinions/"+id, nil), 200, "reviewer reads")
	h.want(h.do("pro:"+f.reviewer, "POST", reviewPath, map[string]any{"decision": "REQUEST_CHANGES"}), 422, "changes without comments")

	res = h.want(h.do("pro:"+f.reviewer, "POST", reviewPath, map[string]any{"decision": "REQUEST_CHANGES", "comments": "Cite the trial."}), 200, "request changes")
	if res.body["status"] != "DRAFT" || res.body["reviewComments"] != "Cite the trial." || res.body["reviewerId"] != f.reviewer {
		t.Errorf("changes requested: %v", res.body)
	}
	evs = h.outbox(f.caseID)
	if types(evs) != "opinion.submitted opinion.changes_requested" || payload(t, evs[1])["reviewerId"] != f.reviewer {
		t.Fatalf("events: %s", types(evs))
	}
	if res := h.want(h.do(author, "GET", path, nil), 200, "author reads the comments"); res.body["reviewComments"] != "Cite the trial." {
		t.Errorf("author's view: %v", res.body)
	}
	// The author edits and resubmits, past the deadline too: the
	// assignment was delivered on the first submission.
	h.clock.advance(100 * time.Hour)
	d := draft()
	d["references"] = []string{"ESC Guidelines 2024", "ISCHEMIA trial"}
	h.want(h.do(author, "PUT", path, d), 200, "edit after changes requested")
	h.want(h.do(author, "POST", path+"/submit", nil), 200, "resubmit")
	res = h.want(h.do("pro:"+f.reviewer, "POST", reviewPath, map[string]any{"decision": "APPROVE"}), 200, "approve")
	if res.body["status"] != "APPROVED" || res.body["approvedAt"] == nil {
		t.Errorf("approved: %v", res.body)
	}
	evs = h.outbox(f.caseID)
	if types(evs) != "opinion.submitted opinion.changes_requested opinion.submitted opinion.approved" {
		t.Fatalf("events: %s", types(evs))
	}
	// payouts pays the JUNIOR author's rate, and the approving reviewer a fee.
	if p := payload(t, evs[3]); p["authorLevel"] != "JUNIOR" || p["reviewerId"] != f.reviewer || p["professionalId"] != f.author {
		t.Errorf("approved payload: %v", p)
	}
	h.want(h.do("pro:"+f.reviewer, "POST", reviewPath, map[string]any{"decision": "APPROVE"}), 409, "approve twice")
	res = h.want(h.do(patient, "GET", path, nil), 200, "patient reads")
	if res.body["reviewComments"] != nil || len(res.body["references"].([]any)) != 2 {
		t.Errorf("patient's view: %v", res.body)
	}
	h.want(h.do("pro:"+f.reviewer, "GET", "/api/v1/opinions/"+id, nil), 200, "reviewer reads the approved opinion")
}

// Only the active assignee writes, before the deadline, valid content.
func testWriteRules(t *testing.T, h *harness) {
	f := h.newFixture("EXPERT")
	author := "pro:" + f.author
	path := "/api/v1/cases/" + f.caseID + "/opinion"
	h.want(h.do("pro:"+f.reviewer, "PUT", path, draft()), 404, "another professional writes")
	h.want(h.do(author, "POST", path+"/submit", nil), 409, "submit without a draft")
	h.want(h.do(author, "PUT", "/api/v1/cases/"+uuid.NewString()+"/opinion", draft()), 404, "unassigned case")

	for field, edit := range map[string]func(map[string]any){
		"body.diagnoses[0].code": func(d map[string]any) { d["diagnoses"] = []map[string]any{{"code": "angina", "description": "x"}} },
		"body.confidence":        func(d map[string]any) { d["confidence"] = "SURE" },
		"body.summary":           func(d map[string]any) { d["summary"] = strings.Repeat("x", 5001) },
		"body.recommendations":   func(d map[string]any) { d["recommendations"] = make([]string, 21) },
	} {
		d := draft()
		edit(d)
		res := h.do(author, "PUT", path, d)
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(string(res.raw), field) && field != "body.confidence" {
			t.Errorf("%s: %d %s", field, res.status, res.raw)
		}
	}
	h.want(h.do(author, "PUT", path, map[string]any{"summary": "Only a summary"}), 200, "partial draft")
	res := h.want(h.do(author, "POST", path+"/submit", nil), 422, "incomplete submit")
	if !strings.Contains(string(res.raw), "opinion.diagnoses") {
		t.Errorf("incomplete: %s", res.raw)
	}

	// Past the deadline, before any submission: no more writing.
	h.clock.advance(73 * time.Hour)
	h.want(h.do(author, "PUT", path, draft()), 409, "save after the deadline")
	h.want(h.do(author, "POST", path+"/submit", nil), 409, "submit after the deadline")

	// The case returns to the pool and another professional claims it:
	// the first may not write any more, the second starts afresh.
	h.deliver("assignment.expired", f.caseID, map[string]any{"caseId": f.caseID, "professionalId": f.author, "assignmentId": f.assignment})
	h.want(h.do(author, "PUT", path, draft()), 404, "save after expiry")
	second := h.pro("SENIOR", "VERIFIED", "CARDIOLOGY")
	a2 := h.assign(f.caseID, second, h.clock.now().Add(24*time.Hour))
	res = h.want(h.do("pro:"+second, "PUT", path, draft()), 200, "new assignee saves")
	if res.body["summary"] != "Stable angina with preserved function." {
		t.Errorf("new assignee's draft: %v", res.body)
	}
	if res := h.want(h.do(author, "GET", path, nil), 200, "first author reads own draft"); res.body["summary"] != "Only a summary" {
		t.Errorf("first author's draft: %v", res.body)
	}
	h.deliver("assignment.released", f.caseID, map[string]any{"caseId": f.caseID, "professionalId": second, "assignmentId": a2})
	h.want(h.do("pro:"+second, "POST", path+"/submit", nil), 404, "submit after release")
	// Unusable events are acknowledged, not retried forever.
	h.deliver("case.assigned", f.caseID, map[string]any{"caseId": "nope"})
}

// The owner asks up to 3 follow-ups within 30 days; the author answers
// each once, as an addendum shown with the opinion.
func testFollowUps(t *testing.T, h *harness) {
	f := h.newFixture("DISTINGUISHED")
	author, patient := "pro:"+f.author, "patient:"+f.patient
	path := "/api/v1/cases/" + f.caseID + "/opinion"
	h.want(h.do(author, "PUT", path, draft()), 200, "save")
	h.want(h.do(patient, "POST", path+"/questions", map[string]any{"question": "Why?"}), 404, "ask before approval")
	id := h.want(h.do(author, "POST", path+"/submit", nil), 200, "submit").body["id"].(string)

	h.clock.advance(29 * 24 * time.Hour)
	var qids []string
	for i := range 3 {
		res := h.want(h.do(patient, "POST", path+"/questions", map[string]any{"question": "Why? " + string(rune('a'+i))}), 201, "ask")
		qids = append(qids, res.body["id"].(string))
	}
	h.want(h.do(patient, "POST", path+"/questions", map[string]any{"question": "Why again?"}), 409, "fourth question")
	h.want(h.do("patient:"+uuid.NewString(), "POST", path+"/questions", map[string]any{"question": "Why?"}), 404, "another patient asks")

	answer := "/api/v1/opinions/" + id + "/questions/" + qids[0] + "/answer"
	h.want(h.do("pro:"+f.reviewer, "POST", answer, map[string]any{"answer": "Because."}), 404, "another professional answers")
	res := h.want(h.do(author, "POST", answer, map[string]any{"answer": "Because."}), 200, "answer")
	if res.body["answer"] != "Because." || res.body["answeredAt"] == nil {
		t.Errorf("answer: %v", res.body)
	}
	h.want(h.do(author, "POST", answer, map[string]any{"answer": "Because, again."}), 409, "answer twice")
	h.want(h.do(author, "POST", "/api/v1/opinions/"+id+"/questions/"+uuid.NewString()+"/answer", map[string]any{"answer": "x"}), 404, "unknown question")

	res = h.want(h.do(patient, "GET", path, nil), 200, "patient reads")
	ups := res.body["followUps"].([]any)
	if len(ups) != 3 || ups[0].(map[string]any)["answer"] != "Because." || ups[1].(map[string]any)["answer"] != nil {
		t.Errorf("follow-ups: %v", ups)
	}
	if text := pdfText(t, h.want(h.do(patient, "GET", "/api/v1/opinions/"+id+"/report", nil), 200, "report").raw); !strings.Contains(text, "Because.") {
		t.Error("the report lacks the addendum")
	}
	evs := h.outbox(f.caseID)
	if types(evs) != "opinion.submitted opinion.approved opinion.question_asked opinion.question_asked opinion.question_asked opinion.question_answered" {
		t.Errorf("events: %s", types(evs))
	}
	if p := payload(t, evs[5]); p["questionId"] != qids[0] || p["opinionId"] != id || len(p) != 4 {
		t.Errorf("answered payload: %v", p)
	}

	// The window closes 30 days after approval.
	g := h.newFixture("SENIOR")
	gpath := "/api/v1/cases/" + g.caseID + "/opinion"
	h.want(h.do("pro:"+g.author, "PUT", gpath, draft()), 200, "save")
	h.want(h.do("pro:"+g.author, "POST", gpath+"/submit", nil), 200, "submit")
	h.clock.advance(30*24*time.Hour + time.Second)
	h.want(h.do("patient:"+g.patient, "POST", gpath+"/questions", map[string]any{"question": "Late?"}), 409, "after 30 days")
}
