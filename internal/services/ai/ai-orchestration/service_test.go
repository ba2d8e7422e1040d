package aiorchestration_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/secondopinion/platform/api/events"
	aiv1 "github.com/secondopinion/platform/api/gen/ai/v1"
	patientv1 "github.com/secondopinion/platform/api/gen/patient/v1"
	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	aiorchestration "github.com/secondopinion/platform/internal/services/ai/ai-orchestration"
)

func (h *harness) call(method, path, token string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := h.http.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// analysis reads case id's analysis as an admin.
func (h *harness) analysis(id string) aiorchestration.CaseAnalysis {
	h.t.Helper()
	code, body := h.call("GET", "/api/v1/cases/"+id+"/analysis", "admin")
	if code != http.StatusOK {
		h.t.Fatalf("analysis of %s: %d %s", id, code, body)
	}
	var a aiorchestration.CaseAnalysis
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		h.t.Fatal(err)
	}
	return a
}

// await polls case id's analysis until its status is want.
func (h *harness) await(id, want string) aiorchestration.CaseAnalysis {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		a := h.analysis(id)
		if a.Status == want {
			return a
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("case %s: status %s (attempts %d, reason %q), want %s", id, a.Status, a.Attempts, a.Reason, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// published are the events of type typ about case id in the outbox.
func (h *harness) published(typ, id string) []bus.Event {
	var out []bus.Event
	for _, e := range testkit.Outbox(h.t, h.db) {
		if e.Type == typ && e.AggregateID == id {
			out = append(out, e)
		}
	}
	return out
}

func outcome(t *testing.T, e bus.Event) string {
	p, err := events.AnalysisCompletedV1.Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	return p.Outcome
}

func TestOrchestration(t *testing.T) {
	testkit.ForEachEngine(t, aiorchestration.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db, newPeers(), fast())
		for _, c := range []struct {
			name string
			test func(*testing.T, *harness)
		}{
			{"a submitted case is analysed and sent on", testCompletes},
			{"no consent, no AI", testNoConsent},
			{"every provider down: orphaned, triage, retry", testOrphanAndRetry},
			{"withdrawn consent stops the attempt", testWithdrawal},
			{"who reads what", testAccess},
			{"an erased case leaves nothing", testErasure},
		} {
			t.Run(c.name, func(t *testing.T) {
				h.t = t
				c.test(t, h)
			})
		}
	})
}

func testCompletes(t *testing.T, h *harness) {
	id := "0190d000-0000-7000-8000-000000000001"
	h.submit(id, patient)
	h.submit(id, patient) // redelivered: still one processing, one job
	a := h.await(id, "COMPLETED")
	if len(h.published(events.AnalysisStartedV1.Type, id)) != 1 {
		t.Fatal("ai.analysis.started was not published exactly once")
	}
	done := h.published(events.AnalysisCompletedV1.Type, id)
	if len(done) != 1 || outcome(t, done[0]) != "COMPLETED" {
		t.Fatalf("ai.analysis.completed: %+v", done)
	}
	if n := h.completions(); n != 1 {
		t.Fatalf("case_processing_duration_seconds observed %d processings, want 1", n)
	}
	if a.Attempts != 1 || len(a.Documents) != 2 || a.Synthesis == nil || a.CompletedAt == nil {
		t.Fatalf("analysis: %+v", a)
	}
	pdf, png := a.Documents[0], a.Documents[1]
	if pdf.Status != "OK" || len(pdf.Findings) != 1 || pdf.Findings[0].ID != pdfRecord+":1" ||
		pdf.Findings[0].Citation != (aiorchestration.Citation{DocumentID: pdfRecord, Page: 1, Start: 12, End: 21}) {
		t.Fatalf("the PDF's part: %+v", pdf)
	}
	if png.Status != "OCR_UNAVAILABLE" || len(png.Findings) != 0 {
		t.Fatalf("the PNG's part: %+v", png)
	}
	if f := a.Synthesis.KeyFindings; len(f) != 1 || f[0].ID != "synthesis:1" || f[0].Citation.DocumentID != pdfRecord {
		t.Fatalf("synthesis: %+v", a.Synthesis)
	}
	// What ai-providers was asked: the PDF's finding and sentence (the
	// PNG had none), the patient, and what the privacy gate removes.
	var req *aiv1.SynthesizeRequest
	for _, r := range h.peers.synthesisRequests() {
		if r.CaseId == id {
			req = r
		}
	}
	if req == nil || req.PatientId != patient || len(req.Documents) != 1 || len(req.Documents[0].Passages) != 2 {
		t.Fatalf("synthesis request: %+v", req)
	}
	pc := req.Patient
	if !slices.Contains(pc.Names, "Hypatia") || !slices.Contains(pc.Names, "Alexandrou") || pc.DateOfBirth != "1970-03-08" ||
		!slices.Contains(pc.Emails, "hypatia@example.org") || pc.CaseNumber != "EU-2026-7KQ2ZD" {
		t.Fatalf("patient context for the privacy gate: %+v", pc)
	}
	// The status route, for its patient.
	code, body := h.call("GET", "/api/v1/ai/status/"+a.ProcessingID, "patient")
	if code != http.StatusOK || !strings.Contains(body, `"COMPLETED"`) || strings.Contains(body, "pneumonia") {
		t.Fatalf("status for the patient: %d %s", code, body)
	}
}

func testNoConsent(t *testing.T, h *harness) {
	id := "0190d000-0000-7000-8000-000000000002"
	before := len(h.peers.synthesisRequests())
	h.submit(id, other) // other never consented
	a := h.await(id, "SKIPPED")
	if a.Reason != "NO_AI_CONSENT" || a.Documents != nil || a.Synthesis != nil {
		t.Fatalf("%+v", a)
	}
	if len(h.peers.synthesisRequests()) != before {
		t.Fatal("a provider was asked without consent")
	}
	done := h.published(events.AnalysisCompletedV1.Type, id)
	if len(done) != 1 || outcome(t, done[0]) != "SKIPPED" {
		t.Fatalf("the case was not sent on: %+v", done)
	}
}

func testOrphanAndRetry(t *testing.T, h *harness) {
	down := func(context.Context, *aiv1.SynthesizeRequest) (*aiv1.SynthesizeResponse, error) {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("every provider of the chain failed"))
	}
	h.peers.set(func(p *peers) { p.synthesize = down })
	defer h.peers.set(func(p *peers) { p.synthesize = nil })
	id, spare := "0190d000-0000-7000-8000-000000000003", "0190d000-0000-7000-8000-000000000004"
	h.submit(id, patient)
	h.submit(spare, patient)
	a := h.await(id, "ORPHANED")
	h.await(spare, "ORPHANED")
	if a.Attempts != 3 || a.Reason != "SYNTHESIS_UNAVAILABLE" {
		t.Fatalf("orphaned: %+v", a)
	}
	orphaned := h.published(events.CaseOrphanedV1.Type, id)
	if len(orphaned) != 1 || !strings.Contains(string(orphaned[0].Payload), "SYNTHESIS_UNAVAILABLE") {
		t.Fatalf("case.orphaned: %+v", orphaned)
	}
	if len(h.published(events.AnalysisCompletedV1.Type, id)) != 0 {
		t.Fatal("an orphaned case was sent on")
	}
	code, body := h.call("GET", "/api/v1/ai/triage", "admin")
	if code != http.StatusOK || !strings.Contains(body, id) || !strings.Contains(body, `"attempts":3`) {
		t.Fatalf("triage: %d %s", code, body)
	}
	// An admin retries one once the providers are back, and sends the
	// other on without AI.
	h.peers.set(func(p *peers) { p.synthesize = nil })
	if code, body := h.call("POST", "/api/v1/ai/triage/"+id+"/retry", "admin"); code != http.StatusAccepted {
		t.Fatalf("retry: %d %s", code, body)
	}
	if code, body := h.call("POST", "/api/v1/ai/triage/"+id+"/retry", "admin"); code != http.StatusConflict {
		t.Fatalf("a second retry of a case no longer orphaned: %d %s", code, body)
	}
	a = h.await(id, "COMPLETED")
	if a.Attempts != 1 || a.Synthesis == nil {
		t.Fatalf("after the retry: %+v", a)
	}
	if code, body := h.call("POST", "/api/v1/ai/triage/"+spare+"/send-on", "admin"); code != http.StatusOK || !strings.Contains(body, "SENT_ON_BY_ADMIN") {
		t.Fatalf("send on: %d %s", code, body)
	}
	if done := h.published(events.AnalysisCompletedV1.Type, spare); len(done) != 1 || outcome(t, done[0]) != "SKIPPED" {
		t.Fatalf("the case sent on: %+v", done)
	}
	if code, _ := h.call("POST", "/api/v1/ai/triage/"+spare+"/send-on", "admin"); code != http.StatusConflict {
		t.Fatalf("a second send-on: %d", code)
	}
	if code, _ := h.call("POST", "/api/v1/ai/triage/0190d000-0000-7000-8000-0000000000ee/retry", "admin"); code != http.StatusNotFound {
		t.Fatalf("retry of an unknown case: %d", code)
	}
	code, body = h.call("GET", "/api/v1/ai/triage", "admin")
	if code != http.StatusOK || strings.Contains(body, id) || strings.Contains(body, spare) {
		t.Fatalf("triage after: %d %s", code, body)
	}
}

