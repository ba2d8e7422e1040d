package medicalopinion

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/domain"
	"github.com/secondopinion/platform/internal/services/professional/medical-opinion/store"
)

// erasable marks every text written about the erased cases, and nothing
// else: after the erasure no table may hold it.
const erasable = "zqxj"

// erasableDraft is a complete draft, every text marked, with an ICD-10
// code no other test writes.
func erasableDraft() map[string]any {
	return map[string]any{
		"summary":         "Summary zqxj.",
		"diagnoses":       []map[string]any{{"code": "Q21.1", "description": "Atrial septal defect zqxj"}},
		"recommendations": []string{"Echocardiography zqxj"},
		"confidence":      "MEDIUM",
		"answer":          "Answer zqxj.",
		"references":      []string{"Reference zqxj"},
		"aiFindings": []map[string]any{{"findingId": "f-1", "label": "Finding zqxj", "decision": "EDITED", "text": "Edited zqxj",
			"citation": map[string]any{"documentId": citedRecord, "page": 1, "start": 0, "end": 10}}},
	}
}

// case.erased leaves of a case's opinions only who wrote and reviewed
// them and when: every text, the follow-ups, the assignments and the
// cached answers that showed them are gone from every table, every read
// answers 404 as for an opinion that never was, and late events about the
// case bring nothing back. Another case keeps its opinion.
func TestCaseErased(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		deadline := h.clock.now().Add(72 * time.Hour)

		// The erased case: a first professional's draft, given up; then a
		// JUNIOR's opinion, sent back with comments, approved, asked about
		// and answered.
		f := h.newCase("JUNIOR")
		path := "/api/v1/cases/" + f.caseID + "/opinion"
		author, patient, reviewer := "pro:"+f.author, "patient:"+f.patient, "pro:"+f.reviewer
		first := h.pro("SENIOR", "VERIFIED", "CARDIOLOGY")
		firstAssignment := h.assign(f.caseID, first, deadline)
		given := h.want(h.do("pro:"+first, "PUT", path, erasableDraft()), 200, "first draft").body["id"].(string)
		h.deliver("assignment.released", f.caseID, map[string]any{"caseId": f.caseID, "professionalId": first,
			"assignmentId": firstAssignment, "timestamp": h.clock.now()})
		f.assignment = h.assign(f.caseID, f.author, deadline)
		id := h.want(h.do(author, "PUT", path, erasableDraft()), 200, "draft").body["id"].(string)
		review := "/api/v1/opinions/" + id + "/review"
		h.clock.advance(time.Hour)
		h.want(h.doKeyed(author, "submit", "POST", path+"/submit", nil), 200, "submit")
		h.clock.advance(time.Hour)
		h.want(h.do(reviewer, "POST", review, map[string]any{"decision": "REQUEST_CHANGES", "comments": "Comment zqxj."}), 200, "changes")
		h.want(h.do(author, "POST", path+"/submit", nil), 200, "resubmit")
		h.want(h.doKeyed(reviewer, "approve", "POST", review, map[string]any{"decision": "APPROVE"}), 200, "approve")
		qid := h.want(h.doKeyed(patient, "ask", "POST", path+"/questions", map[string]any{"question": "Question zqxj?"}), 201, "ask").body["id"].(string)
		answer := "/api/v1/opinions/" + id + "/questions/" + qid + "/answer"
		h.want(h.doKeyed(author, "answer", "POST", answer, map[string]any{"answer": "Addendum zqxj."}), 200, "answer")

		// Another erased case, its opinion waiting for review.
		g := h.newFixture("JUNIOR")
		gpath := "/api/v1/cases/" + g.caseID + "/opinion"
		waiting := h.want(h.do("pro:"+g.author, "PUT", gpath, erasableDraft()), 200, "draft of g").body["id"].(string)
		h.want(h.do("pro:"+g.author, "POST", gpath+"/submit", nil), 200, "submit of g")

		// The kept case.
		k := h.newFixture("SENIOR")
		kpath := "/api/v1/cases/" + k.caseID + "/opinion"
		kept := h.want(h.do("pro:"+k.author, "PUT", kpath, draft()), 200, "draft of k").body["id"].(string)
		h.want(h.doKeyed("pro:"+k.author, "submit", "POST", kpath+"/submit", nil), 200, "submit of k")
		h.want(h.do("patient:"+k.patient, "POST", kpath+"/questions", map[string]any{"question": "Kept question?"}), 201, "ask about k")

		if got := holding(t, db, erasable); !slices.Contains(got, "idempotency_keys.body") || !slices.Contains(got, "opinion_questions.answer") {
			t.Fatalf("before the erasure, the marked text is in %v", got)
		}
		const times = `SELECT created_at, updated_at, submitted_at, approved_at FROM `
		before := map[string][]string{}
		for _, o := range []string{given, id, waiting} {
			before[o] = h.row(times+`opinions WHERE id = $1`, o)
		}
		if b := before[id]; len(b) != 4 || b[0] == b[1] || b[3] == "" {
			t.Fatalf("times of the approved opinion before the erasure: %v", b)
		}
		events := types(h.outbox(f.caseID))
		h.clock.advance(time.Minute)
		erasedAt := h.clock.now()
		for _, c := range []string{f.caseID, g.caseID} {
			h.deliver("case.erased", c, map[string]any{"caseId": c, "timestamp": erasedAt})
		}

		for _, text := range []string{erasable, "Q21.1"} {
			if got := holding(t, db, text); len(got) != 0 {
				t.Errorf("after the erasure, %q is in %v", text, got)
			}
		}
		if got := types(h.outbox(f.caseID)); got != events {
			t.Errorf("the erasure published events: %s, before %s", got, events)
		}
		if got := h.rows(`SELECT count(*) FROM opinion_questions`); !slices.Equal(got, []string{"1"}) {
			t.Errorf("%v follow-ups left, want only the kept case's", got)
		}
		if got := h.rows(`SELECT key FROM idempotency_keys`); !slices.Equal(got, []string{"idem:" + Name + ":professional:" + k.author + ":submit"}) {
			t.Errorf("cached answers: %v, want only the kept case's submit", got)
		}
		for _, c := range []string{f.caseID, g.caseID} {
			if got := h.rows(`SELECT assignment_id FROM opinion_assignments WHERE case_id = $1`, c); len(got) != 0 {
				t.Errorf("assignments of an erased case kept: %v", got)
			}
			if got := h.rows(`SELECT id FROM opinions WHERE case_id = $1`, c); len(got) != 0 {
				t.Errorf("opinions of an erased case kept: %v", got)
			}
			if got := h.rows(`SELECT erased_at FROM erased_cases WHERE case_id = $1`, c); len(got) != 1 {
				t.Errorf("case %s not remembered as erased: %v", c, got)
			}
		}
		// What is kept of each opinion: the professionals' record of their work.
		record := `SELECT case_id, assignment_id, professional_id, reviewer_id, status FROM erased_opinions WHERE id = $1`
		for opinion, want := range map[string][]string{
			given:   {f.caseID, firstAssignment, first, "", "DRAFT"},
			id:      {f.caseID, f.assignment, f.author, f.reviewer, "APPROVED"},
			waiting: {g.caseID, g.assignment, g.author, "", "SUBMITTED"},
		} {
			if got := h.row(record, opinion); !slices.Equal(got, want) {
				t.Errorf("record of opinion %s: %v, want %v", opinion, got, want)
			}
			if got := h.row(times+`erased_opinions WHERE id = $1`, opinion); !slices.Equal(got, before[opinion]) {
				t.Errorf("times of opinion %s: %v, want %v", opinion, got, before[opinion])
			}
		}

		// Nobody reads anything of them any more: each read answers as for
		// an opinion that never was.
		never := h.do(author, "GET", "/api/v1/opinions/"+uuid.NewString(), nil)
		for _, r := range []struct{ token, method, path string }{
			{author, "GET", "/api/v1/opinions/" + id},
			{author, "GET", path},
			{"pro:" + first, "GET", "/api/v1/opinions/" + given},
			{"pro:" + first, "GET", path},
			{reviewer, "GET", "/api/v1/opinions/" + id},
			{"pro:" + g.reviewer, "GET", "/api/v1/opinions/" + waiting},
			{"admin", "GET", "/api/v1/opinions/" + id},
			{"admin", "GET", path},
			{patient, "GET", path},
			{patient, "GET", "/api/v1/opinions/" + id + "/report"},
			{author, "GET", "/api/v1/opinions/" + id + "/report"},
		} {
			if res := h.do(r.token, r.method, r.path, nil); res.status != 404 || res.body["detail"] != never.body["detail"] {
				t.Errorf("%s %s as %s: %d %s, want %d %v", r.method, r.path, r.token, res.status, res.raw, never.status, never.body)
			}
		}
		if ids, _ := h.queue("pro:"+g.reviewer, ""); slices.Contains(ids, waiting) {
			t.Error("the erased opinion waits in the review queue")
		}
		// Nor writes: the cached answers are forgotten, so the same keys run
		// again, and find nothing.
		for _, r := range []struct {
			token, key, method, path string
			body                     any
		}{
			{author, "submit", "POST", path + "/submit", nil},
			{reviewer, "approve", "POST", review, map[string]any{"decision": "APPROVE"}},
			{patient, "ask", "POST", path + "/questions", map[string]any{"question": "Question zqxj?"}},
			{author, "answer", "POST", answer, map[string]any{"answer": "Addendum zqxj."}},
			{author, "", "PUT", path, erasableDraft()},
		} {
			if res := h.doKeyed(r.token, r.key, r.method, r.path, r.body); res.status != 404 || strings.Contains(string(res.raw), erasable) {
				t.Errorf("%s %s as %s after the erasure: %d %s", r.method, r.path, r.token, res.status, res.raw)
			}
		}

		// Late events and a read-through find the case erased: no
		// assignment comes back, so no opinion is written again.
		for _, c := range []string{f.caseID, g.caseID} {
			h.deliver("case.erased", c, map[string]any{"caseId": c, "timestamp": erasedAt.Add(time.Hour)})
		}
		h.assign(f.caseID, f.author, deadline)
		h.deliver("assignment.expired", g.caseID, map[string]any{"caseId": g.caseID, "professionalId": g.author,
			"assignmentId": g.assignment, "timestamp": h.clock.now()})
		h.want(h.do(author, "PUT", path, erasableDraft()), 404, "a draft after a late case.assigned")
		h.claim(g.caseID, g.author)
		h.want(h.do("pro:"+g.author, "PUT", gpath, erasableDraft()), 404, "a draft read through to case-assignment")
		for _, c := range []string{f.caseID, g.caseID} {
			if got := h.projected(c); len(got) != 0 {
				t.Errorf("assignments of an erased case after late events: %v", got)
			}
		}
		if got := h.row(`SELECT erased_at FROM erased_cases WHERE case_id = $1`, f.caseID); len(got) != 1 {
			t.Errorf("erasure record: %v", got)
		}
		if got := holding(t, db, erasable); len(got) != 0 {
			t.Errorf("after the late events, the erased text is in %v", got)
		}

		// The other case keeps its opinion and follow-up.
		res := h.want(h.do("patient:"+k.patient, "GET", kpath, nil), 200, "the kept opinion")
		if res.body["id"] != kept || res.body["summary"] != draft()["summary"] || len(res.body["followUps"].([]any)) != 1 {
			t.Errorf("the kept opinion: %v", res.body)
		}
	})
}

