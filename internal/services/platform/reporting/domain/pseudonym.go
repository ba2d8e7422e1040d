package domain

import (
	"crypto/sha256"

	"github.com/google/uuid"
)

// pseudonyms is the namespace of reporting's pseudonyms.
var pseudonyms = uuid.MustParse("6f1d3c1e-9a51-4c52-8f57-2f3b1a0e7d41")

// Pseudonym is what stands for an erased case (or patient) id in the
// facts and in the journal they are rebuilt from: a UUID of version 8
// made from the SHA-256 of the id. It is stable, so the facts of one case
// stay together and a rebuild gives the same figures; it cannot be turned
// back into the id (a random UUID) without knowing the id; and it is still
// a UUID, so the journal's events keep their form.
func Pseudonym(id string) string {
	return uuid.NewHash(sha256.New(), pseudonyms, []byte(id), 8).String()
}

// IsPseudonym reports whether id is already a pseudonym: the platform's
// own ids are random (version 4) or time-ordered (version 7) UUIDs, never
// version 8. An erasure replayed from a pseudonymised journal finds its
// id already replaced.
func IsPseudonym(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && u.Version() == 8
}
