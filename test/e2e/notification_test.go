package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/app"
	"github.com/secondopinion/platform/internal/app/apptest"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/notification/notifytest"
	"github.com/secondopinion/platform/internal/services/platform/reporting"
	"github.com/secondopinion/platform/internal/services/platform/search"
	"github.com/secondopinion/platform/test/journey"
)

// TestNotifications walks the journey with a real SMTP server and a
// Twilio-shaped SMS provider, and reads back what each party was told:
// a patient by email (and her sign-in code), a patient by SMS, the
// professional who takes the case on, and the admins. No message carries
// the case's title, question or opinion, or a name but the addressee's.
func TestNotifications(t *testing.T) {
	for _, e := range testkit.Engines(t) {
		t.Run(string(e), func(t *testing.T) {
			mail := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
			sms := notifytest.StartTwilio(t)
			const opsEmail = "ops@secondopinion.example"
			env := map[string]string{"DATA_DIR": t.TempDir(), "REGION": "EU", "SHUTDOWN_TIMEOUT": "20s",
				"ADMIN_EMAIL": adminEmail, "ADMIN_PASSWORD": adminPassword,
				"NOTIFICATION_SMTP_URL": mail.URL(), "NOTIFICATION_SMS_URL": sms.URL,
				"NOTIFICATION_SMS_ACCOUNT_SID": sms.SID, "NOTIFICATION_SMS_AUTH_TOKEN": sms.Token,
				"NOTIFICATION_ADMIN_EMAILS": opsEmail, "NOTIFICATION_POLL_INTERVAL": "100ms"}
			if e == sqldb.Postgres {
				env["DATABASE_URL"] = apptest.Database(t)
			}
			p := boot(t, env)
			j := p.j
			admin := j.Login(t, adminEmail, adminPassword)

			pro := j.RegisterProfessional(t) // Grace Neurologist
			j.Credential(t, admin, pro, "SENIOR")
			ada := registerNamed(t, j, "Ada", "Byron", "EMAIL", "")
			bea := registerNamed(t, j, "Beatrix", "Potter", "SMS", "+447700900123")

			// Ada signs in with a code the SMTP server receives.
			j.Do(t, ada.Token, http.MethodPost, "/api/v1/auth/2fa/method", map[string]string{"method": "EMAIL", "password": ada.Password}).
				Want(t, http.StatusNoContent)
			ada.Token = loginWithMailedCode(t, j, mail, ada)

			adaCase := j.OpenCase(t, ada, true)
			j.Approved(t, pro, adaCase)
			beaCase := j.OpenCase(t, bea, true)
			j.WaitAvailable(t, pro, beaCase)

			// Ada hears of every step by email, Beatrix by SMS.
			wantMail(t, mail, ada.Email, "Your case "+adaCase.Number+" was submitted", "Payment received for case "+adaCase.Number,
				"Your case "+adaCase.Number+" is ready for a specialist", "A specialist took on your case "+adaCase.Number,
				"Your second opinion is ready")
			wantMail(t, mail, pro.Email, "A new case matches your profile", "Your opinion on case "+adaCase.Number+" was approved")
			wantMail(t, mail, opsEmail, "A licence awaits review")
			journey.Eventually(t, "Beatrix's texts", func() (bool, string) {
				var got []string
				for _, m := range sms.Messages() {
					if m.To == "+447700900123" {
						got = append(got, m.Body)
					}
				}
				return len(got) >= 3 && containsAll(strings.Join(got, "\n"), beaCase.Number), strings.Join(got, "\n")
			})
			for _, m := range mail.Messages() {
				if slices.Contains(m.To, bea.Email) {
					t.Errorf("Beatrix chose SMS but got an email: %s", m.Subject)
				}
			}
			if r := sms.Rejected(); len(r) != 0 {
				t.Errorf("the SMS provider refused requests: %v", r)
			}

			// The same notices in the app, each to its own addressee.
			wantInApp(t, j, ada.Token, adaCase.ID, "case_submitted", "payment_received", "analysis_done", "case_claimed", "opinion_ready")
			wantInApp(t, j, pro.Token, adaCase.ID, "case_offered", "opinion_approved")
			wantInApp(t, j, admin, "", "credential_submitted")
			inApp := j.Do(t, ada.Token, http.MethodGet, "/api/v1/notifications?limit=100", nil).Want(t, http.StatusOK)
			first := inApp["items"].([]any)[0].(map[string]any)
			j.Do(t, bea.Token, http.MethodPost, "/api/v1/notifications/"+first["id"].(string)+"/read", nil).Want(t, http.StatusNotFound)
			read := j.Do(t, ada.Token, http.MethodPost, "/api/v1/notifications/"+first["id"].(string)+"/read", nil).Want(t, http.StatusOK)
			if read["readAt"] == nil {
				t.Errorf("marked read: %v", read)
			}

			// Minimal health data, and no one else's name.
			secret := []string{"Recurring migraines", "preventive treatment", "Migraine without aura", "G43", "beta blocker",
				journey.Draft["summary"].(string)}
			names := map[string][]string{ada.Email: {"Beatrix", "Potter", "Grace", "Neurologist"},
				pro.Email: {"Ada", "Byron", "Beatrix", "Potter"}, opsEmail: {"Ada", "Byron", "Beatrix", "Potter", "Grace", "Neurologist"}}
			for _, m := range mail.Messages() {
				all := m.Subject + "\n" + m.Text + "\n" + m.HTML
				for _, s := range secret {
					if strings.Contains(all, s) {
						t.Errorf("an email to %v carries %q:\n%s", m.To, s, all)
					}
				}
				for _, to := range m.To {
					for _, n := range names[to] {
						if strings.Contains(all, n) {
							t.Errorf("an email to %s names %q:\n%s", to, n, all)
						}
					}
				}
			}
			for _, m := range sms.Messages() {
				for _, s := range append(secret, "Ada", "Byron", "Grace", "Neurologist") {
					if strings.Contains(m.Body, s) {
						t.Errorf("an SMS carries %q: %s", s, m.Body)
					}
				}
			}

			// The read models, emptied and replayed from the history they
			// keep, answer as the live ones did.
			live := settledAnswers(t, j, admin, ada.Token, pro.Token)
			for target, rebuild := range map[string]func(context.Context, *sqldb.DB, func(int64, int64)) error{
				"search": search.Rebuild, "reporting": reporting.Rebuild} {
				db, err := app.OpenStore(t.Context(), p.cfg, target)
				if err != nil {
					t.Fatal(err)
				}
				if err := rebuild(t.Context(), db, nil); err != nil {
					t.Fatalf("rebuild %s: %v", target, err)
				}
				db.Close()
			}
			if rebuilt := readModelAnswers(t, j, admin, ada.Token, pro.Token); rebuilt != live {
				t.Errorf("rebuilt read models answer differently:\nlive:\n%s\nrebuilt:\n%s", live, rebuilt)
			}
		})
	}
}

