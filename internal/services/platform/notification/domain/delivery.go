package domain

import (
	"time"

	"github.com/secondopinion/platform/api/vocab"
)

// Prefs are a patient's notification settings as patient-identity holds
// them, and which addresses they have.
type Prefs struct {
	Preferred          vocab.Channel
	Email, SMS         bool // emailNotifications, smsNotifications
	HasEmail, HasPhone bool
}

// Choose is the channel a patient is told on: the preferred one when
// they allow it and have its address, else the other one on the same
// terms; false when they allow none (the in-app notice is all they get).
func Choose(p Prefs) (vocab.Channel, bool) {
	ok := func(c vocab.Channel) bool {
		switch c {
		case vocab.Email:
			return p.Email && p.HasEmail
		case vocab.SMS:
			return p.SMS && p.HasPhone
		}
		return false
	}
	order := []vocab.Channel{vocab.Email, vocab.SMS}
	if p.Preferred == vocab.SMS {
		order = []vocab.Channel{vocab.SMS, vocab.Email}
	}
	for _, c := range order {
		if ok(c) {
			return c, true
		}
	}
	return "", false
}

// Delivery statuses.
const (
	Queued = "QUEUED" // waiting for its first attempt
	Failed = "FAILED" // an attempt failed; another is scheduled
	Sent   = "SENT"
	Dead   = "DEAD" // retried for Retry.For and given up: an admin may replay it
	// Skipped is a delivery with nobody to send to: the recipient allows
	// no channel, or no longer exists (erased).
	Skipped = "SKIPPED"
)

// Statuses lists every status.
var Statuses = []string{Queued, Failed, Sent, Dead, Skipped}

// Retry is the schedule of a failed delivery: the first retry after
// Base, each next one twice as late up to Max apart, for For since the
// delivery was queued (or replayed); then it is dead.
type Retry struct {
	Base, Max, For time.Duration
}

// After says when a delivery that has now failed its attempts-th attempt
// (1 for the first) is tried again, counting from start (when it was
// queued or replayed); dead when that would be later than start+For.
func (r Retry) After(attempts int, start, now time.Time) (next time.Time, dead bool) {
	d := r.Base
	for i := 1; i < attempts && d < r.Max; i++ {
		d *= 2
	}
	d = min(d, r.Max)
	next = now.Add(d)
	return next, next.After(start.Add(r.For))
}
