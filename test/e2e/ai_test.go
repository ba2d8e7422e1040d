package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/bus"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/test/journey"
)

// The words of the records the AI journey uploads. The report asserts a
// pneumonia and denies a malignancy; the scanned letter, readable by OCR
// alone, names a hypertension.
var (
	reportLines = []string{"CHEST RADIOGRAPH REPORT", "Impression: right lower lobe pneumonia.", "No evidence of malignancy."}
	letterLines = []string{"Clinic letter", "Diagnosis: hypertension."}
)

// TestAIJourney walks a case through the AI pre-analysis over the gateway:
// a patient who consented uploads a PDF report, a scanned letter and a
// DICOM study and submits; the case passes the AI on its way to the pool;
// the professional who claims it reads the pre-analysis, each finding
// citing the very words it rests on, accepts one finding and rejects
// another in the opinion; and once it is approved the patient reads only
// the accepted one.
func TestAIJourney(t *testing.T) {
	// Printed and scanned once for both engines.
	letter := scanPNG(t, letterLines...)
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			aiJourney(t, boot(t, engineEnv(t, e, nil)), letter)
		})
	}
}

// caseAnalysis is GET /api/v1/cases/{caseId}/analysis.
type caseAnalysis struct {
	ProcessingID string `json:"processingId"`
	CaseID       string `json:"caseId"`
	Status       string `json:"status"`
	Attempts     int    `json:"attempts"`
	Reason       string `json:"reason"`
	Documents    []struct {
		DocumentID string      `json:"documentId"`
		FileType   string      `json:"fileType"`
		Status     string      `json:"status"`
		Findings   []aiFinding `json:"findings"`
	} `json:"documents"`
	Synthesis *struct {
		Summary     string      `json:"summary"`
		KeyFindings []aiFinding `json:"keyFindings"`
		Provider    string      `json:"provider"`
		Model       string      `json:"model"`
	} `json:"synthesis"`
}

type aiFinding struct {
	ID       string     `json:"id"`
	Label    string     `json:"label"`
	Code     string     `json:"code"`
	Text     string     `json:"text"`
	Citation aiCitation `json:"citation"`
}

type aiCitation struct {
	DocumentID string `json:"documentId"`
	Page       int    `json:"page"`
	Start      int    `json:"start"`
	End        int    `json:"end"`
}

// documentAnalysis is GET /api/v1/documents/analysis/{documentId}: the
// pages as read, and the entities with the spans they cite.
type documentAnalysis struct {
	FileType string `json:"fileType"`
	Status   string `json:"status"`
	Pages    []struct {
		Number     int    `json:"number"`
		Method     string `json:"method"`
		Status     string `json:"status"`
		Characters int    `json:"characters"`
	} `json:"pages"`
	Tags     []dicomTag `json:"tags"`
	Analysis struct {
		Entities []struct {
			Text    string `json:"text"`
			Negated bool   `json:"negated"`
			Cite    struct {
				Page  int `json:"page"`
				Start int `json:"start"`
				End   int `json:"end"`
			} `json:"cite"`
			Concept *struct {
				Code string `json:"code"`
			} `json:"concept"`
		} `json:"entities"`
	} `json:"analysis"`
}

// dicomTag is a DICOM attribute document-analysis read.
type dicomTag struct {
	Keyword string `json:"keyword"`
	Value   string `json:"value"`
}

// decodeAs fails the test unless r has status, and decodes its body as
// a T: Response.Want's map loses the shape the checks compare.
func decodeAs[T any](t *testing.T, r journey.Response, status int) T {
	t.Helper()
	r.Want(t, status)
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("%T: %v: %s", v, err, r.Body)
	}
	return v
}

// analysisOf is case c's pre-analysis as token's holder reads it.
func analysisOf(t *testing.T, j journey.Platform, token string, c journey.Case) caseAnalysis {
	t.Helper()
	return decodeAs[caseAnalysis](t, j.Do(t, token, http.MethodGet, "/api/v1/cases/"+c.ID+"/analysis", nil), http.StatusOK)
}