// readModelAnswers is what search and reporting answer admins, a patient
// and a professional.
func readModelAnswers(t *testing.T, j journey.Platform, tokens ...string) string {
	t.Helper()
	day := time.Now().UTC().Truncate(24 * time.Hour)
	window := "from=" + day.AddDate(0, 0, -1).Format(time.DateOnly) + "&to=" + day.AddDate(0, 0, 2).Format(time.DateOnly)
	var b strings.Builder
	for _, token := range tokens {
		for _, q := range []string{"", "migraines"} {
			b.Write(j.Do(t, token, http.MethodGet, "/api/v1/search/cases?limit=100&q="+q, nil).Body)
			b.WriteString("\n")
		}
	}
	b.Write(j.Do(t, tokens[0], http.MethodGet, "/api/v1/reports/overview?"+window, nil).Body)
	return b.String()
}

// settledAnswers waits until the read models have caught up with the
// journey: their answers stayed the same for longer than search takes to
// fetch a case's text (SEARCH_TEXT_INTERVAL, 2 s).
func settledAnswers(t *testing.T, j journey.Platform, tokens ...string) string {
	t.Helper()
	var last string
	var since time.Time
	journey.Eventually(t, "the read models settle", func() (bool, string) {
		if now := readModelAnswers(t, j, tokens...); now != last {
			last, since = now, time.Now()
		}
		return time.Since(since) > 3*time.Second, ""
	})
	return last
}

