// Package channel sends notification's messages: email over SMTP (SMTP),
// SMS through an HTTP provider with Twilio's request shape (Twilio), and,
// in the embedded mode, into folders a person can open (Mailbox for
// .eml files, SMSFolder for text files), which Forget empties of an
// erased person's messages.
//
// A sender's errors name the server and the stage that failed, never an
// address or a text: they end up in the delivery log.
package channel

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// ErrRefused marks a failure that retrying cannot mend: the provider
// refused this addressee or this message for good (an SMTP 5xx reply to
// the recipient or the message, the SMS provider's 400). The delivery is
// DEAD at once, for an admin to look at, instead of retrying for a day.
var ErrRefused = errors.New("refused for good")

// Email is one email.
type Email struct {
	// RecipientID is whose message it is (a user id, or "admin"): the
	// mailbox folder files it by it, so an erasure finds it. It is not
	// sent.
	RecipientID string
	To          []string
	Subject     string
	Text, HTML  string // HTML may be empty
}

// SMS is one text message.
type SMS struct {
	RecipientID string // as Email's
	To          string // E.164
	Body        string
}

// Mailer sends email.
type Mailer interface {
	SendEmail(ctx context.Context, e Email) error
}

// Texter sends SMS.
type Texter interface {
	SendSMS(ctx context.Context, m SMS) error
}

// Compose is e as an RFC 5322 message from from at now: a text part and,
// when e has one, an HTML alternative, each quoted-printable.
func Compose(from string, e Email, now time.Time) ([]byte, error) {
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	domain := "secondopinion.local"
	if a, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok {
			domain = d
		}
	}
	var b bytes.Buffer
	for _, h := range [][2]string{
		{"From", from},
		{"To", strings.Join(e.To, ", ")},
		{"Subject", mime.QEncoding.Encode("utf-8", e.Subject)},
		{"Date", now.UTC().Format(time.RFC1123Z)},
		{"Message-ID", "<" + hex.EncodeToString(rnd[:]) + "@" + domain + ">"},
		{"MIME-Version", "1.0"},
	} {
		b.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	if e.HTML == "" {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		if err := qp(&b, e.Text); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	w := multipart.NewWriter(&b)
	b.WriteString("Content-Type: multipart/alternative; boundary=" + w.Boundary() + "\r\n\r\n")
	for _, part := range []struct{ typ, body string }{{"text/plain", e.Text}, {"text/html", e.HTML}} {
		pw, err := w.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		if err := qp(pw, part.body); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// qp writes s quoted-printable with CRLF line ends.
func qp(w interface{ Write([]byte) (int, error) }, s string) error {
	q := quotedprintable.NewWriter(w)
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
	if _, err := q.Write([]byte(s)); err != nil {
		return err
	}
	if err := q.Close(); err != nil {
		return fmt.Errorf("encode message: %w", err)
	}
	return nil
}
