package domain

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Claims are what a quote token binds: the quote, its case and patient,
// what it charges and until when. The stored quote stays the authority;
// the token proves that pricing issued it for that case and patient.
type Claims struct {
	QuoteID   string
	CaseID    string
	PatientID string
	Total     int64
	Currency  string
	ExpiresAt time.Time // whole seconds, UTC
}

// payload is the token's canonical form: fixed field order, short names,
// the expiry in Unix seconds. V is the version of the form.
type payload struct {
	V         int    `json:"v"`
	QuoteID   string `json:"q"`
	CaseID    string `json:"c"`
	PatientID string `json:"p"`
	Total     int64  `json:"t"`
	Currency  string `json:"u"`
	Expires   int64  `json:"e"`
}

const tokenVersion = 1

// macContext separates these MACs from any other made with the key.
const macContext = "secondopinion pricing quote\x00"

// ErrToken is a token that pricing did not issue, or that was altered.
var ErrToken = errors.New("not a quote token issued by pricing")

// MinKeySize is the shortest signing key accepted, in bytes.
const MinKeySize = 32

// Sign is the token of c: base64url(canonical payload) "."
// base64url(HMAC-SHA256(key, payload)), unpadded.
func Sign(key []byte, c Claims) string {
	b, _ := json.Marshal(payload{V: tokenVersion, QuoteID: c.QuoteID, CaseID: c.CaseID, PatientID: c.PatientID,
		Total: c.Total, Currency: c.Currency, Expires: c.ExpiresAt.Unix()})
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + base64.RawURLEncoding.EncodeToString(mac(key, body))
}

func mac(key []byte, body string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(macContext))
	m.Write([]byte(body))
	return m.Sum(nil)
}

// Verify checks token's signature, in constant time, before reading
// anything of it, and returns its claims. Expiry is the caller's to
// check, against the stored quote.
func Verify(key []byte, token string) (Claims, error) {
	body, sig, ok := strings.Cut(token, ".")
	if !ok || body == "" || strings.Contains(sig, ".") {
		return Claims{}, ErrToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, body)) {
		return Claims{}, ErrToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return Claims{}, ErrToken
	}
	var p payload
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || p.V != tokenVersion || p.QuoteID == "" {
		return Claims{}, ErrToken
	}
	return Claims{QuoteID: p.QuoteID, CaseID: p.CaseID, PatientID: p.PatientID, Total: p.Total, Currency: p.Currency,
		ExpiresAt: time.Unix(p.Expires, 0).UTC()}, nil
}
