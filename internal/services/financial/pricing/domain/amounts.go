// Package domain holds pricing's rules in plain Go: the arithmetic of a
// quote (discount, tax, total, rounding), the rules of discount codes, and
// the signed quote token. It does no I/O.
package domain

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/secondopinion/platform/api/vocab"
)

// BasisPoints is a rate in hundredths of a percent: 2000 is 20 %.
type BasisPoints = int

// Whole is 100 % in basis points.
const Whole BasisPoints = 10_000

// MaxAmount bounds every amount in minor units (10^12: ten billion of a
// currency's major unit), so that amount × rate never overflows an int64.
const MaxAmount int64 = 1_000_000_000_000

var currencyForm = regexp.MustCompile(`^[A-Z]{3}$`)

// ValidCurrency reports whether c has an ISO 4217 code's form.
func ValidCurrency(c string) bool { return currencyForm.MatchString(c) }

// Amounts is the breakdown of a price, in integer minor units of one
// currency: Total = Net − Discount + Tax, with Tax charged on
// Net − Discount.
type Amounts struct {
	Net, Discount, Tax, Total int64
	TaxRate                   BasisPoints
}

// ErrCurrency is a fixed discount in another currency than the price's.
var ErrCurrency = errors.New("the discount is in another currency")

// RateOf is amount × rate, rounded half up to a whole minor unit. amount
// is at most MaxAmount and rate at most Whole, both not negative, so the
// product fits an int64 with room to spare.
func RateOf(amount int64, rate BasisPoints) int64 {
	return (amount*int64(rate) + int64(Whole)/2) / int64(Whole)
}

// Price is the breakdown of net at taxRate less discount (nil for none).
// The discount is taken off first and never exceeds net, so the total is
// never below zero; the tax is charged on what is left (a discount lowers
// the tax base, as VAT has it), each step rounded half up to a minor unit.
func Price(net int64, currency string, taxRate BasisPoints, discount *Discount) (Amounts, error) {
	if net < 0 || net > MaxAmount {
		return Amounts{}, fmt.Errorf("net amount %d is outside 0..%d", net, MaxAmount)
	}
	if taxRate < 0 || taxRate > Whole {
		return Amounts{}, fmt.Errorf("tax rate %d is outside 0..%d basis points", taxRate, Whole)
	}
	a := Amounts{Net: net, TaxRate: taxRate}
	if discount != nil {
		off, err := discount.Off(net, currency)
		if err != nil {
			return Amounts{}, err
		}
		a.Discount = off
	}
	base := net - a.Discount
	a.Tax = RateOf(base, taxRate)
	a.Total = base + a.Tax
	return a, nil
}

// RegionOf is the region a case number (REGION-YEAR-XXXXXX) was opened
// in, or fallback when the number does not carry one.
func RegionOf(caseNumber, fallback string) string {
	prefix, _, ok := strings.Cut(caseNumber, "-")
	if ok && vocab.Region(prefix).Valid() {
		return prefix
	}
	return fallback
}
