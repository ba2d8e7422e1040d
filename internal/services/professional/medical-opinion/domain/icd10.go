package domain

import "regexp"

// icd10 is the shape of an ICD-10 code: a letter, two digits, and
// optionally a dot with one to four letters or digits (I25.10, C34.9,
// S72.001A). It checks the format only, not that the code exists.
var icd10 = regexp.MustCompile(`^[A-Z][0-9]{2}(\.[A-Z0-9]{1,4})?$`)

// ValidICD10 reports whether code is formatted as an ICD-10 code.
func ValidICD10(code string) bool { return icd10.MatchString(code) }
