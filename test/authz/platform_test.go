package authz_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/secondopinion/platform/test/journey"
)

// platformRequests are the platform services' operations — notification,
// search, reporting — merged into the matrix's table.
var platformRequests = map[string]request{
	// Everyone lists their own notices.
	"GET /api/v1/notifications": {},
	// A notice of A's: read state is A's own, hidden from admins too.
	"POST /api/v1/notifications/{id}/read": {ofA: true, personal: true},
	"GET /api/v1/notifications/deliveries": {},
	// A delivery that was sent: only a DEAD one may be sent again.
	"POST /api/v1/notifications/deliveries/{id}/retry": {answer: http.StatusConflict},

	// Each caller finds what they may see: their own cases, assigned
	// ones and the pool de-identified, or all (search's own tests hold
	// the scopes).
	"GET /api/v1/search/cases": {query: func(*fixtures) string { return "q=migraines" }},

	"GET /api/v1/reports/overview":     {},
	"GET /api/v1/reports/{report}/csv": {},
}

// platformScene is scene's part for the platform services' paths; false
// when path is none of them.
func (f *fixtures) platformScene(t *testing.T, path string) (map[string]string, bool) {
	switch path {
	case "/api/v1/notifications/{id}/read":
		return map[string]string{"id": f.j.First(t, f.patientA.Token, "/api/v1/notifications?limit=1")}, true
	case "/api/v1/notifications/deliveries/{id}/retry":
		return map[string]string{"id": f.j.First(t, f.accounts["admin"].token, "/api/v1/notifications/deliveries?status=SENT&limit=1")}, true
	case "/api/v1/reports/{report}/csv":
		return map[string]string{"report": "periods"}, true
	}
	return nil, false
}

// searchScopes holds search to ARCHITECTURE's scopes with real cases: the
// professional a case is assigned to finds it in full, another finds
// neither it nor any case's text, its patient or her name — only pool
// cases, de-identified — whatever they ask.
func searchScopes(t *testing.T, f *fixtures) {
	j := f.j
	other := j.RegisterProfessional(t)
	j.Credential(t, f.accounts["admin"].token, other, "SENIOR")
	assigned := j.OpenCase(t, f.patientA, true)
	j.Claim(t, f.pro, assigned)
	pool := j.OpenCase(t, f.patientA, true)
	j.WaitAvailable(t, other, pool)

	type hit struct{ ID, Access, Title, Snippet string }
	search := func(token, q string) ([]hit, string) {
		r := j.Do(t, token, http.MethodGet, "/api/v1/search/cases?limit=100&q="+url.QueryEscape(q), nil)
		var page struct{ Items []hit }
		if r.Want(t, http.StatusOK); json.Unmarshal(r.Body, &page) != nil {
			t.Fatalf("search: %s", r.Body)
		}
		return page.Items, string(r.Body)
	}
	journey.Eventually(t, "the assignee finds the case in full", func() (bool, string) {
		hits, body := search(f.pro.Token, "migraines")
		for _, h := range hits {
			if h.ID == assigned.ID && h.Access == "FULL" && strings.Contains(h.Snippet, "<mark>migraines</mark>") {
				return true, ""
			}
		}
		return false, body
	})
	journey.Eventually(t, "another professional finds the pool case de-identified", func() (bool, string) {
		hits, body := search(other.Token, "")
		return slices.ContainsFunc(hits, func(h hit) bool { return h.ID == pool.ID && h.Access == "DEIDENTIFIED" }), body
	})
	for _, q := range []string{"", "migraines", "Recurring", "preventive treatment", assigned.Number, "Test Patient", "NEUROLOGY"} {
		hits, body := search(other.Token, q)
		for _, h := range hits {
			if h.ID == assigned.ID || h.Access != "DEIDENTIFIED" || h.Title != "" || h.Snippet != "" {
				t.Errorf("another professional searching %q got %+v", q, h)
			}
		}
		for _, leak := range []string{assigned.ID, f.patientA.ID, f.patientA.Email, "Recurring migraines", "preventive", "Test", "Patient"} {
			if strings.Contains(body, leak) {
				t.Errorf("another professional searching %q reads %q: %s", q, leak, body)
			}
		}
	}
}
