package channel

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"time"
)

// SMTP sends email through an SMTP server, one connection per message
// (notices are few; a pool would hold connections servers time out).
type SMTP struct {
	addr, host string
	implicit   bool // smtps: TLS from the first byte
	user, pass string
	from       string // the From header
	sender     string // the envelope's MAIL FROM
	roots      *x509.CertPool
	timeout    time.Duration
}

// smtpTimeout bounds one message's conversation.
const smtpTimeout = 30 * time.Second

// NewSMTP sends through the server at rawURL as from. The URL is
// smtp://[user:password@]host[:port] (port 587 by default; STARTTLS
// whenever the server offers it, and required before credentials are
// sent), or smtps://… (port 465, TLS throughout). roots verifies the
// server's certificate; nil is the system's.
func NewSMTP(rawURL, from string, roots *x509.CertPool) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	m := &SMTP{host: u.Hostname(), from: from, roots: roots, timeout: smtpTimeout}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		if port == "" {
			port = "587"
		}
	case "smtps":
		m.implicit = true
		if port == "" {
			port = "465"
		}
	default:
		return nil, fmt.Errorf("scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if m.host == "" {
		return nil, errors.New("no host")
	}
	m.addr = net.JoinHostPort(m.host, port)
	if u.User != nil {
		m.user = u.User.Username()
		m.pass, _ = u.User.Password()
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("sender %q: %w", from, err)
	}
	m.sender = a.Address
	return m, nil
}

func (m *SMTP) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: m.host, RootCAs: m.roots, MinVersion: tls.VersionTLS12}
}

// SendEmail delivers e: it returns once the server accepted the message.
func (m *SMTP) SendEmail(ctx context.Context, e Email) error {
	msg, err := Compose(m.from, e, time.Now())
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: m.timeout}
	conn, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return fmt.Errorf("smtp %s: connect: %w", m.addr, err)
	}
	deadline := time.Now().Add(m.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	if m.implicit {
		conn = tls.Client(conn, m.tlsConfig())
	}
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp %s: greeting: %w", m.addr, err)
	}
	defer c.Close()
	if !m.implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(m.tlsConfig()); err != nil {
				return fmt.Errorf("smtp %s: starttls: %w", m.addr, err)
			}
		} else if m.user != "" {
			return fmt.Errorf("smtp %s: the server offers no STARTTLS: credentials are not sent in clear", m.addr)
		}
	}
	if m.user != "" {
		if err := c.Auth(smtp.PlainAuth("", m.user, m.pass, m.host)); err != nil {
			return fmt.Errorf("smtp %s: auth: %w", m.addr, reply(err))
		}
	}
	if err := c.Mail(m.sender); err != nil {
		return fmt.Errorf("smtp %s: mail from: %w", m.addr, reply(err))
	}
	for _, to := range e.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("smtp %s: a recipient was refused: %w", m.addr, refusal(err))
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: data: %w", m.addr, reply(err))
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp %s: data: %w", m.addr, reply(err))
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: message refused: %w", m.addr, refusal(err))
	}
	// The message is accepted; a failing QUIT does not undo that.
	_ = c.Quit()
	return nil
}

// refusal is reply, marked ErrRefused when the reply is permanent (5xx):
// a mailbox that does not exist, a message the server will never take.
func refusal(err error) error {
	var r *textproto.Error
	if errors.As(err, &r) && r.Code/100 == 5 {
		return fmt.Errorf("%w: the server replied %d", ErrRefused, r.Code)
	}
	return reply(err)
}

// reply keeps an SMTP server's reply code and drops its text: a server may
// quote the recipient's address there ("550 <ada@…> unknown"), and the
// error goes into the delivery's record and the log.
func reply(err error) error {
	var r *textproto.Error
	if errors.As(err, &r) {
		return fmt.Errorf("the server replied %d", r.Code)
	}
	return err
}
