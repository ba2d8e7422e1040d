package domain

import (
	"fmt"
	"io"
	"regexp"

	"github.com/secondopinion/platform/api/vocab"
)

// alphabet is the case numbers' alphabet: no 0/O, 1/I/L, so a pro number
// read over the phone is unambiguous.
const alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

var proNumberPattern = regexp.MustCompile(`^PRO-[A-Z]{2,3}-[` + alphabet + `]{6}$`)

// ValidProNumber reports whether s has the form of a pro number.
func ValidProNumber(s string) bool { return proNumberPattern.MatchString(s) }

// NewProNumber returns PRO-REGION-XXXXXX with six symbols drawn uniformly
// from alphabet using random bytes from rnd (crypto/rand.Reader in
// production), as case numbers are drawn.
func NewProNumber(region string, rnd io.Reader) (string, error) {
	if !vocab.Region(region).Valid() {
		return "", fmt.Errorf("pro number: region %q is not 2-3 upper-case letters", region)
	}
	// Bytes at or above the largest multiple of len(alphabet) are dropped,
	// so every symbol is equally likely (no modulo bias).
	limit := byte(256 / len(alphabet) * len(alphabet))
	seq := make([]byte, 0, 6)
	buf := make([]byte, 16)
	for len(seq) < cap(seq) {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return "", fmt.Errorf("pro number: read random bytes: %w", err)
		}
		for _, b := range buf {
			if b < limit && len(seq) < cap(seq) {
				seq = append(seq, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return fmt.Sprintf("PRO-%s-%s", region, seq), nil
}
