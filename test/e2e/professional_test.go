package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/secondopinion/platform/internal/app/apptest"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/test/journey"
)

// TestOpinionJourney walks the professional half of the journey: a case
// reaches a verified JUNIOR through the pool, a SENIOR reviews the
// opinion, and the patient reads it, downloads the report and asks a
// follow-up that the author answers.
func TestOpinionJourney(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			p := boot(t, engineEnv(t, e, nil))
			opinionJourney(t, p, p.j)
		})
	}
}

func engineEnv(t *testing.T, e sqldb.Engine, extra map[string]string) map[string]string {
	env := map[string]string{"DATA_DIR": t.TempDir(), "REGION": "EU", "SHUTDOWN_TIMEOUT": "20s",
		"ADMIN_EMAIL": adminEmail, "ADMIN_PASSWORD": adminPassword}
	if e == sqldb.Postgres {
		env["DATABASE_URL"] = apptest.Database(t)
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func opinionJourney(t *testing.T, p *platform, j journey.Platform) {
	admin := j.Login(t, adminEmail, adminPassword)
	patient := j.RegisterPatient(t)
	c := j.OpenCase(t, patient, true)

	junior := j.RegisterProfessional(t)
	senior := j.RegisterProfessional(t)
	// Unverified, the professional sees nothing of the pool and cannot
	// claim, even once the case is there (before, the claim is a 404 for
	// anyone: ADR 9).
	j.Credential(t, admin, senior, "SENIOR")
	j.WaitAvailable(t, senior, c)
	j.Do(t, junior.Token, http.MethodPost, "/api/v1/assignments/claim/"+c.ID, nil).Want(t, http.StatusForbidden)
	j.Credential(t, admin, junior, "JUNIOR")

	// Before the claim the pool shows a de-identified summary only.
	j.WaitAvailable(t, junior, c)
	pool := j.Do(t, junior.Token, http.MethodGet, "/api/v1/assignments/available/"+junior.ID, nil)
	if s := string(pool.Body); strings.Contains(s, "migraines") || strings.Contains(s, "Test") || strings.Contains(s, "1980") || !strings.Contains(s, `"ageBand":"40-49"`) {
		t.Errorf("pool summary: %s", s)
	}
	j.Do(t, junior.Token, http.MethodGet, "/api/v1/cases/"+c.ID, nil).Want(t, http.StatusNotFound)
	j.Claim(t, junior, c)
	j.Do(t, senior.Token, http.MethodPost, "/api/v1/assignments/claim/"+c.ID, nil).Want(t, http.StatusConflict)
	journey.Eventually(t, "the case is assigned", func() (bool, string) {
		r := j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.Number+"/status", nil)
		return strings.Contains(string(r.Body), `"ASSIGNED"`), string(r.Body)
	})
	// Assigned, the professional reads the case.
	if m := j.Do(t, junior.Token, http.MethodGet, "/api/v1/cases/"+c.ID, nil).Want(t, http.StatusOK); m["question"] == nil {
		t.Fatalf("the assignee's view of the case: %v", m)
	}

	opinionID, status := j.WriteOpinion(t, junior, c)
	if status != "SUBMITTED" {
		t.Fatalf("a junior's opinion is %s after submission, want SUBMITTED for review", status)
	}
	j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.ID+"/opinion", nil).Want(t, http.StatusNotFound)
	journey.Eventually(t, "the case is under review", func() (bool, string) {
		r := j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.Number+"/status", nil)
		return strings.Contains(string(r.Body), `"UNDER_REVIEW"`), string(r.Body)
	})
	// The senior finds it in their review queue; the author does not.
	if q := j.Do(t, senior.Token, http.MethodGet, "/api/v1/opinions/awaiting-review", nil); q.Status != http.StatusOK || !strings.Contains(string(q.Body), opinionID) {
		t.Fatalf("the senior's review queue: %d %s", q.Status, q.Body)
	}
	if q := j.Do(t, junior.Token, http.MethodGet, "/api/v1/opinions/awaiting-review", nil); strings.Contains(string(q.Body), opinionID) {
		t.Fatalf("the author may review their own opinion: %s", q.Body)
	}
	j.Do(t, junior.Token, http.MethodPost, "/api/v1/opinions/"+opinionID+"/review", map[string]string{"decision": "APPROVE"}).
		Want(t, http.StatusForbidden)
	j.Do(t, senior.Token, http.MethodPost, "/api/v1/opinions/"+opinionID+"/review", map[string]string{"decision": "APPROVE"}).
		Want(t, http.StatusOK)
	journey.Eventually(t, "the case is completed", func() (bool, string) {
		r := j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.Number+"/status", nil)
		return strings.Contains(string(r.Body), `"COMPLETED"`), string(r.Body)
	})

	m := j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.ID+"/opinion", nil).Want(t, http.StatusOK)
	if m["status"] != "APPROVED" || m["answer"] != journey.Draft["answer"] {
		t.Fatalf("the patient's opinion: %v", m)
	}
	pdf := j.Do(t, patient.Token, http.MethodGet, "/api/v1/opinions/"+opinionID+"/report", nil)
	if pdf.Status != http.StatusOK || pdf.Type != "application/pdf" || !bytes.HasPrefix(pdf.Body, []byte("%PDF-")) {
		t.Fatalf("report: %d %s %.40q", pdf.Status, pdf.Type, pdf.Body)
	}
	other := j.RegisterPatient(t)
	j.Do(t, other.Token, http.MethodGet, "/api/v1/opinions/"+opinionID+"/report", nil).Want(t, http.StatusNotFound)

	q := j.Do(t, patient.Token, http.MethodPost, "/api/v1/cases/"+c.ID+"/opinion/questions",
		map[string]string{"question": "Can I keep drinking coffee?"}).Want(t, http.StatusCreated)
	qid := journey.Str(t, q, "id")
	j.Do(t, junior.Token, http.MethodPost, "/api/v1/opinions/"+opinionID+"/questions/"+qid+"/answer",
		map[string]string{"answer": "Yes, in moderation; note it in the diary."}).Want(t, http.StatusOK)
	m = j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.ID+"/opinion", nil).Want(t, http.StatusOK)
	if fu, _ := m["followUps"].([]any); len(fu) != 1 || !strings.Contains(string(j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.ID+"/opinion", nil).Body), "in moderation") {
		t.Fatalf("the follow-up is not shown with the opinion: %v", m)
	}

	p.waitAccess(t, "Bearer "+patient.Token, patient.ID, "case.read professional", "opinion.read patient")
	logs := p.logs.String()
	for _, secret := range []string{patient.Email, junior.Email, "Neurologist", "migraines", "preventive treatment", "coffee", journey.Password} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}

