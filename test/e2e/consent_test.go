package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/test/journey"
)

// TestConsentGatesThePool walks consent through the gateway: a case of a
// patient who has not consented to share it with professionals is offered
// to none and claimable by none; the grant brings it to the pool; a
// withdrawal takes the unclaimed case out again and tells the patient so,
// while the claimed case stays with its professional through the opinion;
// the grant again brings the unclaimed one back.
func TestConsentGatesThePool(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			p := boot(t, engineEnv(t, e, nil))
			consentJourney(t, p.j)
		})
	}
}

func consentJourney(t *testing.T, j journey.Platform) {
	admin := j.Login(t, adminEmail, adminPassword)
	patient := j.RegisterPatientConsenting(t, "AI_PROCESSING")
	a, b := j.RegisterProfessional(t), j.RegisterProfessional(t)
	j.Credential(t, admin, a, "SENIOR")
	j.Credential(t, admin, b, "SENIOR")
	pool := func(as string, pro journey.Account) []string {
		t.Helper()
		var out []string
		for _, it := range listOf(t, j.Do(t, as, http.MethodGet, "/api/v1/assignments/available/"+pro.ID+"?limit=100", nil).Want(t, http.StatusOK)) {
			out = append(out, it["caseId"].(string))
		}
		return out
	}
	offered := func(c journey.Case) bool {
		t.Helper()
		return slices.Contains(pool(a.Token, a), c.ID) || slices.Contains(pool(b.Token, b), c.ID) ||
			slices.Contains(pool(admin, a), c.ID) || slices.Contains(pool(admin, b), c.ID)
	}
	claim := func(pro journey.Account, c journey.Case) journey.Response {
		return j.Do(t, pro.Token, http.MethodPost, "/api/v1/assignments/claim/"+c.ID, nil)
	}

	// Without the consent the case is held. A case of a consenting
	// patient submitted after it is offered once the pool has it, and the
	// pool takes case-management's events in order: the first is in the
	// pool's store by then.
	first := j.OpenCase(t, patient, true)
	control := j.OpenCase(t, j.RegisterPatient(t), true)
	j.WaitAvailable(t, a, control)
	if offered(first) {
		t.Fatal("a case without the patient's consent is offered")
	}
	claim(a, first).Want(t, http.StatusNotFound)

	// The grant brings it in; it waits from the grant, having been held
	// until then.
	granted := j.Grant(t, patient, "SHARE_WITH_PROFESSIONALS")
	j.WaitAvailable(t, b, first)
	for _, it := range listOf(t, j.Do(t, b.Token, http.MethodGet, "/api/v1/assignments/available/"+b.ID+"?limit=100", nil).Want(t, http.StatusOK)) {
		if it["caseId"] != first.ID {
			continue
		}
		since, err1 := time.Parse(time.RFC3339Nano, journey.Str(t, it, "waitingSince"))
		at, err2 := time.Parse(time.RFC3339Nano, journey.Str(t, granted, "grantedAt"))
		if err1 != nil || err2 != nil || since.Before(at) {
			t.Errorf("the case waits since %v, before the grant at %v (%v %v)", since, at, err1, err2)
		}
	}
	assignment := j.Claim(t, a, first)

	// A second case, offered with the consent in force, leaves the pool
	// with the withdrawal; the patient is told what becomes of each case.
	second := j.OpenCase(t, patient, true)
	j.WaitAvailable(t, b, second)
	w := j.Withdraw(t, patient, "SHARE_WITH_PROFESSIONALS")
	if notice, _ := w["notice"].(string); w["status"] != "WITHDRAWN" || !strings.Contains(notice, "until their opinion") ||
		!strings.Contains(notice, "until you give this consent again") {
		t.Errorf("the withdrawal's answer: %v", w)
	}
	journey.Eventually(t, "the unclaimed case leaves the pool", func() (bool, string) {
		return !offered(second), strings.Join(pool(b.Token, b), ",")
	})
	claim(b, second).Want(t, http.StatusNotFound)

	// The claimed case stays with its professional, through the opinion.
	mine := listOf(t, j.Do(t, a.Token, http.MethodGet, "/api/v1/assignments", nil).Want(t, http.StatusOK))
	if len(mine) != 1 || mine[0]["id"] != assignment || mine[0]["status"] != "ACTIVE" {
		t.Fatalf("the professional's assignments after the withdrawal: %v", mine)
	}
	claim(b, first).Want(t, http.StatusConflict)
	if _, status := j.WriteOpinion(t, a, first); status != "APPROVED" {
		t.Fatalf("the opinion after the withdrawal is %s, want APPROVED", status)
	}
	journey.Eventually(t, "the claimed case is completed", func() (bool, string) {
		r := j.Do(t, patient.Token, http.MethodGet, "/api/v1/cases/"+first.Number+"/status", nil)
		return strings.Contains(string(r.Body), `"COMPLETED"`), string(r.Body)
	})

	// The grant again brings the unclaimed case back.
	j.Grant(t, patient, "SHARE_WITH_PROFESSIONALS")
	j.Claim(t, b, second)
}

// listOf is the items of a page.
func listOf(t *testing.T, page map[string]any) []map[string]any {
	t.Helper()
	raw, ok := page["items"].([]any)
	if !ok {
		t.Fatalf("not a page: %v", page)
	}
	out := make([]map[string]any, 0, len(raw))
	for _, it := range raw {
		out = append(out, it.(map[string]any))
	}
	return out
}
