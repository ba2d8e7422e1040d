package channel_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/notification/channel"
	"github.com/secondopinion/platform/internal/services/platform/notification/notifytest"
)

var email = channel.Email{RecipientID: "r1", To: []string{"ada@example.org", "ops@example.org"}, Subject: "Ihr Fall ist übernommen",
	Text: "Hallo Ada,\n\nein langer Text mit Umlauten: äöü ß, und eine Zeile, die länger ist als sechsundsiebzig Zeichen, damit sie umbrochen wird.\n",
	HTML: `<p>Hallo <b>Ada</b></p>`}

// The production mailer speaks SMTP with STARTTLS and AUTH PLAIN to a
// server that requires both, and the message arrives whole: subject,
// text and HTML alternative, every recipient.
func TestSMTPWithTLSAndAuth(t *testing.T) {
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{TLS: true, User: "mailer", Password: "s3cret pass"})
	m, err := channel.NewSMTP(srv.URL(), "Second Opinion <no-reply@example.org>", srv.RootCAs())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SendEmail(context.Background(), email); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	g := got[0]
	if !g.TLS || g.AuthUser != "mailer" || g.From != "no-reply@example.org" || strings.Join(g.To, ",") != "ada@example.org,ops@example.org" {
		t.Errorf("envelope: tls %v auth %q from %q to %v", g.TLS, g.AuthUser, g.From, g.To)
	}
	if g.Subject != email.Subject || g.Text != email.Text || g.HTML != email.HTML {
		t.Errorf("content: %q / %q / %q", g.Subject, g.Text, g.HTML)
	}
	if !strings.Contains(string(g.Raw), "From: Second Opinion <no-reply@example.org>\r\n") || strings.Contains(string(g.Raw), "r1") {
		t.Errorf("headers:\n%s", g.Raw)
	}

	// A wrong password is refused.
	bad, _ := channel.NewSMTP(strings.Replace(srv.URL(), "s3cret", "wrong", 1), "x@example.org", srv.RootCAs())
	if err := bad.SendEmail(context.Background(), email); err == nil || !strings.Contains(err.Error(), "auth") {
		t.Errorf("wrong password: %v", err)
	}
	// An untrusted certificate is refused.
	untrusted, _ := channel.NewSMTP(srv.URL(), "x@example.org", nil)
	if err := untrusted.SendEmail(context.Background(), email); err == nil || !strings.Contains(err.Error(), "starttls") {
		t.Errorf("untrusted certificate: %v", err)
	}
}

// Without STARTTLS on offer, mail without credentials goes in clear
// (a relay on the local network); credentials are never sent in clear.
func TestSMTPWithoutTLS(t *testing.T) {
	srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{})
	m, err := channel.NewSMTP(srv.URL(), "no-reply@example.org", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SendEmail(context.Background(), channel.Email{To: []string{"a@example.org"}, Subject: "s", Text: "plain only"}); err != nil {
		t.Fatal(err)
	}
	if got := srv.Messages(); len(got) != 1 || got[0].TLS || got[0].Text != "plain only\n" || got[0].HTML != "" {
		t.Fatalf("messages: %+v", got)
	}
	withCreds, _ := channel.NewSMTP("smtp://user:pass@"+srv.Addr, "no-reply@example.org", nil)
	if err := withCreds.SendEmail(context.Background(), email); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("credentials without TLS: %v", err)
	}
	srv.SetDown(true)
	if err := m.SendEmail(context.Background(), email); err == nil || errors.Is(err, channel.ErrRefused) {
		t.Errorf("a server refusing sessions: %v, want an error worth retrying", err)
	}
	refusing, _ := channel.NewSMTP("smtp://"+testkit.RefusingAddr(t), "no-reply@example.org", nil)
	if err := refusing.SendEmail(context.Background(), email); err == nil || strings.Contains(err.Error(), "ada@") {
		t.Errorf("refused connection: %v", err)
	}
}

// A refusal names its code and never the address the server quoted: the
// error is kept in the delivery's record and logged.
func TestSMTPRefusalsKeepNoAddress(t *testing.T) {
	for name, atData := range map[string]bool{"at RCPT": false, "at the end of DATA": true} {
		srv := notifytest.StartSMTP(t, notifytest.SMTPOptions{Unknown: []string{"ada@example.org"}, RefuseAtData: atData})
		m, err := channel.NewSMTP(srv.URL(), "no-reply@example.org", nil)
		if err != nil {
			t.Fatal(err)
		}
		err = m.SendEmail(context.Background(), channel.Email{To: []string{"ada@example.org"}, Subject: "s", Text: "t"})
		if !errors.Is(err, channel.ErrRefused) || strings.Contains(err.Error(), "ada") || !strings.Contains(err.Error(), "550") {
			t.Errorf("%s: %v", name, err)
		}
		if got := srv.Messages(); len(got) != 0 {
			t.Errorf("%s: the refused message was kept: %+v", name, got)
		}
	}
}

