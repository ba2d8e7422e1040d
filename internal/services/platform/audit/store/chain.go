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

// The canonical forms an entry's hash is computed in. Each begins with a
// tag naming it, so that no entry of one form can have the hash of an
// entry of another: an entry verifies only in the form it was written in.
const (
	// Form1 hashes every field's value. Entries appended before form 2
	// keep it; a personal field of theirs can never change.
	Form1 = 1
	// Form2 hashes a digest of each personal field instead of its value,
	// so that an erasure can replace the value by its digest and the
	// entry keeps its hash. Every entry is appended in it.
	Form2 = 2
)

const (
	canonicalTagV1 = "secondopinion-audit-entry-v1"
	canonicalTagV2 = "secondopinion-audit-entry-v2"
	fieldTag       = "secondopinion-audit-field-v2"
)

// Field is a personal field of an entry, as a bit of Entry.Pseudonymised.
// The bits are stored: their values never change.
type Field int

const (
	Actor      Field = 1 << iota // 1
	ResourceID                   // 2
	PatientID                    // 4
	ClientAddr                   // 8
	UserAgent                    // 16

	// whereFrom are the fields that tell where an actor acted from. Their
	// digests are salted, and they are pseudonymised together.
	whereFrom = ClientAddr | UserAgent
)

// Fields are the personal fields, in the order of the canonical form.
var Fields = []Field{Actor, ResourceID, PatientID, ClientAddr, UserAgent}

var fieldNames = map[Field]string{Actor: "actor", ResourceID: "resourceId", PatientID: "patientId",
	ClientAddr: "clientAddr", UserAgent: "userAgent"}

// Name is the field's name in the API.
func (f Field) Name() string { return fieldNames[f] }

// personal points at e's personal fields, in the order of Fields.
func (e *Entry) personal() []*string {
	return []*string{&e.Actor, &e.ResourceID, &e.PatientID, &e.ClientAddr, &e.UserAgent}
}

// Pseudonym is what stands for an erased subject (a patient id) in the
// trail: the unsalted digest of the id. It is stable, so that the entries
// about one erased subject can still be found together, and it cannot be
// turned back into the id, a UUID, without knowing the id.
func Pseudonym(subject string) string { return digest("", subject) }

// digest is the hex SHA-256 of the field tag, the salt and the value, each
// length-prefixed as in the canonical form; "" for "". The identity fields
// (actor, resource id, patient id) are digested without salt, so that a
// subject has one pseudonym. The where-from fields are salted per entry:
// an address or a user agent is easily guessed, and the unsalted digest of
// an IPv4 address is reversed by trying all 2^32 of them. Their salt is
// dropped when they are pseudonymised, which leaves nothing to test a
// guess against.
func digest(salt, value string) string {
	if value == "" {
		return ""
	}
	return hashOf(fieldTag, salt, value)
}

// digestOf is what the canonical form 2 holds for e's field f of value
// v: v itself, the stored digest, once f is pseudonymised; the digest of
// v before.
func (e Entry) digestOf(f Field, v string) string {
	switch {
	case e.Pseudonymised&f != 0:
		return v
	case f&whereFrom != 0:
		return digest(e.Salt, v)
	}
	return digest("", v)
}

// pseudonymise replaces e's fields fs by their digests, which keeps e's
// hash. Once the where-from fields are pseudonymised their salt goes.
func (e Entry) pseudonymise(fs Field) Entry {
	if fs&whereFrom != 0 {
		fs |= whereFrom
	}
	for i, v := range e.personal() {
		if f := Fields[i]; fs&f != 0 && e.Pseudonymised&f == 0 {
			*v = e.digestOf(f, *v)
			e.Pseudonymised |= f
		}
	}
	if e.Pseudonymised&whereFrom != 0 {
		e.Salt = ""
	}
	return e
}

// erasedFields are the fields of e to pseudonymise, erased telling which
// ids are of erased subjects: those naming one, where the actor is one,
// where they acted from — their own address and user agent — and where
// the patient is one, the resource, which is theirs (a case, a record, an
// opinion): its id would tie the entries back together and to them.
func erasedFields(e Entry, erased func(id string) bool) Field {
	var fs Field
	if erased(e.Actor) {
		fs |= Actor | whereFrom
	}
	if erased(e.ResourceID) {
		fs |= ResourceID
	}
	if erased(e.PatientID) {
		fs |= PatientID | ResourceID
	}
	return fs
}

// ComputeHash returns the hex SHA-256 of the entry's canonical form, which
// is, in this order, the fields
//
//	tag, seq (decimal), id, at (RFC 3339 with nanoseconds, UTC), actor,
//	actorRole, action, resourceType, resourceId, patientId, purpose,
//	clientAddr, userAgent, requestId, outcome, sourceEventId, prevHash
//
// each written as its length in bytes (8 bytes, big-endian) followed by
// its UTF-8 bytes. Length prefixes make the form unambiguous: no choice of
// field values can shift bytes from one field into the next.
//
// Form 1 has the tag "secondopinion-audit-entry-v1" and every value as it
// is. Form 2 has the tag "secondopinion-audit-entry-v2" and, for each
// personal field (actor, resourceId, patientId, clientAddr, userAgent),
// its digest (see digest) instead of its value: the stored digest of a
// pseudonymised field, the digest of the value of any other. Neither the
// mask of pseudonymised fields nor the salt is hashed: a wrong bit or a
// changed salt changes what the form holds, and with it the hash. An
// entry of any other form has no hash.
func (e Entry) ComputeHash() string {
	var tag string
	var personal [5]string
	switch e.Form {
	case Form1:
		tag = canonicalTagV1
		for i, v := range e.personal() {
			personal[i] = *v
		}
	case Form2:
		tag = canonicalTagV2
		for i, v := range e.personal() {
			personal[i] = e.digestOf(Fields[i], *v)
		}
	default:
		return ""
	}
	return hashOf(tag, strconv.FormatInt(e.Seq, 10), e.ID, e.At.UTC().Format(time.RFC3339Nano),
		personal[0], e.ActorRole, e.Action, e.ResourceType, personal[1], personal[2], e.Purpose,
		personal[3], personal[4], e.RequestID, e.Outcome, e.SourceEventID, e.PrevHash)
}

// hashOf is the hex SHA-256 of the fields, each length-prefixed.
func hashOf(fields ...string) string {
	h := sha256.New()
	for _, f := range fields {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}
