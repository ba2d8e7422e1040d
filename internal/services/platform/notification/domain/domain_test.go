package domain

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/api/vocab"
)

// Each event tells whom it should, and nobody unknown.
func TestNotices(t *testing.T) {
	const c, n, pat, pro, pro2 = "case-1", "EU-2026-AAAAAA", "patient-1", "pro-1", "pro-2"
	type want struct {
		to   Audience
		id   string
		kind Kind
	}
	for _, tc := range []struct {
		f    Fact
		want []want
	}{
		{Fact{Type: "case.submitted", CaseID: c, PatientID: pat}, []want{{Patient, pat, CaseSubmitted}}},
		{Fact{Type: "ai.analysis.completed", CaseID: c, PatientID: pat}, []want{{Patient, pat, AnalysisDone}}},
		{Fact{Type: "case.assigned", CaseID: c, PatientID: pat, ProfessionalID: pro}, []want{{Patient, pat, CaseClaimed}}},
		{Fact{Type: "opinion.approved", CaseID: c, PatientID: pat, ProfessionalID: pro},
			[]want{{Patient, pat, OpinionReady}, {Professional, pro, OpinionApproved}}},
		{Fact{Type: "opinion.question_answered", CaseID: c, PatientID: pat}, []want{{Patient, pat, QuestionAnswered}}},
		{Fact{Type: "opinion.question_asked", CaseID: c, PatientID: pat, ProfessionalID: pro}, []want{{Professional, pro, QuestionAsked}}},
		{Fact{Type: "payment.succeeded", CaseID: c, PatientID: pat}, []want{{Patient, pat, PaymentReceived}}},
		{Fact{Type: "payment.failed", CaseID: c, PatientID: pat}, []want{{Patient, pat, PaymentFailed}}},
		{Fact{Type: "payment.refunded", CaseID: c, PatientID: pat}, []want{{Patient, pat, RefundIssued}}},
		{Fact{Type: "assignment.case_offered", CaseID: c, ProfessionalIDs: []string{pro, pro2}},
			[]want{{Professional, pro, CaseOffered}, {Professional, pro2, CaseOffered}}},
		{Fact{Type: "assignment.deadline_approaching", CaseID: c, ProfessionalID: pro, Percent: 90}, []want{{Professional, pro, DeadlineApproaching}}},
		{Fact{Type: "assignment.expired", CaseID: c, ProfessionalID: pro, PatientID: pat}, []want{{Professional, pro, AssignmentExpired}}},
		{Fact{Type: "opinion.submitted", CaseID: c, ProfessionalID: pro, ReviewRequired: true}, []want{{Professional, pro, ReviewRequested}}},
		{Fact{Type: "opinion.submitted", CaseID: c, ProfessionalID: pro}, nil},
		{Fact{Type: "opinion.changes_requested", CaseID: c, ProfessionalID: pro}, []want{{Professional, pro, ChangesRequested}}},
		{Fact{Type: "payout.paid", ProfessionalID: pro, Amount: 100, Currency: "EUR"}, []want{{Professional, pro, PayoutPaid}}},
		{Fact{Type: "assignment.escalated", CaseID: c, CaseNumber: n}, []want{{Admin, "", CaseEscalated}}},
		{Fact{Type: "case.orphaned", CaseID: c}, []want{{Admin, "", CaseOrphaned}}},
		{Fact{Type: "credential.submitted", Ref: "cred"}, []want{{Admin, "", CredentialSubmitted}}},
		{Fact{Type: "event.dead_lettered", Ref: "ev"}, []want{{Admin, "", EventDeadLettered}}},
		// A case the read model does not know has nobody to tell.
		{Fact{Type: "case.submitted", CaseID: c}, nil},
		{Fact{Type: "opinion.question_asked", CaseID: c}, nil},
		{Fact{Type: "case.created", CaseID: c, PatientID: pat}, nil},
	} {
		var got []want
		for _, x := range Notices(tc.f) {
			got = append(got, want{x.To, x.RecipientID, x.Kind})
			if AudienceOf(x.Kind) != x.To {
				t.Errorf("%s: %s is for %s, not %s", tc.f.Type, x.Kind, AudienceOf(x.Kind), x.To)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.f, got, tc.want)
		}
	}
	money := Notices(Fact{Type: "payment.refunded", CaseID: c, CaseNumber: n, PatientID: pat, Amount: 12050, Currency: "EUR"})[0].Params
	if money != (Params{CaseID: c, CaseNumber: n, Amount: 12050, Currency: "EUR"}) {
		t.Errorf("refund params %+v", money)
	}
	if d := Notices(Fact{Type: "assignment.deadline_approaching", CaseID: c, ProfessionalID: pro, Percent: 75})[0].Params; d.Percent != 75 {
		t.Errorf("deadline params %+v", d)
	}
}

