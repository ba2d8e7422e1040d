package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Message is one email or SMS to a user. It carries the secret (a code, a
// reset token), so it goes to the Mailer and never into an event or a log.
type Message struct {
	Channel string // EMAIL or SMS
	To      string // email address or E.164 phone number
	Subject string
	Text    string
}

// Mailer delivers messages to users.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// Mailbox is the embedded mode's Mailer: each message becomes one RFC 5322
// file (.eml) in a folder that a person can open with any mail reader.
// SMS are written the same way, addressed to the number at sms.invalid.
type Mailbox struct {
	Dir  string
	From string
	Now  func() time.Time
}

// Send writes m as Dir/<time>-<random>.eml, readable by the owner only.
func (b Mailbox) Send(_ context.Context, m Message) error {
	if err := os.MkdirAll(b.Dir, 0o700); err != nil {
		return fmt.Errorf("mailbox: %w", err)
	}
	now := b.Now().UTC()
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("mailbox: %w", err)
	}
	id := hex.EncodeToString(rnd[:])
	to := m.To
	if m.Channel == "SMS" {
		to = strings.TrimPrefix(m.To, "+") + "@sms.invalid"
	}
	var sb strings.Builder
	for _, h := range [][2]string{
		{"From", b.From},
		{"To", to},
		{"Subject", mime.QEncoding.Encode("utf-8", m.Subject)},
		{"Date", now.Format(time.RFC1123Z)},
		{"Message-ID", "<" + id + "@secondopinion.local>"},
		{"MIME-Version", "1.0"},
		{"Content-Type", `text/plain; charset="utf-8"`},
		{"Content-Transfer-Encoding", "8bit"},
	} {
		sb.WriteString(h[0] + ": " + h[1] + "\r\n")
	}
	sb.WriteString("\r\n")
	sb.WriteString(strings.ReplaceAll(strings.TrimRight(m.Text, "\n"), "\n", "\r\n") + "\r\n")
	name := filepath.Join(b.Dir, now.Format("20060102T150405.000000000Z")+"-"+id+".eml")
	if err := os.WriteFile(name, []byte(sb.String()), 0o600); err != nil {
		return fmt.Errorf("mailbox: %w", err)
	}
	return nil
}

// Forget deletes the messages to a user who was erased, by their email
// and phone: the folder keeps what in production would have left for the
// user's inbox, and nothing of an erased user may stay in DATA_DIR.
func (b Mailbox) Forget(email, phone string) error {
	to := map[string]bool{strings.ToLower(email): email != ""}
	if phone != "" {
		to[strings.TrimPrefix(phone, "+")+"@sms.invalid"] = true
	}
	entries, err := os.ReadDir(b.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mailbox: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".eml") {
			continue
		}
		name := filepath.Join(b.Dir, e.Name())
		raw, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("mailbox: %w", err)
		}
		head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
		for _, line := range strings.Split(head, "\r\n") {
			if addr, ok := strings.CutPrefix(line, "To: "); ok && to[strings.ToLower(addr)] {
				if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("mailbox: %w", err)
				}
			}
		}
	}
	return nil
}
