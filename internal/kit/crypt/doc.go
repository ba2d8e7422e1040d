// Package crypt encrypts objects at rest: envelope encryption with data
// keys wrapped by a key-management service, and a streaming authenticated
// format for large objects that decrypts any byte range on its own.
//
// It owns the key hierarchy below the master key and the ciphertext
// format; it knows nothing of what it encrypts nor where it is stored.
//
// # Keys
//
// A caller makes a data key per object (or per owner) with NewKey, stores
// it only wrapped by a Keeper, and unwraps it to read. The Keeper holds the
// master key: a local file, a key given in the configuration, or AWS KMS.
//
// # Format
//
// An object encrypted by NewWriter is a header followed by segments:
//
//	header   version (1 byte, = 1) | salt (32 bytes) | nonce prefix (7 bytes)
//	segment  AES-256-GCM(segment key, nonce, up to 64 KiB of plaintext) — ciphertext and 16-byte tag
//	nonce    nonce prefix (7) | segment index, big-endian (4) | 1 on the last segment, else 0 (1)
//
// The segment key is HKDF-SHA256(data key, salt, info = label | header):
// every object has a key of its own, so nonces never repeat under a key
// however many objects share a data key, and any change to the header
// changes the key. Every segment but the last holds exactly 64 KiB of
// plaintext; the last holds 1 to 64 KiB, or nothing for an empty object.
// A segment's index and last-flag are part of its nonce, so a segment
// that is tampered with, moved, taken from another object, or presented as
// the last when it was not (truncation at a segment boundary) fails to
// authenticate — the STREAM construction of Hoang, Reyhanitabar, Rogaway
// and Vizár, as in Tink's streaming AEAD and age.
//
// The sizes alone say where every segment lies (CipherSize, PlainSize),
// so NewReader fetches the header and just the segments covering the
// range asked for, and authenticates each before handing out its bytes.
//
// Integrity holds per object, not across objects: a whole object swapped
// for another encrypted under the same data key decrypts. Callers that
// share a data key between objects bind each object to its identity
// elsewhere (a SHA-256 kept in their database, say).
package crypt
