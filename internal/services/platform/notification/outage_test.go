package notification

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/events"
	"github.com/secondopinion/platform/internal/kit/config"
	"github.com/secondopinion/platform/internal/kit/service"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/notification/notifytest"
)

// With the production channels configured — an SMTP server with STARTTLS
// and AUTH, a Twilio-shaped SMS API — an outage of both loses nothing:
// the deliveries fail and wait, and once the providers are back every
// message arrives, once.
func TestProvidersOutageLosesNothing(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		smtp := notifytest.StartSMTP(t, notifytest.SMTPOptions{TLS: true, User: "mailer", Password: "pw"})
		sms := notifytest.StartTwilio(t)
		f := start(t, db, Config{SMTPURL: smtp.URL(), RootCAs: smtp.RootCAs(), MailFrom: "Second Opinion <no-reply@example.org>",
			SMSURL: sms.URL, SMSAccountSID: sms.SID, SMSAuthToken: sms.Token, SMSFrom: "+15005550006"})
		smtp.SetDown(true)
		sms.SetDown(true)
		caseA, _ := aCase(t, f, ada.ID, "en")
		caseB, _ := aCase(t, f, bob.ID, "en")
		for _, c := range []string{caseA, caseB} {
			emit(t, f, events.OpinionApprovedV1, c, events.OpinionApproved{CaseID: c, OpinionID: uuid.NewString(),
				ProfessionalID: grace.ID, AuthorLevel: "SENIOR", Timestamp: f.clock.Now()})
		}
		for range 3 {
			f.deliver(t)
			f.clock.advance(5 * time.Minute)
		}
		failed := f.deliveries(t, "FAILED")
		if len(failed) != 4 || len(smtp.Messages()) != 0 || len(sms.Messages()) != 0 {
			t.Fatalf("during the outage: %d failed, %d mails, %d SMS", len(failed), len(smtp.Messages()), len(sms.Messages()))
		}
		for _, d := range failed {
			if d.Attempts != 3 || strings.Contains(d.LastError, "example.org") || strings.Contains(d.LastError, "+49") {
				t.Errorf("failed delivery: %+v", d)
			}
		}
		smtp.SetDown(false)
		sms.SetDown(false)
		f.clock.advance(time.Hour)
		f.deliver(t)
		f.deliver(t)
		mails, texts := smtp.Messages(), sms.Messages()
		if len(mails) != 3 || len(texts) != 1 {
			t.Fatalf("after the outage: %d mails, %d SMS; want 3 and 1", len(mails), len(texts))
		}
		var to []string
		for _, m := range mails {
			if !m.TLS || m.AuthUser != "mailer" {
				t.Errorf("a mail went without TLS or AUTH: %+v", m)
			}
			to = append(to, m.To...)
		}
		slices.Sort(to)
		if !slices.Equal(to, []string{ada.Email, grace.Email, grace.Email}) || texts[0].To != bob.Phone ||
			!strings.Contains(texts[0].Body, "https://app.example.org/cases/"+caseB) || len(sms.Rejected()) != 0 {
			t.Errorf("to %v; SMS %+v; rejected %v", to, texts, sms.Rejected())
		}
		if got := f.deliveries(t, "SENT"); len(got) != 4 {
			t.Errorf("%d sent, want 4", len(got))
		}
	})
}