// waitCaseStatus waits until case c's status, as patient reads it, is want.
func waitCaseStatus(t *testing.T, j journey.Platform, patient journey.Account, c journey.Case, want string) {
	t.Helper()
	journey.Eventually(t, "case "+c.Number+" "+want, func() (bool, string) {
		r := j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.Number+"/status", nil)
		return r.Status == http.StatusOK && strings.Contains(string(r.Body), `"status":"`+want+`"`), string(r.Body)
	})
}

// findingCoded is the finding of fs coded code.
func findingCoded(t *testing.T, fs []aiFinding, code string) aiFinding {
	t.Helper()
	for _, f := range fs {
		if f.Code == code {
			return f
		}
	}
	t.Fatalf("no finding coded %s in %+v", code, fs)
	return aiFinding{}
}

func aiJourney(t *testing.T, p *platform, letterPNG []byte) {
	j := p.j
	admin := j.Login(t, adminEmail, adminPassword)
	patient := j.RegisterPatient(t) // AI_PROCESSING and SHARE_WITH_PROFESSIONALS
	// Credentialed first, while nothing waits on them.
	junior, senior := j.RegisterProfessional(t), j.RegisterProfessional(t)
	j.Credential(t, admin, junior, "JUNIOR")
	j.Credential(t, admin, senior, "SENIOR")

	c := j.OpenCase(t, patient, false)
	study, err := os.ReadFile(filepath.Join("..", "..", "internal", "kit", "dicom", "testdata", "one.explicit.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	report := p.upload(t, patient.Token, c.ID, "IMAGING_REPORT", "chest report.pdf", reportPDF(t, reportLines...))
	letter := p.upload(t, patient.Token, c.ID, "OTHER", "clinic letter.png", letterPNG)
	scan := p.upload(t, patient.Token, c.ID, "IMAGING", "head.dcm", study)
	j.Submit(t, patient, c, nil)

	// ai.analysis.started names the processing; the patient follows it at
	// /api/v1/ai/status (the case's status says AI_PROCESSING meanwhile).
	started, ok := p.events.wait(15*time.Second, func(e bus.Event) bool {
		return e.Type == events.AnalysisStartedV1.Type && e.AggregateID == c.ID
	})
	if !ok {
		t.Fatalf("no ai.analysis.started for case %s", c.ID)
	}
	var progress events.AnalysisProgress
	if err := json.Unmarshal(started.Payload, &progress); err != nil || progress.ProcessingID == "" {
		t.Fatalf("ai.analysis.started: %v %s", err, started.Payload)
	}
	waitCaseStatus(t, j, patient, c, "AWAITING_ASSIGNMENT")
	done, _ := p.events.wait(15*time.Second, func(e bus.Event) bool {
		return e.Type == events.AnalysisCompletedV1.Type && e.AggregateID == c.ID
	})
	if !strings.Contains(string(done.Payload), `"outcome":"COMPLETED"`) {
		t.Fatalf("the case reached the pool without its pre-analysis: %s %s", done.Type, done.Payload)
	}
	st := j.Do(t, patient.Token, http.MethodGet, "/api/v1/ai/status/"+progress.ProcessingID, nil).Want(t, http.StatusOK)
	if st["status"] != "COMPLETED" || st["kind"] != "CASE" || st["caseId"] != c.ID || st["attempts"] != 1.0 {
		t.Errorf("the patient's view of the processing: %v", st)
	}
	other := j.RegisterPatient(t)
	j.Do(t, other.Token, http.MethodGet, "/api/v1/ai/status/"+progress.ProcessingID, nil).Want(t, http.StatusNotFound)

	// AI output reaches the patient only through the opinion; before the
	// claim no professional reads it.
	j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.ID+"/analysis", nil).Want(t, http.StatusForbidden)
	j.Do(t, junior.Token, http.MethodGet, "/api/v1/cases/"+c.ID+"/analysis", nil).Want(t, http.StatusNotFound)
	j.Claim(t, junior, c)
	j.Do(t, senior.Token, http.MethodGet, "/api/v1/cases/"+c.ID+"/analysis", nil).Want(t, http.StatusNotFound)

	a := analysisOf(t, j, junior.Token, c)
	if a.ProcessingID != progress.ProcessingID || a.CaseID != c.ID || a.Status != "COMPLETED" || a.Attempts != 1 || a.Reason != "" {
		t.Fatalf("the pre-analysis: %+v", a)
	}
	docs := map[string]int{}
	for i, d := range a.Documents {
		docs[d.DocumentID] = i
	}
	if len(a.Documents) != 3 || len(docs) != 3 {
		t.Fatalf("the pre-analysis has %d documents, want the 3 records: %+v", len(a.Documents), a.Documents)
	}
	for id, want := range map[string]string{report: "PDF", letter: "PNG", scan: "DICOM"} {
		i, ok := docs[id]
		if !ok {
			t.Fatalf("record %s (%s) is not in the pre-analysis", id, want)
		}
		if d := a.Documents[i]; d.FileType != want || d.Status != "OK" {
			t.Errorf("record %s: %s %s, want %s OK (the scan read by OCR, not OCR_UNAVAILABLE)", id, d.FileType, d.Status, want)
		}
	}

	// The report: the pneumonia is a finding whose citation is the very
	// words of the page it names; the denied malignancy is none.
	pdf := a.Documents[docs[report]]
	pneumonia := findingCoded(t, pdf.Findings, "J18")
	text := pageText(reportLines...)
	cite := pneumonia.Citation
	if cite.DocumentID != report || cite.Page != 1 || cite.Start < 0 || cite.End > len(text) || cite.Start >= cite.End ||
		text[cite.Start:cite.End] != pneumonia.Text || !strings.Contains(strings.ToLower(pneumonia.Text), "pneumonia") {
		t.Fatalf("the pneumonia's citation %+v does not quote %q from %q", cite, pneumonia.Text, text)
	}
	for _, f := range pdf.Findings {
		if f.Code == "C80" || strings.Contains(strings.ToLower(f.Label+f.Text), "malignan") {
			t.Errorf("a denied malignancy is a finding: %+v", f)
		}
	}
	// document-analysis, which the citation points at, read that page as
	// text (as many bytes as we wrote) and cites the same words; it saw
	// the malignancy and found it negated, rather than missed it.
	da := decodeAs[documentAnalysis](t, j.Do(t, junior.Token, http.MethodGet, "/api/v1/documents/analysis/"+report, nil), http.StatusOK)
	if len(da.Pages) != 1 || da.Pages[0].Method != "TEXT_LAYER" || da.Pages[0].Characters != len(text) {
		t.Fatalf("the report's pages: %+v, want one TEXT_LAYER page of %d bytes", da.Pages, len(text))
	}
	var cited, negated bool
	for _, e := range da.Analysis.Entities {
		cited = cited || e.Cite.Page == cite.Page && e.Cite.Start == cite.Start && e.Cite.End == cite.End && e.Text == pneumonia.Text
		negated = negated || e.Concept != nil && e.Concept.Code == "C80" && e.Negated && text[e.Cite.Start:e.Cite.End] == e.Text
	}
	if !cited || !negated {
		t.Errorf("document-analysis: the pneumonia cited %v, the malignancy negated %v: %+v", cited, negated, da.Analysis.Entities)
	}

	// The letter was read by OCR, and its finding cites it.
	png := a.Documents[docs[letter]]
	hypertension := findingCoded(t, png.Findings, "I10")
	if hypertension.Citation.DocumentID != letter || hypertension.Citation.Page != 1 ||
		!strings.Contains(strings.ToLower(hypertension.Text), "hypertension") {
		t.Errorf("the letter's finding: %+v", hypertension)
	}
	da = decodeAs[documentAnalysis](t, j.Do(t, junior.Token, http.MethodGet, "/api/v1/documents/analysis/"+letter, nil), http.StatusOK)
	if len(da.Pages) != 1 || da.Pages[0].Method != "OCR" || da.Pages[0].Status != "OK" {
		t.Errorf("the letter's pages: %+v, want one page read by OCR", da.Pages)
	}
	// The study: its descriptive tags, never its patient's.
	da = decodeAs[documentAnalysis](t, j.Do(t, junior.Token, http.MethodGet, "/api/v1/documents/analysis/"+scan, nil), http.StatusOK)
	if da.FileType != "DICOM" || !slices.ContainsFunc(da.Tags, func(tag dicomTag) bool {
		return tag.Keyword == "Modality" && tag.Value != ""
	}) {
		t.Errorf("the study's analysis: %+v", da)
	}

	// The synthesis: the local provider's, each key finding citing one of
	// the case's records.
	sy := a.Synthesis
	if sy == nil || sy.Provider != "local" || sy.Model == "" || sy.Summary == "" || len(sy.KeyFindings) == 0 {
		t.Fatalf("the synthesis: %+v", sy)
	}
	for i, f := range sy.KeyFindings {
		if _, ok := docs[f.Citation.DocumentID]; !ok || f.ID != fmt.Sprintf("synthesis:%d", i+1) || f.Citation.Page < 1 || f.Citation.End <= f.Citation.Start {
			t.Errorf("key finding %d cites none of the case's records: %+v", i+1, f)
		}
	}

	// The junior accepts the pneumonia and rejects the hypertension; a
	// senior approves; the patient reads the accepted finding only.
	draft := maps.Clone(journey.Draft)
	draft["aiFindings"] = []map[string]any{
		{"findingId": pneumonia.ID, "label": pneumonia.Label, "decision": "ACCEPTED", "citation": pneumonia.Citation},
		{"findingId": hypertension.ID, "label": hypertension.Label, "decision": "REJECTED", "citation": hypertension.Citation},
	}
	saved := j.Do(t, junior.Token, http.MethodPut, "/api/v1/cases/"+c.ID+"/opinion", draft).Want(t, http.StatusOK)
	if fs, _ := saved["aiFindings"].([]any); len(fs) != 2 {
		t.Fatalf("the saved draft's AI review: %v", saved["aiFindings"])
	}
	opinionID := journey.Str(t, saved, "id")
	if m := j.Do(t, junior.Token, http.MethodPost, "/api/v1/cases/"+c.ID+"/opinion/submit", nil).Want(t, http.StatusOK); m["status"] != "SUBMITTED" {
		t.Fatalf("a junior's opinion after submission: %v", m["status"])
	}
	j.Do(t, senior.Token, http.MethodPost, "/api/v1/opinions/"+opinionID+"/review", map[string]string{"decision": "APPROVE"}).
		Want(t, http.StatusOK)
	waitCaseStatus(t, j, patient, c, "COMPLETED")
	mine := j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.ID+"/opinion", nil)
	var seen struct {
		Status           string
		AIFindings       []any `json:"aiFindings"`
		ReviewedFindings []struct {
			Text     string     `json:"text"`
			Citation aiCitation `json:"citation"`
		} `json:"reviewedFindings"`
	}
	if err := json.Unmarshal(mine.Body, &seen); mine.Status != http.StatusOK || err != nil {
		t.Fatalf("the patient's opinion: %d %s", mine.Status, mine.Body)
	}
	if seen.Status != "APPROVED" || len(seen.AIFindings) != 0 || len(seen.ReviewedFindings) != 1 ||
		seen.ReviewedFindings[0].Text != pneumonia.Label || seen.ReviewedFindings[0].Citation != pneumonia.Citation {
		t.Errorf("the patient reads of the AI review %+v, want the accepted %q only", seen, pneumonia.Label)
	}
	if strings.Contains(strings.ToLower(string(mine.Body)), "hypertension") {
		t.Errorf("the patient reads the rejected finding: %s", mine.Body)
	}

	// The professional's read of the pre-analysis is on the patient's
	// access log.
	p.waitAccess(t, "Bearer "+patient.Token, patient.ID, "case.analysis.read professional")
	logs := p.logs.String()
	for _, words := range slices.Concat(reportLines, letterLines, []string{"pneumonia", "hypertension", "malignancy"}) {
		if strings.Contains(logs, words) {
			t.Errorf("logs contain the records' words %q", words)
		}
	}
}