// registerNamed registers a patient with their own name, preferring
// channel, who grants the consents the journey needs.
func registerNamed(t *testing.T, j journey.Platform, first, last, channel, phone string) journey.Account {
	t.Helper()
	a := journey.Account{Email: strings.ToLower(first) + "." + uuid.NewString()[:8] + "@example.org", Password: journey.Password}
	body := map[string]any{"firstName": first, "lastName": last, "dateOfBirth": "1980-01-02", "email": a.Email,
		"password": a.Password, "preferredChannel": channel}
	if phone != "" {
		body["phone"], body["smsNotifications"] = phone, true
	}
	a.ID = journey.Str(t, j.Do(t, "", http.MethodPost, "/api/v1/patients", body).Want(t, http.StatusCreated), "id")
	a.Token = j.Login(t, a.Email, a.Password)
	for _, purpose := range []string{"AI_PROCESSING", "SHARE_WITH_PROFESSIONALS"} {
		j.Grant(t, a, purpose)
	}
	return a
}

// loginWithMailedCode logs a in with the EMAIL code the SMTP server got.
func loginWithMailedCode(t *testing.T, j journey.Platform, mail *notifytest.SMTPServer, a journey.Account) string {
	t.Helper()
	m := j.Do(t, "", http.MethodPost, "/api/v1/auth/login", map[string]string{"email": a.Email, "password": a.Password}).
		Want(t, http.StatusOK)
	if m["method"] != "EMAIL" {
		t.Fatalf("login without the chosen second factor: %v", m)
	}
	var code string
	journey.Eventually(t, "the sign-in code by email", func() (bool, string) {
		for _, msg := range mail.Messages() {
			if slices.Contains(msg.To, a.Email) {
				if c := sixDigits.FindString(msg.Text); c != "" {
					code = c
				}
			}
		}
		return code != "", ""
	})
	m = j.Do(t, "", http.MethodPost, "/api/v1/auth/2fa/verify", map[string]string{"challengeId": journey.Str(t, m, "challengeId"), "code": code}).
		Want(t, http.StatusOK)
	return journey.Str(t, m, "accessToken")
}

// wantMail waits until to has received an email with each subject.
func wantMail(t *testing.T, mail *notifytest.SMTPServer, to string, subjects ...string) {
	t.Helper()
	journey.Eventually(t, "emails to "+to, func() (bool, string) {
		var got []string
		for _, m := range mail.Messages() {
			if slices.Contains(m.To, to) {
				got = append(got, m.Subject)
			}
		}
		for _, s := range subjects {
			if !slices.Contains(got, s) {
				return false, "missing " + s + " in " + strings.Join(got, " | ")
			}
		}
		return true, ""
	})
}

// wantInApp waits until the holder of token lists a notice of each kind
// (about caseID, when given), and lists nothing addressed elsewhere.
func wantInApp(t *testing.T, j journey.Platform, token, caseID string, kinds ...string) {
	t.Helper()
	journey.Eventually(t, "in-app notices "+strings.Join(kinds, ","), func() (bool, string) {
		r := j.Do(t, token, http.MethodGet, "/api/v1/notifications?limit=100", nil)
		var page struct {
			Items []struct{ Kind, CaseID string }
		}
		if r.Want(t, http.StatusOK); json.Unmarshal(r.Body, &page) != nil {
			return false, string(r.Body)
		}
		var got []string
		for _, n := range page.Items {
			if caseID == "" || n.CaseID == caseID {
				got = append(got, n.Kind)
			}
		}
		for _, k := range kinds {
			if !slices.Contains(got, k) {
				return false, "missing " + k + " in " + strings.Join(got, ",")
			}
		}
		return true, ""
	})
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