// An erasure that comes while a case's first draft is being saved waits
// for the save and erases that draft too: nothing written under the
// assignment outlives the erasure.
func TestErasureWaitsForASave(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		h := newHarness(t, db)
		f := h.newFixture("SENIOR")
		ctx := t.Context()
		// What a save does in its transaction: find the active assignment,
		// insert the first draft under it.
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		a, err := h.svc.store.Active(ctx, tx, f.caseID)
		if err != nil || !a.Active {
			t.Fatalf("active assignment: %+v %v", a, err)
		}
		o, err := h.svc.store.Insert(ctx, tx, store.Opinion{ID: uuid.NewString(), CaseID: f.caseID, AssignmentID: a.ID,
			ProfessionalID: f.author, Status: domain.Draft, Content: domain.Content{Summary: "Summary zqxj."}, CreatedAt: h.clock.now()})
		if err != nil {
			t.Fatal(err)
		}

		e, err := bus.New("case-management", "case.erased", f.caseID, map[string]any{"caseId": f.caseID, "timestamp": h.clock.now()})
		if err != nil {
			t.Fatal(err)
		}
		erased := make(chan error, 1)
		go func() { erased <- h.svc.Consume(context.Background(), e) }()
		select {
		case err := <-erased:
			t.Fatalf("the erasure ran beside the save instead of after it: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-erased; err != nil {
			t.Fatal(err)
		}
		if got := h.rows(`SELECT status FROM inbox WHERE event_id = $1`, e.ID); !slices.Equal(got, []string{"done"}) {
			t.Fatalf("case.erased handled: %v", got)
		}
		if got := holding(t, db, erasable); len(got) != 0 {
			t.Errorf("the draft saved during the erasure is in %v", got)
		}
		if got := h.rows(`SELECT id FROM erased_opinions`); !slices.Equal(got, []string{o.ID}) {
			t.Errorf("records of erased opinions: %v, want the draft's %s", got, o.ID)
		}
	})
}