// testWithdrawal withdraws the consent while an attempt waits on the
// provider: the attempt's answer is dropped, and the case goes on without
// AI.
func testWithdrawal(t *testing.T, h *harness) {
	const shy = "0190a4b2-0000-7000-8000-00000000fa80"
	before := h.completions()
	asked, release := make(chan struct{}), make(chan struct{})
	h.peers.set(func(p *peers) {
		p.consent[shy] = true
		p.synthesize = func(ctx context.Context, req *aiv1.SynthesizeRequest) (*aiv1.SynthesizeResponse, error) {
			if req.PatientId == shy {
				close(asked)
				<-release
			}
			return &aiv1.SynthesizeResponse{Summary: "late", Provider: "local"}, nil
		}
	})
	defer h.peers.set(func(p *peers) { p.synthesize = nil })
	id := "0190d000-0000-7000-8000-000000000005"
	h.submit(id, shy)
	<-asked
	h.peers.set(func(p *peers) { p.consent[shy] = false })
	deliverTo(t, h.svc, events.ConsentWithdrawnV1, shy, events.ConsentChanged{PatientID: shy, Purpose: vocab.ConsentAIProcessing,
		Version: "2026-01", Timestamp: time.Now()})
	a := h.analysis(id)
	if a.Status != "SKIPPED" || a.Reason != "AI_CONSENT_WITHDRAWN" {
		t.Fatalf("after the withdrawal: %+v", a)
	}
	close(release)
	time.Sleep(200 * time.Millisecond) // the attempt settles (or would wrongly complete)
	a = h.analysis(id)
	if a.Status != "SKIPPED" || a.Synthesis != nil {
		t.Fatalf("the attempt's answer outlived the withdrawal: %+v", a)
	}
	if done := h.published(events.AnalysisCompletedV1.Type, id); len(done) != 1 || outcome(t, done[0]) != "SKIPPED" {
		t.Fatalf("ai.analysis.completed: %+v", done)
	}
	if n, want := h.completions(), before; n != want {
		t.Fatalf("a dropped answer was measured as a completion: %d, want %d", n, want)
	}
}

