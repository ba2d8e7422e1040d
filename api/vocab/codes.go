package vocab

import (
	"fmt"
	"time"
)

// Region is the platform's region code, 2 or 3 upper-case letters ("EU"):
// it prefixes case and professional numbers.
type Region string

// Valid reports whether r has a region's form.
func (r Region) Valid() bool {
	if len(r) < 2 || len(r) > 3 {
		return false
	}
	for _, c := range []byte(r) {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// Language is an ISO 639-1 language code in lower case ("en").
type Language string

// DefaultLanguage is the language of a case whose patient names none.
const DefaultLanguage Language = "en"

// LanguagePattern is a language's form, for schemas.
const LanguagePattern = "^[a-z]{2}$"

// Valid reports whether l has an ISO 639-1 code's form.
func (l Language) Valid() bool {
	return len(l) == 2 && 'a' <= l[0] && l[0] <= 'z' && 'a' <= l[1] && l[1] <= 'z'
}

// AgeBand is a de-identified age: decades from 20 ("30-39"), "0-17" for
// minors, "18-19", and "80+" from 80 on. Professionals see this of a
// patient in the pool, never the date of birth.
type AgeBand string

// AgeBands lists every age band from the youngest up.
var AgeBands = []AgeBand{"0-17", "18-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+"}

func (AgeBand) Values() []string { return strings(AgeBands) }

// AgeBandOf is the age band of someone born on dob, at time at.
func AgeBandOf(dob, at time.Time) AgeBand {
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
	return AgeBand(fmt.Sprintf("%d-%d", lo, lo+9))
}
