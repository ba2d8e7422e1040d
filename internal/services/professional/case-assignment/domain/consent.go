package domain

import "time"

// Consent is what the pool knows of a patient's consent to share their
// cases with professionals (SHARE_WITH_PROFESSIONALS): whether it is in
// force, and which change of it said so. An open case whose patient's
// consent is not in force is held: kept, but offered to nobody, claimable
// by nobody and not escalated, until the consent is in force again. A
// case already claimed stays with its professional whatever the consent
// says: the patient was told so when they withdrew.
type Consent struct {
	Granted bool
	// Revision is patient-consent's count of the consent's changes, from
	// 1; 0 when the event carried none.
	Revision int
	At       time.Time // when the change was made
}

// Supersedes reports whether c is newer than old, the consent recorded
// (the zero Consent when none is). The events of one patient arrive in
// order, but a retried event may be handled after later ones, and the
// same event may come twice. The revisions decide when both have one:
// patient-consent's replicas may disagree on the time, never on the
// revision. Otherwise the later change wins, and a tie changes nothing.
func (c Consent) Supersedes(old Consent) bool {
	if c.Revision > 0 && old.Revision > 0 {
		return c.Revision > old.Revision
	}
	return c.At.After(old.At)
}

// Joins reports whether c, replacing old, brings the patient's held cases
// into the pool: the consent comes into force. Each held case then starts
// a new stay in the pool, as after a release: the time it was held is
// not time it waited for a professional, so it neither counts towards
// escalation nor keeps its place in the oldest-first list.
func (c Consent) Joins(old Consent) bool { return c.Granted && !old.Granted }
