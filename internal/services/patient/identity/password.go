package identity

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// passwordScheme names how a stored password hash was made, so that the
// login service taking the credentials over verifies it the same way:
// bcrypt of the base64 of the password's SHA-256.
const passwordScheme = "bcrypt-sha256"

// hashPassword hashes under passwordScheme. bcrypt reads at most 72 bytes
// and refuses longer input, yet passwords may have 128 characters (up to
// 512 bytes); the 44-byte digest keeps every byte of the password in play.
func hashPassword(password string, cost int) (string, error) {
	h, err := bcrypt.GenerateFromPassword(prehash(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

func prehash(password string) []byte {
	sum := sha256.Sum256([]byte(password))
	return []byte(base64.StdEncoding.EncodeToString(sum[:]))
}
