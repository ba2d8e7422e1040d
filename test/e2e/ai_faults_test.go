package e2e

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/ai/ai-providers/providertest"
	"github.com/secondopinion/platform/test/journey"
)

// TestAIFaults: when the external provider fails, the router falls back
// to the local one; when there is no fallback, the case's attempts run out
// and it is ORPHANED into the admins' triage — never dropped — from which
// an admin retries it once the provider is back, or sends it on without
// AI.
func TestAIFaults(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			t.Run("failover", func(t *testing.T) {
				fake := providertest.New(t, providertest.OpenAI)
				fake.Always(fake.Status(http.StatusInternalServerError))
				p := boot(t, engineEnv(t, e, openAIEnv(fake, "openai,local")))
				j := p.j
				admin := j.Login(t, adminEmail, adminPassword)
				patient := j.RegisterPatient(t)
				c := caseWithReport(t, p, patient)
				waitCaseStatus(t, j, patient, c, "AWAITING_ASSIGNMENT")
				a := analysisOf(t, j, admin, c)
				if a.Status != "COMPLETED" || a.Synthesis == nil || a.Synthesis.Provider != "local" {
					t.Fatalf("the pre-analysis after openai failed: %+v", a)
				}
				if len(fake.Requests()) == 0 {
					t.Fatal("openai, first in the chain, was never asked")
				}
			})
			t.Run("orphaned", func(t *testing.T) {
				fake := providertest.New(t, providertest.OpenAI)
				fake.Always(fake.Status(http.StatusInternalServerError))
				env := openAIEnv(fake, "openai")
				for k, v := range map[string]string{"AI_MAX_ATTEMPTS": "2", "AI_RETRY_BACKOFF": "100ms", "AI_RETRY_MAX_BACKOFF": "200ms"} {
					env[k] = v
				}
				p := boot(t, engineEnv(t, e, env))
				orphaned(t, p, fake)
			})
		})
	}
}

// openAIEnv configures the openai provider at fake, the default chain
// and quick job polling (PostgreSQL's workers poll; SQLite's are told).
func openAIEnv(fake *providertest.Server, chain string) map[string]string {
	return map[string]string{"AI_DEFAULT_CHAIN": chain, "AI_ALLOWED_PROVIDERS": "openai", "OPENAI_BASE_URL": fake.URL,
		"OPENAI_API_KEY": "sk-test", "OPENAI_MODEL": providertest.OpenAIModel, "AI_JOB_POLL": "100ms"}
}

// caseWithReport opens and submits a case of patient with a plain-text
// report: a record the synthesis has something to say about (a case
// without one needs no provider), read without PDFium or OCR.
func caseWithReport(t *testing.T, p *platform, patient journey.Account) journey.Case {
	t.Helper()
	c := p.j.OpenCase(t, patient, false)
	p.upload(t, patient.Token, c.ID, "IMAGING_REPORT", "report.txt", []byte(pageText(reportLines...)+"\n"))
	p.j.Submit(t, patient, c, nil)
	return c
}

// triageEntry is an item of GET /api/v1/ai/triage.
type triageEntry struct {
	ProcessingID, CaseID, Specialty, Reason string
	Attempts                                int
}

func aiTriage(t *testing.T, j journey.Platform, admin string) map[string]triageEntry {
	t.Helper()
	var list struct{ Items []triageEntry }
	r := j.Do(t, admin, http.MethodGet, "/api/v1/ai/triage", nil)
	if r.Want(t, http.StatusOK); json.Unmarshal(r.Body, &list) != nil {
		t.Fatalf("triage: %s", r.Body)
	}
	out := map[string]triageEntry{}
	for _, e := range list.Items {
		out[e.CaseID] = e
	}
	return out
}

// orphaned runs two cases out of attempts against a failing provider,
// then retries one once it answers and sends the other on. Four failed
// calls in all: the router's breaker opens at five in a row, which would
// refuse the retry.
func orphaned(t *testing.T, p *platform, fake *providertest.Server) {
	j := p.j
	admin := j.Login(t, adminEmail, adminPassword)
	patient := j.RegisterPatient(t)
	retried, sentOn := caseWithReport(t, p, patient), caseWithReport(t, p, patient)
	for _, c := range []journey.Case{retried, sentOn} {
		waitCaseStatus(t, j, patient, c, "ORPHANED")
		p.waitEvent(t, "case.orphaned", c.ID)
	}
	list := aiTriage(t, j, admin)
	for _, c := range []journey.Case{retried, sentOn} {
		if e, ok := list[c.ID]; !ok || e.Attempts != 2 || e.Reason != "SYNTHESIS_UNAVAILABLE" || e.Specialty != "NEUROLOGY" {
			t.Fatalf("case %s in triage: %+v (in it: %v), want 2 attempts, the synthesis unavailable", c.Number, e, ok)
		}
	}
	if a := analysisOf(t, j, admin, retried); a.Status != "ORPHANED" || a.Attempts != 2 || a.Synthesis != nil {
		t.Fatalf("an orphaned case's pre-analysis: %+v", a)
	}
	j.Do(t, patient.Token, http.MethodGet, "/api/v1/ai/triage", nil).Want(t, http.StatusForbidden)
	j.Do(t, patient.Token, http.MethodPost, "/api/v1/ai/triage/"+retried.ID+"/retry", nil).Want(t, http.StatusForbidden)

	// The provider is back: a retry starts a new round, which completes
	// with it.
	fake.Always(fake.Cite())
	j.Do(t, admin, http.MethodPost, "/api/v1/ai/triage/"+retried.ID+"/retry", nil).Want(t, http.StatusAccepted)
	waitCaseStatus(t, j, patient, retried, "AWAITING_ASSIGNMENT")
	a := analysisOf(t, j, admin, retried)
	if a.Status != "COMPLETED" || a.Synthesis == nil || a.Synthesis.Provider != "openai" || len(a.Synthesis.KeyFindings) == 0 ||
		len(a.Documents) != 1 || a.Synthesis.KeyFindings[0].Citation.DocumentID != a.Documents[0].DocumentID {
		t.Fatalf("the retried case's pre-analysis: %+v", a)
	}
	j.Do(t, admin, http.MethodPost, "/api/v1/ai/triage/"+retried.ID+"/retry", nil).Want(t, http.StatusConflict)

	// The other goes to the pool without AI.
	j.Do(t, admin, http.MethodPost, "/api/v1/ai/triage/"+sentOn.ID+"/send-on", nil).Want(t, http.StatusOK)
	waitCaseStatus(t, j, patient, sentOn, "AWAITING_ASSIGNMENT")
	if a := analysisOf(t, j, admin, sentOn); a.Status != "SKIPPED" || a.Reason != "SENT_ON_BY_ADMIN" || a.Synthesis != nil {
		t.Fatalf("the case sent on: %+v", a)
	}
	if list := aiTriage(t, j, admin); len(list) != 0 {
		t.Fatalf("triage after the retry and the send-on: %+v", list)
	}
}
