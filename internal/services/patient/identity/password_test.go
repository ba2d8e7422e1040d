package identity

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswordHash(t *testing.T) {
	long := strings.Repeat("ä", 128) // 256 bytes: beyond bcrypt's 72
	h, err := hashPassword(long, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h, long) || bcrypt.CompareHashAndPassword([]byte(h), prehash(long)) != nil {
		t.Fatalf("hash %q does not verify under %s", h, passwordScheme)
	}
	// Passwords sharing their first 72 bytes must not verify each other.
	other := strings.Repeat("ä", 127) + "ö"
	if bcrypt.CompareHashAndPassword([]byte(h), prehash(other)) == nil {
		t.Fatal("a different long password verifies")
	}
}
