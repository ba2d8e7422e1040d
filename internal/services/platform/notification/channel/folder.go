package channel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Mailbox is the embedded mode's Mailer: each email becomes one RFC 5322
// file (.eml) in Dir, which a person opens with any mail reader.
type Mailbox struct {
	Dir  string
	From string
	Now  func() time.Time
}

// SendEmail writes e as Dir/<time>-<recipient>-<random>.eml, readable by
// the owner only.
func (b Mailbox) SendEmail(_ context.Context, e Email) error {
	now := b.Now().UTC()
	msg, err := Compose(b.From, e, now)
	if err != nil {
		return fmt.Errorf("mailbox: %w", err)
	}
	return write(b.Dir, fileName(now, e.RecipientID, ".eml"), msg)
}

// SMSFolder is the embedded mode's Texter: each SMS becomes one text file
// in Dir, headed by From, To and Date.
type SMSFolder struct {
	Dir  string
	From string
	Now  func() time.Time
}

// SendSMS writes m as Dir/<time>-<recipient>-<random>.txt.
func (f SMSFolder) SendSMS(_ context.Context, m SMS) error {
	now := f.Now().UTC()
	text := "From: " + f.From + "\r\nTo: " + m.To + "\r\nDate: " + now.Format(time.RFC1123Z) + "\r\n\r\n" +
		strings.ReplaceAll(m.Body, "\n", "\r\n") + "\r\n"
	return write(f.Dir, fileName(now, m.RecipientID, ".txt"), []byte(text))
}

// fileName sorts by time and names the recipient, by whom Forget finds
// the file.
func fileName(now time.Time, recipient, ext string) string {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	if recipient == "" {
		recipient = "unknown"
	}
	return now.Format("20060102T150405.000000000Z") + "-" + recipient + "-" + hex.EncodeToString(rnd[:]) + ext
}

func write(dir, name string, b []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("folder: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		return fmt.Errorf("folder: %w", err)
	}
	return nil
}

// Forget deletes the messages to recipient from the folders dirs: they
// keep what in production would have left for the person's inbox, and
// nothing of an erased person may stay in DATA_DIR.
func Forget(recipient string, dirs ...string) error {
	if recipient == "" {
		return nil
	}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("folder: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.Contains(e.Name(), "-"+recipient+"-") {
				continue
			}
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("folder: %w", err)
			}
		}
	}
	return nil
}
