package domain

import (
	"fmt"
	"io"
	"regexp"

	"github.com/secondopinion/platform/api/vocab"
)

// alphabet has no 0/O, 1/I/L: a number read over the phone is unambiguous.
const alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

var (
	caseNumberPattern = regexp.MustCompile(`^[A-Z]{2,3}-\d{4}-[` + alphabet + `]{6}$`)
)

// ValidCaseNumber reports whether s has the form of a case number.
func ValidCaseNumber(s string) bool { return caseNumberPattern.MatchString(s) }

// NewCaseNumber returns REGION-YEAR-XXXXXX with six symbols drawn uniformly
// from alphabet using random bytes from rnd (crypto/rand.Reader in
// production).
func NewCaseNumber(region string, year int, rnd io.Reader) (string, error) {
	if !vocab.Region(region).Valid() {
		return "", fmt.Errorf("case number: region %q is not 2-3 upper-case letters", region)
	}
	// Bytes at or above the largest multiple of len(alphabet) are dropped,
	// so every symbol is equally likely (no modulo bias).
	limit := byte(256 / len(alphabet) * len(alphabet))
	seq := make([]byte, 0, 6)
	buf := make([]byte, 16)
	for len(seq) < cap(seq) {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return "", fmt.Errorf("case number: read random bytes: %w", err)
		}
		for _, b := range buf {
			if b < limit && len(seq) < cap(seq) {
				seq = append(seq, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return fmt.Sprintf("%s-%04d-%s", region, year, seq), nil
}
