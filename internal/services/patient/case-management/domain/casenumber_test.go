package domain

import (
	"bytes"
	"crypto/rand"
	"errors"
	"regexp"
	"testing"
	"testing/iotest"
)

func TestNewCaseNumberFormat(t *testing.T) {
	pattern := regexp.MustCompile(`^EU-2026-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$`)
	seen := map[string]bool{}
	for range 200 {
		n, err := NewCaseNumber("EU", 2026, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !pattern.MatchString(n) || !ValidCaseNumber(n) {
			t.Fatalf("bad case number %q", n)
		}
		seen[n] = true
	}
	if len(seen) < 199 {
		t.Errorf("only %d distinct numbers in 200", len(seen))
	}
}

func TestNewCaseNumberRejectsBiasedBytes(t *testing.T) {
	// 248..255 lie above the last full multiple of 31 and must be skipped;
	// the rest map by remainder.
	src := append([]byte{255, 248, 0, 30, 31, 247, 249, 62, 1}, make([]byte, 7)...)
	n, err := NewCaseNumber("USA", 2031, bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := "USA-2031-2Z2Z23"; n != want {
		t.Errorf("got %s, want %s", n, want)
	}
}

func TestNewCaseNumberErrors(t *testing.T) {
	for _, region := range []string{"", "E", "eu", "EURO", "E1"} {
		if _, err := NewCaseNumber(region, 2026, rand.Reader); err == nil {
			t.Errorf("region %q accepted", region)
		}
	}
	boom := errors.New("boom")
	if _, err := NewCaseNumber("EU", 2026, iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("reader failure not reported: %v", err)
	}
}

func TestValidCaseNumber(t *testing.T) {
	for s, ok := range map[string]bool{
		"EU-2026-7KQ2ZD":  true,
		"USA-2026-7KQ2ZD": true,
		"EU-2026-7KQ2Z0":  false, // 0 is not in the alphabet
		"EU-2026-7KQ2Z":   false,
		"eu-2026-7KQ2ZD":  false,
		"EU-26-7KQ2ZD":    false,
	} {
		if ValidCaseNumber(s) != ok {
			t.Errorf("ValidCaseNumber(%q) = %v", s, !ok)
		}
	}
}
