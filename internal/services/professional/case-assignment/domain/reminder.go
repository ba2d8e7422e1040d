package domain

import "time"

// Reminders are the shares of an assignment's time, from its claim to its
// deadline, in percent and ascending, at which its professional is told
// that the deadline approaches (assignment.deadline_approaching).
var Reminders = []int{75, 90}

// reminderAt is when percent of the time from claimedAt to deadline has
// passed, rounded up to the nanosecond so that the reminder is never due
// before its share has fully passed.
func reminderAt(claimedAt, deadline time.Time, percent int) time.Time {
	part := deadline.Sub(claimedAt) * time.Duration(percent)
	return claimedAt.Add((part + 99) / 100)
}

// Reminder is the reminder due at now for an assignment claimed at
// claimedAt and due at deadline, whose professional was last told at the
// share told (0: never), or 0 when none is due. Only the highest share
// passed is due: when the sweep comes late and both have passed, the
// lower one would only say less urgently what the higher one says, so it
// is skipped for good. Once the deadline has passed none is due: the
// assignment expires instead.
func Reminder(claimedAt, deadline, now time.Time, told int) int {
	if !now.Before(deadline) {
		return 0
	}
	due := 0
	for _, p := range Reminders {
		if p > told && !now.Before(reminderAt(claimedAt, deadline, p)) {
			due = p
		}
	}
	return due
}

// NextReminder is when the first reminder above the share told falls for
// an assignment claimed at claimedAt and due at deadline; false when none
// is left.
func NextReminder(claimedAt, deadline time.Time, told int) (time.Time, bool) {
	for _, p := range Reminders {
		if p > told {
			return reminderAt(claimedAt, deadline, p), true
		}
	}
	return time.Time{}, false
}
