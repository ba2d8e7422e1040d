// Package domain holds credentialing's pure rules: what a valid licence
// submission is, which review a credential's status allows, the starting
// level and the standing rule that decides whether a professional is
// verified. Nothing here reads a clock or a store: callers pass the time.
package domain

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

// CredentialStatus is where a credential is in its review.
type CredentialStatus string

const (
	Pending  CredentialStatus = "PENDING"
	Verified CredentialStatus = "VERIFIED"
	Rejected CredentialStatus = "REJECTED"
	Expired  CredentialStatus = "EXPIRED"
)

// CredentialStatuses lists every credential status.
var CredentialStatuses = []CredentialStatus{Pending, Verified, Rejected, Expired}

// Values lists every credential status, for the API's enum.
func (CredentialStatus) Values() []string { return values(CredentialStatuses) }

// StartingLevel is every professional's level until an admin changes it.
const StartingLevel = vocab.Junior

// NewCredential is a licence a professional submits.
type NewCredential struct {
	ProfessionalID   string
	LicenseNumber    string
	IssuingAuthority string
	Country          string
	Specialty        vocab.Specialty
	ExpiresAt        time.Time
}

// Validate returns n trimmed, with its expiry in UTC, or the first field
// at fault; an expiry must lie after now.
func (n NewCredential) Validate(now time.Time) (NewCredential, error) {
	n.LicenseNumber = strings.TrimSpace(n.LicenseNumber)
	n.IssuingAuthority = strings.TrimSpace(n.IssuingAuthority)
	n.ExpiresAt = n.ExpiresAt.UTC()
	id, err := uuid.Parse(n.ProfessionalID)
	if err != nil {
		return n, fault.NotFound("professional")
	}
	n.ProfessionalID = id.String()
	if l := utf8.RuneCountInString(n.LicenseNumber); l < 1 || l > 64 {
		return n, fault.Invalid("licenseNumber", "must be 1 to 64 characters")
	}
	if l := utf8.RuneCountInString(n.IssuingAuthority); l < 2 || l > 200 {
		return n, fault.Invalid("issuingAuthority", "must be 2 to 200 characters")
	}
	if !ValidCountry(n.Country) {
		return n, fault.Invalid("country", "must be an ISO 3166-1 alpha-2 code in upper case")
	}
	if !n.Specialty.Valid() {
		return n, fault.Invalid("specialty", "must be one of %s", strings.Join(n.Specialty.Values(), ", "))
	}
	if !n.ExpiresAt.After(now) {
		return n, fault.Invalid("expiresAt", "must be in the future")
	}
	return n, nil
}

// Review is an admin's decision on a credential.
type Review string

const (
	Verify Review = "verify"
	Reject Review = "reject"
)

// Decide returns the status a review moves a credential to: only a
// PENDING credential is reviewed, and only an unexpired one verified.
func Decide(r Review, status CredentialStatus, expiresAt, now time.Time) (CredentialStatus, error) {
	if status != Pending {
		return "", fault.Conflict("Credential already reviewed", "the credential is "+string(status)+", not PENDING")
	}
	if r == Reject {
		return Rejected, nil
	}
	if !expiresAt.After(now) {
		return "", fault.Conflict("Credential expired", "an expired credential cannot be verified")
	}
	return Verified, nil
}

func values[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
