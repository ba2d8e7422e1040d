package domain

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"testing/iotest"
)

func TestNewProNumber(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		n, err := NewProNumber("EU", rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !ValidProNumber(n) || !strings.HasPrefix(n, "PRO-EU-") {
			t.Fatalf("%q is not a pro number", n)
		}
		seen[n] = true
	}
	if len(seen) < 999 {
		t.Errorf("%d distinct numbers of 1000", len(seen))
	}
	// Bytes past the last full round of the alphabet (248..255) are
	// skipped: the first symbol comes from the byte after them.
	rnd := bytes.NewReader(append(bytes.Repeat([]byte{255}, 10), make([]byte, 22)...))
	if n, err := NewProNumber("USA", rnd); err != nil || n != "PRO-USA-222222" {
		t.Errorf("from zero bytes: %q, %v", n, err)
	}
	for _, r := range []string{"", "eu", "E", "EURO", "E1"} {
		if _, err := NewProNumber(r, rand.Reader); err == nil {
			t.Errorf("region %q accepted", r)
		}
	}
	if _, err := NewProNumber("EU", iotest.ErrReader(iotest.ErrTimeout)); err == nil {
		t.Error("a failing random source gave a number")
	}
}

func TestValidProNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"PRO-EU-7KQ2ZD": true, "PRO-USA-222222": true,
		"PRO-EU-7KQ2Z": false, "PRO-EU-7KQ2Z0": false, "PRO-EU-7kq2zd": false, "EU-7KQ2ZD": false, "PRO-EU-7KQ2ZDX": false,
	} {
		if ValidProNumber(s) != want {
			t.Errorf("ValidProNumber(%q) = %v", s, !want)
		}
	}
}