func testAccess(t *testing.T, h *harness) {
	id := "0190d000-0000-7000-8000-000000000006"
	h.submit(id, patient)
	a := h.await(id, "COMPLETED")
	h.peers.set(func(p *peers) { p.assigned[id] = assignee })
	for _, c := range []struct {
		token, path string
		want        int
	}{
		{"assignee", "/api/v1/cases/" + id + "/analysis", http.StatusOK},
		{"stranger", "/api/v1/cases/" + id + "/analysis", http.StatusNotFound},
		{"patient", "/api/v1/cases/" + id + "/analysis", http.StatusForbidden},
		{"", "/api/v1/cases/" + id + "/analysis", http.StatusUnauthorized},
		{"assignee", "/api/v1/ai/status/" + a.ProcessingID, http.StatusOK},
		{"stranger", "/api/v1/ai/status/" + a.ProcessingID, http.StatusNotFound},
		{"patient", "/api/v1/ai/status/" + a.ProcessingID, http.StatusOK},
		{"other", "/api/v1/ai/status/" + a.ProcessingID, http.StatusNotFound},
		{"assignee", "/api/v1/ai/triage", http.StatusForbidden},
		{"patient", "/api/v1/ai/triage", http.StatusForbidden},
	} {
		if code, body := h.call("GET", c.path, c.token); code != c.want {
			t.Errorf("%s GET %s: %d, want %d: %s", c.token, c.path, code, c.want, body)
		}
	}
	// Every read of the pre-analysis is audited, the refused one too.
	var reads, denied int
	for _, e := range testkit.Outbox(t, h.db) {
		if e.Type == "audit.recorded" && strings.Contains(string(e.Payload), `"case.analysis.read"`) && strings.Contains(string(e.Payload), id) {
			reads++
			if strings.Contains(string(e.Payload), `"denied"`) {
				denied++
			}
		}
	}
	if reads < 3 || denied != 1 {
		t.Fatalf("audited reads of the analysis: %d, denied %d", reads, denied)
	}
}

