package domain

import (
	"fmt"
	"time"
)

// AgeBand is the de-identified age of a patient born on dob, at time at:
// decades from 18 ("30-39"), "0-17" for minors and "80+" from 80 on. The
// pool shows professionals this, never the date of birth.
func AgeBand(dob, at time.Time) string {
	age := at.Year() - dob.Year()
	if at.Month() < dob.Month() || (at.Month() == dob.Month() && at.Day() < dob.Day()) {
		age--
	}
	switch {
	case age < 18:
		return "0-17"
	case age >= 80:
		return "80+"
	case age < 20:
		return "18-19"
	}
	lo := age / 10 * 10
	return fmt.Sprintf("%d-%d", lo, lo+9)
}