// Every kind renders in every language, each part non-empty, a missing
// language falls back to English, and the link leads where it should.
func TestRenderEveryKind(t *testing.T) {
	p := Params{CaseID: "c1", CaseNumber: "EU-2026-AAAAAA", Percent: 75, Amount: 12050, Currency: "EUR", Ref: "r1", Code: "123456"}
	for _, lang := range append(slices.Clone(Languages), "fr") {
		for _, k := range Kinds() {
			m, err := Render(lang, k, "Ada", p, "https://app.example.org/")
			if err != nil {
				t.Fatalf("%s %s: %v", lang, k, err)
			}
			if m.Subject == "" || m.Body == "" || m.SMS == "" || !strings.Contains(m.HTML, m.Subject) ||
				!strings.HasPrefix(m.Text, map[vocab.Language]string{"de": "Hallo Ada,"}[lang]) {
				t.Errorf("%s %s: %+v", lang, k, m)
			}
			if strings.Contains(m.Text+m.HTML+m.SMS, "<no value>") {
				t.Errorf("%s %s uses a field it does not have", lang, k)
			}
			if AudienceOf(k) == User {
				if !strings.Contains(m.Text, "123456") || !strings.Contains(m.SMS, "123456") || m.Link != "" {
					t.Errorf("%s %s: the secret is missing, or a link is there: %+v", lang, k, m)
				}
			} else if !strings.HasPrefix(m.Link, "https://app.example.org/") || !strings.Contains(m.SMS, m.Link) {
				t.Errorf("%s %s: link %q, SMS %q", lang, k, m.Link, m.SMS)
			}
		}
	}
	en, _ := Render("en", OpinionReady, "", p, "https://app.example.org")
	fr, _ := Render("fr", OpinionReady, "", p, "https://app.example.org")
	de, _ := Render("de", OpinionReady, "", p, "https://app.example.org")
	if en != fr || en.Subject == de.Subject || !strings.HasPrefix(en.Text, "Hello,") || en.Link != "https://app.example.org/cases/c1" {
		t.Errorf("fallback: %+v / %+v / %+v", en, fr, de)
	}
	// The HTML escapes what it is given.
	x, _ := Render("en", PaymentReceived, "<script>", Params{CaseNumber: "<b>"}, "https://app.example.org")
	if strings.Contains(x.HTML, "<script>") || strings.Contains(x.HTML, "<b>") {
		t.Errorf("unescaped HTML: %s", x.HTML)
	}
}

func TestChoose(t *testing.T) {
	all := Prefs{Preferred: vocab.Email, Email: true, SMS: true, HasEmail: true, HasPhone: true}
	for _, tc := range []struct {
		p    Prefs
		want vocab.Channel
	}{
		{all, vocab.Email},
		{Prefs{Preferred: vocab.SMS, Email: true, SMS: true, HasEmail: true, HasPhone: true}, vocab.SMS},
		{Prefs{Preferred: vocab.SMS, Email: true, SMS: true, HasEmail: true}, vocab.Email}, // no phone
		{Prefs{Preferred: vocab.Email, SMS: true, HasEmail: true, HasPhone: true}, vocab.SMS},
		{Prefs{Preferred: vocab.Email, HasEmail: true, HasPhone: true}, ""},
		{Prefs{Email: true, SMS: true}, ""},
		{Prefs{Email: true, HasEmail: true}, vocab.Email}, // no preference: EMAIL first
	} {
		got, ok := Choose(tc.p)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%+v: %q %v, want %q", tc.p, got, ok, tc.want)
		}
	}
}

// Waits double from Base up to Max; past For from the start it is dead.
func TestRetry(t *testing.T) {
	r := Retry{Base: 30 * time.Second, Max: 30 * time.Minute, For: 24 * time.Hour}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for attempts, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 6: 16 * time.Minute,
		7: 30 * time.Minute, 40: 30 * time.Minute} {
		next, dead := r.After(attempts, start, start)
		if next.Sub(start) != want || dead {
			t.Errorf("attempt %d: next in %v (dead %v), want %v", attempts, next.Sub(start), dead, want)
		}
	}
	if _, dead := r.After(50, start, start.Add(23*time.Hour+29*time.Minute)); dead {
		t.Error("dead within the window")
	}
	if _, dead := r.After(50, start, start.Add(23*time.Hour+31*time.Minute)); !dead {
		t.Error("alive past the window")
	}
}

func TestLanguagesAndMoney(t *testing.T) {
	if Language("de") != "de" || Language("fr") != "en" || Language("") != "en" {
		t.Error("Language")
	}
	if FirstLanguage([]string{"fr", "de", "en"}) != "de" || FirstLanguage(nil) != "en" {
		t.Error("FirstLanguage")
	}
	if Money(12050, "EUR") != "EUR 120.50" || Money(-5, "USD") != "USD -0.05" || Money(0, "GBP") != "GBP 0.00" {
		t.Error(Money(12050, "EUR"), Money(-5, "USD"))
	}
	if k, ok := SecretKind("LOGIN"); !ok || k != SecretLogin {
		t.Error("SecretKind")
	}
	if _, ok := SecretKind("OTHER"); ok {
		t.Error("SecretKind of another purpose")
	}
}