// The settings are read from their variables, and bad ones are named.
func TestConfig(t *testing.T) {
	env := map[string]string{
		"NOTIFICATION_SMTP_URL": "smtp://u:p@mail.example.org", "NOTIFICATION_ADMIN_EMAILS": "a@example.org, b@example.org",
		"NOTIFICATION_RETRY_FOR": "6h", "NOTIFICATION_SMS_URL": "https://api.twilio.com", "NOTIFICATION_SMS_ACCOUNT_SID": "AC1",
		"NOTIFICATION_SMS_AUTH_TOKEN": "tok",
	}
	get := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, err := Module.LoadConfig(get)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.(*Config)
	if c.RetryFor != 6*time.Hour || c.RetryBase != 30*time.Second || len(c.AdminEmails) != 2 || c.AppURL != "http://localhost:8080" ||
		c.MailFrom == "" || c.SMSFrom == "" {
		t.Errorf("config %+v", c)
	}
	var secrets []string
	for _, s := range config.Settings(c) {
		if s.Secret {
			secrets = append(secrets, s.Name)
		}
	}
	if !slices.Equal(secrets, []string{"NOTIFICATION_SMTP_URL", "NOTIFICATION_SMS_AUTH_TOKEN"}) {
		t.Errorf("secret settings: %v", secrets)
	}
	for k, v := range map[string]string{"NOTIFICATION_SMTP_URL": "http://x", "NOTIFICATION_ADMIN_EMAILS": "not an address",
		"NOTIFICATION_APP_URL": "ftp://x", "NOTIFICATION_RETRY_MAX_DELAY": "1s"} {
		old := env[k]
		env[k] = v
		cfg, err := Module.LoadConfig(get)
		if err == nil {
			err = cfg.(*Config).Validate()
		}
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
		env[k] = old
	}
	delete(env, "NOTIFICATION_SMS_AUTH_TOKEN")
	if _, err := Module.LoadConfig(get); err == nil || !strings.Contains(err.Error(), "NOTIFICATION_SMS_AUTH_TOKEN") {
		t.Errorf("SMS without a token: %v", err)
	}
}

// The module names what the binary needs, and its spec is the running
// service's.
func TestModule(t *testing.T) {
	m := Module
	if m.Name != "notification" || m.Domain != service.Platform || !slices.Equal(m.Requires, []string{"patient-identity", "professional-identity"}) ||
		!slices.Contains(m.Consumes, "assignment.case_offered") || !slices.Contains(m.Consumes, "event.dead_lettered") {
		t.Fatalf("module %+v", m)
	}
	f := start(t, testkit.OpenDB(t, sqldb.SQLite, Name), Config{})
	spec, running := m.Spec().Paths, f.svc.OpenAPI().Paths
	if len(spec) != 4 || len(running) != 4 {
		t.Errorf("paths: %d in the spec, %d running", len(spec), len(running))
	}
}

// Rebuild replays the routing read model from the journal: a case's
// patient, number, language and assignee come back, and no notice is
// written twice.
func TestRebuild(t *testing.T) {
	testkit.ForEachEngine(t, Name, func(t *testing.T, db *sqldb.DB) {
		f := start(t, db, Config{})
		caseA, number := aCase(t, f, ada.ID, "de")
		emit(t, f, events.CaseAssignedV1, caseA, events.CaseAssigned{CaseID: caseA, ProfessionalID: grace.ID,
			AssignmentID: uuid.NewString(), Deadline: f.clock.Now().Add(time.Hour), Timestamp: f.clock.Now()})
		before := len(f.notices(t, "patient-a"))
		if _, err := db.ExecContext(context.Background(), `UPDATE notification_cases SET patient_id = '', language = ''`); err != nil {
			t.Fatal(err)
		}
		var reported int64
		if err := Rebuild(context.Background(), db, func(done, total int64) { reported = done }); err != nil {
			t.Fatal(err)
		}
		if reported == 0 {
			t.Error("no progress reported")
		}
		var c struct{ patient, number, lang, pro string }
		if err := db.QueryRow(`SELECT patient_id, case_number, language, professional_id FROM notification_cases WHERE case_id = $1`, caseA).
			Scan(&c.patient, &c.number, &c.lang, &c.pro); err != nil {
			t.Fatal(err)
		}
		if c.patient != ada.ID || c.number != number || c.lang != "de" || c.pro != grace.ID {
			t.Errorf("rebuilt %+v", c)
		}
		if after := len(f.notices(t, "patient-a")); after != before {
			t.Errorf("notices %d after the rebuild, %d before", after, before)
		}
	})
}
