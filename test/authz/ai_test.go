package authz_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/secondopinion/platform/test/journey"
)

// The AI pre-analysis' operations need cases the AI went through: these
// build them, and check what one professional caller cannot — that a
// professional to whom the case is not assigned finds none of it.

// failingProvider makes every case of CARDIOLOGY (newCase's specialty;
// journey.OpenCase's NEUROLOGY cases keep the local provider) fail its
// synthesis at an external provider that answers 503, and gives a case
// one attempt: such a case with a record is orphaned into the admins'
// triage at its first failure.
func failingProvider(t *testing.T, env map[string]string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":{"message":"overloaded"}}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	for k, v := range map[string]string{"OPENAI_BASE_URL": srv.URL + "/v1/", "OPENAI_MODEL": "gpt-4o-mini",
		"OPENAI_API_KEY": "sk-test", "AI_ALLOWED_PROVIDERS": "openai", "AI_ROUTES": "CARDIOLOGY=openai",
		"AI_MAX_ATTEMPTS": "1"} {
		env[k] = v
	}
}

// claimedWithRecord is a NEUROLOGY case of patient A's with a short note
// as its record, submitted, through the AI's pre-analysis into the pool
// and claimed by the professional; it returns the case, the record's id
// and the assignment's.
func (f *fixtures) claimedWithRecord(t *testing.T) (c journey.Case, record, assignment string) {
	t.Helper()
	c = f.j.OpenCase(t, f.patientA, false)
	h, body := multipartText(t)
	record = f.uploadRecord(t, c.ID, h, body)
	f.j.Submit(t, f.patientA, c, map[string]bool{"confirmIncomplete": true})
	return c, record, f.j.Claim(t, f.pro, c) // once the pre-analysis sent it to the pool
}

// preAnalysed reads case c's pre-analysis as the admin, checks that the
// AI did analyse its record (the routes are tested on a real result, not
// an empty one) and returns the processing's id.
func (f *fixtures) preAnalysed(t *testing.T, c journey.Case) string {
	t.Helper()
	r := f.j.Do(t, f.accounts["admin"].token, http.MethodGet, "/api/v1/cases/"+c.ID+"/analysis", nil)
	var a struct {
		ProcessingID, Status string
		Documents            []struct{ DocumentID string }
	}
	if r.Want(t, http.StatusOK); json.Unmarshal(r.Body, &a) != nil || a.ProcessingID == "" || a.Status != "COMPLETED" ||
		len(a.Documents) == 0 {
		t.Fatalf("the pre-analysis of case %s: %s", c.Number, r.Body)
	}
	return a.ProcessingID
}

// orphanedCase is a CARDIOLOGY case of patient A's with a record, which
// the AI gave up on (see failingProvider): it waits in the admins'
// triage. It returns the case's id.
func (f *fixtures) orphanedCase(t *testing.T) string {
	t.Helper()
	status, out := f.do(t, f.patientA.Token, http.MethodPost, "/api/v1/cases", newCase(f.a))
	var c struct{ ID string }
	if status != http.StatusCreated || json.Unmarshal(out, &c) != nil || c.ID == "" {
		t.Fatalf("open a case: %d %s", status, out)
	}
	h, body := multipartText(t)
	f.uploadRecord(t, c.ID, h, body)
	f.j.Submit(t, f.patientA, journey.Case{ID: c.ID}, map[string]bool{"confirmIncomplete": true})
	journey.Eventually(t, "case "+c.ID+" in the AI triage", func() (bool, string) {
		r := f.j.Do(t, f.accounts["admin"].token, http.MethodGet, "/api/v1/ai/triage", nil)
		return r.Status == http.StatusOK && strings.Contains(string(r.Body), c.ID), string(r.Body)
	})
	return c.ID
}

// unassigned checks what the matrix's one professional, the assignee of
// every scene's case, cannot: that a verified professional of the same
// specialty, to whom the case is not assigned, finds neither the case's
// pre-analysis, nor where its processing stands, nor its record's
// analysis — and that the assignee loses them when they give the case
// back.
func unassigned(t *testing.T, f *fixtures) {
	j := f.j
	other := j.RegisterProfessional(t)
	j.Credential(t, f.accounts["admin"].token, other, "SENIOR")
	c, record, assignment := f.claimedWithRecord(t)
	processing := f.preAnalysed(t, c)
	j.Do(t, f.accounts["admin"].token, http.MethodPost, "/api/v1/documents/analyze", map[string]string{"documentId": record}).
		Want(t, http.StatusOK)
	paths := []string{"/api/v1/cases/" + c.ID + "/analysis", "/api/v1/ai/status/" + processing, "/api/v1/documents/analysis/" + record}
	for _, path := range paths {
		j.Do(t, f.pro.Token, http.MethodGet, path, nil).Want(t, http.StatusOK)
		if r := j.Do(t, other.Token, http.MethodGet, path, nil); r.Status != http.StatusNotFound {
			t.Errorf("GET %s as a professional the case is not assigned to: %d, want 404: %s", path, r.Status, r.Body)
		}
	}
	j.Do(t, f.pro.Token, http.MethodPost, "/api/v1/assignments/release/"+assignment, nil).Want(t, http.StatusOK)
	for _, path := range paths {
		if r := j.Do(t, f.pro.Token, http.MethodGet, path, nil); r.Status != http.StatusNotFound {
			t.Errorf("GET %s as the professional who gave the case back: %d, want 404: %s", path, r.Status, r.Body)
		}
	}
}
