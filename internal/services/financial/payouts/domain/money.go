package domain

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// MaxAmount bounds every amount the service takes or sums, in minor units:
// far above any payout (10^15 cents is ten trillion euros) and far below
// where int64 sums could overflow.
const MaxAmount int64 = 1_000_000_000_000_000

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// ValidCurrency reports whether c has the form of an ISO 4217 code.
func ValidCurrency(c string) bool { return currencyCode.MatchString(c) }

// Exponent is the number of decimals of currency's minor unit, as ISO 4217
// lists it: 2 for most currencies, 0 for those without a minor unit (JPY,
// KRW …), 3 for the dinars that count in thousandths.
func Exponent(currency string) int {
	switch currency {
	case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND":
		return 3
	}
	return 2
}

// FormatAmount writes minor units of currency as a decimal number with
// exactly the currency's decimals, the way bank files and spreadsheets
// want it: 12345 EUR is "123.45", 5 EUR "0.05", 700 JPY "700". It is exact:
// no float is involved, so nothing is rounded.
func FormatAmount(minor int64, currency string) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	digits := strconv.FormatInt(minor, 10)
	exp := Exponent(currency)
	if exp == 0 {
		return sign + digits
	}
	if len(digits) <= exp {
		digits = strings.Repeat("0", exp-len(digits)+1) + digits
	}
	return sign + digits[:len(digits)-exp] + "." + digits[len(digits)-exp:]
}

// Sum adds amounts, refusing a total beyond MaxAmount instead of
// overflowing.
func Sum(amounts ...int64) (int64, error) {
	var total int64
	for _, a := range amounts {
		if a < 0 || a > MaxAmount || total > MaxAmount-a {
			return 0, fmt.Errorf("amount out of range")
		}
		total += a
	}
	return total, nil
}