func TestSMTPURLs(t *testing.T) {
	for url, ok := range map[string]bool{"smtp://mail.example.org": true, "smtps://u:p@mail.example.org:2465": true,
		"http://mail.example.org": false, "smtp://": false, "::": false} {
		if _, err := channel.NewSMTP(url, "x@example.org", nil); (err == nil) != ok {
			t.Errorf("%q: %v", url, err)
		}
	}
	if _, err := channel.NewSMTP("smtp://mail.example.org", "not an address", nil); err == nil {
		t.Error("a bad sender is accepted")
	}
}

// The SMS client sends Twilio's request shape, which the fake checks, and
// a provider error names its status and code, not the number.
func TestTwilio(t *testing.T) {
	fake := notifytest.StartTwilio(t)
	c, err := channel.NewTwilio(fake.URL, fake.SID, fake.Token, "+15005550006", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendSMS(context.Background(), channel.SMS{To: "+4915112345678", Body: "Ihr Code: 123456 & mehr"}); err != nil {
		t.Fatal(err)
	}
	if got := fake.Messages(); len(got) != 1 || got[0] != (notifytest.Text{To: "+4915112345678", From: "+15005550006", Body: "Ihr Code: 123456 & mehr"}) {
		t.Fatalf("messages: %+v", got)
	}
	wrong, _ := channel.NewTwilio(fake.URL, fake.SID, "not the token", "+15005550006", nil)
	err = wrong.SendSMS(context.Background(), channel.SMS{To: "+4915112345678", Body: "x"})
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "4915112345678") ||
		errors.Is(err, channel.ErrRefused) {
		t.Errorf("wrong token: %v", err)
	}
	// A number the provider refuses is refused for good.
	err = c.SendSMS(context.Background(), channel.SMS{To: "004915112345678", Body: "x"})
	if !errors.Is(err, channel.ErrRefused) || strings.Contains(err.Error(), "4915112345678") {
		t.Errorf("a number that is not E.164: %v", err)
	}
	if r := fake.Rejected(); len(r) != 2 || r[0] != "basic auth" || r[1] != "To is not E.164" {
		t.Errorf("rejected: %v", r)
	}
	fake.SetDown(true)
	if err := c.SendSMS(context.Background(), channel.SMS{To: "+4915112345678", Body: "x"}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("provider down: %v", err)
	}
	if _, err := channel.NewTwilio("ftp://x", "a", "b", "c", http.DefaultClient); err == nil {
		t.Error("a non-http base is accepted")
	}
}

// The folders keep each message as a file named by its recipient, which
// Forget deletes, and only theirs.
func TestFoldersAndForget(t *testing.T) {
	dir := t.TempDir()
	now := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	box := channel.Mailbox{Dir: filepath.Join(dir, "mailbox"), From: "Second Opinion <no-reply@example.org>", Now: now}
	sms := channel.SMSFolder{Dir: filepath.Join(dir, "sms"), From: "+15005550006", Now: now}
	for _, r := range []string{"r1", "r2"} {
		e := email
		e.RecipientID = r
		if err := box.SendEmail(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		if err := sms.SendSMS(context.Background(), channel.SMS{RecipientID: r, To: "+49151", Body: "code 123456"}); err != nil {
			t.Fatal(err)
		}
	}
	mail, _ := filepath.Glob(filepath.Join(dir, "mailbox", "*-r1-*.eml"))
	b, err := os.ReadFile(mail[0])
	if err != nil || !strings.Contains(string(b), "To: ada@example.org, ops@example.org\r\n") || !strings.Contains(string(b), "MIME-Version: 1.0") {
		t.Fatalf("eml: %s %v", b, err)
	}
	if st, _ := os.Stat(mail[0]); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	texts, _ := filepath.Glob(filepath.Join(dir, "sms", "*-r1-*.txt"))
	if b, _ := os.ReadFile(texts[0]); !strings.Contains(string(b), "To: +49151\r\n") || !strings.HasSuffix(string(b), "\r\n\r\ncode 123456\r\n") {
		t.Errorf("sms file: %q", b)
	}
	if err := channel.Forget("r1", filepath.Join(dir, "mailbox"), filepath.Join(dir, "sms"), filepath.Join(dir, "absent")); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
	if len(left) != 2 || strings.Contains(strings.Join(left, " "), "-r1-") {
		t.Errorf("left: %v", left)
	}
}
