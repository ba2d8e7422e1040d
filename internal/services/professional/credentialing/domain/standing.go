package domain

import "time"

// StandingStatus is a professional's standing.
type StandingStatus string

const (
	// StandingPending: never verified yet.
	StandingPending StandingStatus = "PENDING"
	// StandingVerified: at least one verified, unexpired licence.
	StandingVerified StandingStatus = "VERIFIED"
	// StandingSuspended: was verified and holds no valid licence any more.
	StandingSuspended StandingStatus = "SUSPENDED"
)

// StandingStatuses lists every standing.
var StandingStatuses = []StandingStatus{StandingPending, StandingVerified, StandingSuspended}

// Values lists every standing, for the API's enum.
func (StandingStatus) Values() []string { return values(StandingStatuses) }

// SuspendedReason is the reason published when a professional is
// suspended: a standing drops only when licences expire, since a verified
// credential is never reviewed again.
const SuspendedReason = "licence expired"

// Credential is what the standing rule reads of a credential.
type Credential struct {
	Status    CredentialStatus
	ExpiresAt time.Time
}

// Standing is a professional's standing at a moment.
type Standing struct {
	Status StandingStatus
	// ValidUntil is the latest expiry of the valid licences; zero when
	// there is none.
	ValidUntil time.Time
}

// StandingOf applies the standing rule at now: VERIFIED with at least one
// VERIFIED credential expiring after now; otherwise SUSPENDED for a
// professional who was verified (or already suspended), PENDING for one
// who never was.
func StandingOf(prev StandingStatus, creds []Credential, now time.Time) Standing {
	var st Standing
	for _, c := range creds {
		if c.Status == Verified && c.ExpiresAt.After(now) && c.ExpiresAt.After(st.ValidUntil) {
			st.ValidUntil = c.ExpiresAt
		}
	}
	switch {
	case !st.ValidUntil.IsZero():
		st.Status = StandingVerified
	case prev == StandingVerified || prev == StandingSuspended:
		st.Status = StandingSuspended
	default:
		st.Status = StandingPending
	}
	return st
}

// The events a change of standing publishes.
const (
	EventVerified  = "professional.verified"
	EventSuspended = "professional.suspended"
)

// Event is the event type a change of standing from prev to next
// publishes, or "" when none does.
func Event(prev, next StandingStatus) string {
	switch {
	case prev == next:
		return ""
	case next == StandingVerified:
		return EventVerified
	case prev == StandingVerified:
		return EventSuspended
	}
	return ""
}