func testErasure(t *testing.T, h *harness) {
	id := "0190d000-0000-7000-8000-000000000007"
	h.submit(id, patient)
	a := h.await(id, "COMPLETED")
	deliverTo(t, h.svc, events.CaseErasedV1, id, events.CaseErased{CaseID: id, Timestamp: time.Now()})
	if code, _ := h.call("GET", "/api/v1/cases/"+id+"/analysis", "admin"); code != http.StatusNotFound {
		t.Fatalf("the analysis of an erased case: %d", code)
	}
	if n := testkit.CountContaining(t, h.db, "processings", id, a.ProcessingID); n != 0 {
		t.Fatalf("%d rows of the erased case remain", n)
	}
}

// TestNothingIsDropped stops the service mid-attempt, and loses a job:
// the interrupted attempt runs again on the next start uncounted, and the
// sweep enqueues a processing whose job is gone.
func TestNothingIsDropped(t *testing.T) {
	testkit.ForEachEngine(t, aiorchestration.Name, func(t *testing.T, db *sqldb.DB) {
		ps := newPeers()
		asked := make(chan struct{}, 1)
		ps.synthesize = func(ctx context.Context, req *aiv1.SynthesizeRequest) (*aiv1.SynthesizeResponse, error) {
			asked <- struct{}{}
			<-ctx.Done()
			return nil, connect.NewError(connect.CodeCanceled, ctx.Err())
		}
		h := start(t, db, ps, fast())
		interrupted, lost := "0190d000-0000-7000-8000-000000000011", "0190d000-0000-7000-8000-000000000012"
		h.submit(interrupted, patient)
		<-asked
		h.stop()
		if a := h.analysis(interrupted); a.Status != "QUEUED" || a.Attempts != 0 {
			t.Fatalf("after a stop mid-attempt: %+v", a)
		}
		// A case whose job is lost, while its attempt's process is dead.
		h.submit(lost, patient)
		if _, err := db.ExecContext(context.Background(), `UPDATE processings SET status = 'RUNNING', attempts = 1, due_at = $1
			WHERE case_id = $2`, time.Now().Add(-time.Hour).UTC(), lost); err != nil {
			t.Fatal(err)
		}
		args := "CAST(args AS TEXT)"
		if db.Engine == sqldb.SQLite {
			args = "json(args)" // river keeps SQLite's binary JSONB
		}
		res, err := db.ExecContext(context.Background(), `DELETE FROM river_job WHERE `+args+` LIKE '%' || $1 || '%'`,
			h.analysis(lost).ProcessingID)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			t.Fatalf("lost %d jobs: %v", n, err)
		}
		ps.set(func(p *peers) { p.synthesize = nil })
		h = start(t, db, ps, fast())
		if a := h.await(interrupted, "COMPLETED"); a.Attempts != 1 {
			t.Fatalf("the interrupted attempt was counted: %+v", a)
		}
		if a := h.await(lost, "COMPLETED"); a.Attempts != 2 {
			t.Fatalf("the lost case: %+v", a)
		}
	})
}