// TestMissedDeadline: an assignment past its deadline expires, the case
// returns to the pool, and the professional who let it lapse cannot claim
// it again while another can.
func TestMissedDeadline(t *testing.T) {
	p := boot(t, engineEnv(t, sqldb.SQLite, map[string]string{
		"ASSIGNMENT_DEADLINE_STANDARD": "1s", "ASSIGNMENT_SWEEP_INTERVAL": "100ms"}))
	j := p.j
	admin := j.Login(t, adminEmail, adminPassword)
	patient := j.RegisterPatient(t)
	c := j.OpenCase(t, patient, true)
	late, next := j.RegisterProfessional(t), j.RegisterProfessional(t)
	j.Credential(t, admin, late, "JUNIOR")
	j.Credential(t, admin, next, "JUNIOR")
	j.Claim(t, late, c)
	p.waitEvent(t, "assignment.expired", c.ID)
	journey.Eventually(t, "the case is back in the pool", func() (bool, string) {
		r := j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+c.Number+"/status", nil)
		return strings.Contains(string(r.Body), `"AWAITING_ASSIGNMENT"`), string(r.Body)
	})
	j.Do(t, late.Token, http.MethodPost, "/api/v1/assignments/claim/"+c.ID, nil).Want(t, http.StatusForbidden)
	j.Claim(t, next, c)
}
