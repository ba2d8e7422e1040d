package auth

import (
	"bufio"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// Password rules: long enough to resist guessing, short enough that hashing
// stays cheap for an attacker's 1 MiB body, and not a well-known password.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 128
)

// commonPasswords holds passwords of at least MinPasswordLen characters
// built from the patterns attackers try first (common words with years and
// digit runs, keyboard walks, repeated characters), lower case.
//
//go:embed common-passwords.txt
var commonPasswordsText string

var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsText))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			m[line] = true
		}
	}
	return m
}()

// CheckPassword applies the password rules. The error names the field but
// never echoes the password.
func CheckPassword(field, pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinPasswordLen:
		return fault.Invalid(field, "must have at least %d characters", MinPasswordLen)
	case n > MaxPasswordLen:
		return fault.Invalid(field, "must have at most %d characters", MaxPasswordLen)
	case commonPasswords[strings.ToLower(pw)]:
		return fault.Invalid(field, "is too common; choose another")
	}
	return nil
}

// Hash schemes: bcryptSHA256 is bcrypt of the base64 of the password's
// SHA-256, so every byte of a 128-character password counts (bcrypt alone
// reads 72 bytes); patient-identity stored the same scheme.
const (
	schemeBcrypt       = "bcrypt"
	schemeBcryptSHA256 = "bcrypt-sha256"
)

func hashPassword(pw string, cost int) (string, error) {
	h, err := bcrypt.GenerateFromPassword(prehash(pw), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

func prehash(pw string) []byte {
	sum := sha256.Sum256([]byte(pw))
	return []byte(base64.StdEncoding.EncodeToString(sum[:]))
}

// passwordMatches compares in constant time (bcrypt's own comparison).
func passwordMatches(hash, scheme, pw string) bool {
	in := prehash(pw)
	if scheme == schemeBcrypt {
		in = []byte(pw)
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), in) == nil
}
