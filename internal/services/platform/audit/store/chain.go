package store

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"time"
)

// Genesis is the prev_hash of the first entry.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// canonicalTag names the version of the canonical form, so that a future
// form can never produce the hash of an old one.
const canonicalTag = "secondopinion-audit-entry-v1"

// ComputeHash returns the hex SHA-256 of the entry's canonical form, which
// is, in this order, the fields
//
//	tag "secondopinion-audit-entry-v1", seq (decimal), id, at (RFC 3339
//	with nanoseconds, UTC), actor, actorRole, action, resourceType,
//	resourceId, patientId, purpose, clientAddr, userAgent, requestId,
//	outcome, sourceEventId, prevHash
//
// each written as its length in bytes (8 bytes, big-endian) followed by
// its UTF-8 bytes. Length prefixes make the form unambiguous: no choice of
// field values can shift bytes from one field into the next.
func (e Entry) ComputeHash() string {
	h := sha256.New()
	for _, f := range []string{
		canonicalTag, strconv.FormatInt(e.Seq, 10), e.ID, e.At.UTC().Format(time.RFC3339Nano),
		e.Actor, e.ActorRole, e.Action, e.ResourceType, e.ResourceID, e.PatientID, e.Purpose,
		e.ClientAddr, e.UserAgent, e.RequestID, e.Outcome, e.SourceEventID, e.PrevHash,
	} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}