// rows runs a query of one column and returns its values as text.
func (h *harness) rows(query string, args ...any) []string {
	h.t.Helper()
	rows, err := h.db.Query(query, args...)
	if err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v any
		if err := rows.Scan(&v); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, text(v))
	}
	if err := rows.Err(); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// row runs a query of one row and returns its columns as text; nil when
// it finds none.
func (h *harness) row(query string, args ...any) []string {
	h.t.Helper()
	rows, err := h.db.Query(query, args...)
	if err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil
	}
	cols, err := rows.Columns()
	if err != nil {
		h.t.Fatal(err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		h.t.Fatal(err)
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = text(v)
	}
	return out
}

// holding names the columns ("table.column") of the service's store that
// hold text somewhere, in every table there is.
func holding(t *testing.T, db *sqldb.DB, needle string) []string {
	t.Helper()
	list, args := `SELECT name FROM sqlite_master WHERE type = 'table'`, []any{}
	if db.Engine == sqldb.Postgres {
		list, args = `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, []any{db.Schema}
	}
	rows, err := db.Query(list, args...)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) < 8 {
		t.Fatalf("found only the tables %v", tables)
	}
	var out []string
	for _, table := range tables {
		rows, err := db.Query(`SELECT * FROM ` + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if c := table + "." + cols[i]; strings.Contains(text(v), needle) && !slices.Contains(out, c) {
					out = append(out, c)
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}

// text is a scanned value as text: what it says, whatever the engine
// returned it as.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(v)
	case string:
		return v
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	default:
		return fmt.Sprint(v)
	}
}
