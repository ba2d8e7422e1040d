package domain

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/secondopinion/platform/internal/kit/fault"
)

// DiscountKind is how a discount code lowers a price.
type DiscountKind string

const (
	// Percent takes a share of the net price, in basis points.
	Percent DiscountKind = "PERCENT"
	// Fixed takes a fixed amount of one currency, at most the net price.
	Fixed DiscountKind = "FIXED"
)

// DiscountKinds lists every kind.
var DiscountKinds = []DiscountKind{Percent, Fixed}

// Discount is a discount code's terms. A zero ValidUntil, MaxUses or
// MaxUsesPerPatient is no limit.
type Discount struct {
	Code    string // normalised: upper case
	Kind    DiscountKind
	Percent BasisPoints // Percent's share
	Amount  int64       // Fixed's amount, minor units of Currency
	// Currency is Fixed's; "" for Percent, which applies to any.
	Currency          string
	ValidFrom         time.Time // inclusive
	ValidUntil        time.Time // exclusive
	MaxUses           int
	MaxUsesPerPatient int
}

var codeForm = regexp.MustCompile(`^[A-Z0-9][A-Z0-9_-]{2,31}$`)

// NormalizeCode is code as it is stored and compared: codes are
// case-insensitive, so upper case, surrounding space trimmed.
func NormalizeCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// ValidCode checks a normalised code's form: 3 to 32 letters, digits, _
// or -, starting with a letter or digit.
func ValidCode(field, code string) error {
	if !codeForm.MatchString(code) {
		return fault.Invalid(field, "must be 3 to 32 letters, digits, _ or -, starting with a letter or digit")
	}
	return nil
}

// Validate checks new terms, naming the JSON field at fault.
func (d Discount) Validate() error {
	if err := ValidCode("code", d.Code); err != nil {
		return err
	}
	switch d.Kind {
	case Percent:
		if d.Percent < 1 || d.Percent > Whole {
			return fault.Invalid("percent", "must be 1 to %d basis points", Whole)
		}
		if d.Amount != 0 || d.Currency != "" {
			return fault.Invalid("amount", "a PERCENT discount has no amount or currency")
		}
	case Fixed:
		if d.Amount < 1 || d.Amount > MaxAmount {
			return fault.Invalid("amount", "must be 1 to %d minor units", MaxAmount)
		}
		if !ValidCurrency(d.Currency) {
			return fault.Invalid("currency", "a FIXED discount names its ISO 4217 currency")
		}
		if d.Percent != 0 {
			return fault.Invalid("percent", "a FIXED discount has no percent")
		}
	default:
		return fault.Invalid("kind", "must be PERCENT or FIXED")
	}
	if !d.ValidUntil.IsZero() && !d.ValidUntil.After(d.ValidFrom) {
		return fault.Invalid("validUntil", "must be after validFrom")
	}
	if d.MaxUses < 0 {
		return fault.Invalid("maxUses", "must be at least 1, or absent for no limit")
	}
	if d.MaxUsesPerPatient < 0 {
		return fault.Invalid("maxUsesPerPatient", "must be at least 1, or absent for no limit")
	}
	if d.MaxUses > 0 && d.MaxUsesPerPatient > d.MaxUses {
		return fault.Invalid("maxUsesPerPatient", "must not exceed maxUses")
	}
	return nil
}

// Off is what the discount takes off net, a price in currency: Percent's
// share rounded half up, or Fixed's amount; never more than net, so a
// total is never below zero.
func (d Discount) Off(net int64, currency string) (int64, error) {
	var off int64
	switch d.Kind {
	case Percent:
		off = RateOf(net, d.Percent)
	case Fixed:
		if d.Currency != currency {
			return 0, ErrCurrency
		}
		off = d.Amount
	default:
		return 0, fmt.Errorf("discount kind %q", d.Kind)
	}
	return min(off, net), nil
}

// Why a discount code is refused for a quote.
var (
	ErrNotYetValid   = fault.Invalid("discountCode", "this discount code is not valid yet")
	ErrExpired       = fault.Invalid("discountCode", "this discount code has expired")
	ErrExhausted     = fault.Invalid("discountCode", "this discount code has been used up")
	ErrPatientLimit  = fault.Invalid("discountCode", "you have used this discount code as often as it allows")
	ErrUnknownCode   = fault.Invalid("discountCode", "no such discount code")
	ErrWrongCurrency = fault.Invalid("discountCode", "this discount code is not valid in the currency of this price")
)

// Usable checks that the code may be applied at now, used uses times in
// all and patientUses times by the patient asking.
func (d Discount) Usable(now time.Time, uses, patientUses int) error {
	switch {
	case now.Before(d.ValidFrom):
		return ErrNotYetValid
	case !d.ValidUntil.IsZero() && !now.Before(d.ValidUntil):
		return ErrExpired
	case d.MaxUses > 0 && uses >= d.MaxUses:
		return ErrExhausted
	case d.MaxUsesPerPatient > 0 && patientUses >= d.MaxUsesPerPatient:
		return ErrPatientLimit
	}
	return nil
}

func (DiscountKind) Values() []string { return []string{string(Percent), string(Fixed)} }