func TestProcessDocument(t *testing.T) {
	testkit.ForEachEngine(t, aiorchestration.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db, newPeers(), fast())
		h.peers.set(func(p *peers) {
			p.documents["0190d000-0000-7000-8000-000000000021"] = []*patientv1.RecordSummary{{Id: pdfRecord,
				CaseId: "0190d000-0000-7000-8000-000000000021", PatientId: patient, FileType: "PDF"}}
		})
		code, body := h.post("/api/v1/ai/process-document", "admin", `{"documentId":"`+pdfRecord+`"}`)
		if code != http.StatusAccepted {
			t.Fatalf("%d %s", code, body)
		}
		var st aiorchestration.ProcessingStatus
		if err := json.Unmarshal([]byte(body), &st); err != nil || st.Kind != "DOCUMENT" || st.DocumentID != pdfRecord {
			t.Fatalf("%s %v", body, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(body, `"COMPLETED"`) {
			if time.Now().After(deadline) {
				t.Fatalf("status: %s", body)
			}
			time.Sleep(20 * time.Millisecond)
			_, body = h.call("GET", "/api/v1/ai/status/"+st.ProcessingID, "admin")
		}
		h.peers.mu.Lock()
		analysed := slices.Contains(h.peers.analysed, pdfRecord)
		h.peers.mu.Unlock()
		if !analysed {
			t.Fatal("document-analysis was not asked")
		}
		// A record of a patient without the AI consent is not analysed.
		h.peers.set(func(p *peers) {
			p.documents["0190d000-0000-7000-8000-000000000022"] = []*patientv1.RecordSummary{{Id: pngRecord,
				CaseId: "0190d000-0000-7000-8000-000000000022", PatientId: other, FileType: "PNG"}}
		})
		_, body = h.post("/api/v1/ai/process-document", "admin", `{"documentId":"`+pngRecord+`"}`)
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(body, `"SKIPPED"`); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("status without consent: %s", body)
			}
			_, body = h.call("GET", "/api/v1/ai/status/"+st.ProcessingID, "admin")
		}
		h.peers.mu.Lock()
		analysed = slices.Contains(h.peers.analysed, pngRecord)
		h.peers.mu.Unlock()
		if analysed || !strings.Contains(body, "NO_AI_CONSENT") {
			t.Fatalf("a record was analysed without consent: %s", body)
		}
		for _, c := range []struct {
			token, body string
			want        int
		}{
			{"admin", `{"documentId":"0190b000-0000-7000-8000-0000000000ee"}`, http.StatusNotFound},
			{"admin", `{"documentId":"not-a-uuid"}`, http.StatusUnprocessableEntity},
			{"assignee", `{"documentId":"` + pdfRecord + `"}`, http.StatusForbidden},
		} {
			if code, body := h.post("/api/v1/ai/process-document", c.token, c.body); code != c.want {
				t.Errorf("%s %s: %d, want %d: %s", c.token, c.body, code, c.want, body)
			}
		}
	})
}

func (h *harness) post(path, token, body string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest("POST", h.base+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := h.http.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
