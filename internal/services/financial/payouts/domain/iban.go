package domain

import (
	"regexp"
	"strings"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// ibanLength is the length of an IBAN by country, from the IBAN registry
// (ISO 13616): the SEPA countries and the others the registry lists.
var ibanLength = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
	"BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
	"ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
	"HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
	"LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
	"MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
	"RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
	"TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}

var ibanForm = regexp.MustCompile(`^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$`)

// NormalizeIBAN is the electronic form of an IBAN as people write it:
// upper case, without the spaces of its printed form.
func NormalizeIBAN(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), ""))
}

// ValidIBAN checks an IBAN in electronic form: its country's length and
// the ISO 13616 check digits (ISO 7064 MOD 97-10: the number formed by
// moving the first four characters to the end, letters as 10 to 35, is 1
// modulo 97). A typo of one character, or two swapped, never passes.
func ValidIBAN(iban string) error {
	if !ibanForm.MatchString(iban) {
		return fault.Invalid("iban", "an IBAN is a country code, two check digits and up to 30 letters or digits")
	}
	n, ok := ibanLength[iban[:2]]
	if !ok {
		return fault.Invalid("iban", "%s is not a country with IBANs", iban[:2])
	}
	if len(iban) != n {
		return fault.Invalid("iban", "an IBAN of %s has %d characters, not %d", iban[:2], n, len(iban))
	}
	if mod97(iban[4:]+iban[:4]) != 1 {
		return fault.Invalid("iban", "the check digits do not match: the IBAN is mistyped")
	}
	return nil
}

// mod97 is the remainder of the decimal number that s spells (letters A-Z
// as 10-35) divided by 97, computed a digit at a time.
func mod97(s string) int {
	r := 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			r = (r*10 + int(c-'0')) % 97
		default:
			v := int(c-'A') + 10
			r = (r*100 + v) % 97
		}
	}
	return r
}

// MaskIBAN shows an IBAN's country and last four characters only, as a
// holder recognises their account: DE89************3000.
func MaskIBAN(iban string) string {
	if len(iban) < 8 {
		return strings.Repeat("*", len(iban))
	}
	return iban[:4] + strings.Repeat("*", len(iban)-8) + iban[len(iban)-4:]
}

var bicForm = regexp.MustCompile(`^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$`)

// NormalizeBIC is a BIC in upper case without spaces.
func NormalizeBIC(s string) string { return NormalizeIBAN(s) }

// ValidBIC checks the form of a business identifier code (ISO 9362:2014):
// institution, country, location and an optional branch.
func ValidBIC(bic string) error {
	if !bicForm.MatchString(bic) {
		return fault.Invalid("bic", "a BIC has 8 or 11 letters and digits, e.g. DEUTDEFF or DEUTDEFF500")
	}
	return nil
}
