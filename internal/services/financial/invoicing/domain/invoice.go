package domain

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"

	"github.com/secondopinion/platform/api/vocab"
)

// Whole is 100 % in basis points, the unit of tax rates (2000 is 20 %).
const Whole = 10_000

// MaxAmount bounds every amount in minor units (10^12, as pricing does):
// anything larger is not a consultation's price but a broken event.
const MaxAmount int64 = 1_000_000_000_000

// LineKind is what a line of an invoice is.
type LineKind string

const (
	ServiceLine  LineKind = "SERVICE"
	DiscountLine LineKind = "DISCOUNT"
	TaxLine      LineKind = "TAX"
)

func (LineKind) Values() []string {
	return []string{string(ServiceLine), string(DiscountLine), string(TaxLine)}
}

// Line is one line of an invoice. Amounts of a credit note's lines are
// negative. A tax line carries its rate.
type Line struct {
	Kind        LineKind `json:"kind"`
	Description string   `json:"description"`
	Amount      int64    `json:"amount"`
	TaxRate     int      `json:"taxRate,omitempty"`
}

// Totals are a document's taxable amount (Net: after any discount), its
// tax and what is paid (Total = Net + Tax).
type Totals struct {
	Net, Tax, Total int64
}

// Sale is what payment.succeeded tells of what was paid for: the quote's
// breakdown, Amount = Net − Discount + Tax, the tax charged on Net −
// Discount.
type Sale struct {
	Specialty vocab.Specialty
	Urgency   vocab.Urgency
	Net       int64
	Discount  int64
	TaxRate   int
	Tax       int64
	Amount    int64
	Currency  string
}

var currencyForm = regexp.MustCompile(`^[A-Z]{3}$`)

// ValidCurrency reports whether c has an ISO 4217 code's form.
func ValidCurrency(c string) bool { return currencyForm.MatchString(c) }

// Validate refuses a sale an invoice could not state truthfully. The tax
// is taken as charged (the quote computed it), not computed again: the
// invoice must show what the patient paid.
func (s Sale) Validate() error {
	switch {
	case !s.Specialty.Valid():
		return fmt.Errorf("specialty %q is not a specialty", s.Specialty)
	case !s.Urgency.Valid():
		return fmt.Errorf("urgency %q is not an urgency", s.Urgency)
	case !ValidCurrency(s.Currency):
		return fmt.Errorf("currency %q is not an ISO 4217 code", s.Currency)
	case s.TaxRate < 0 || s.TaxRate > Whole:
		return fmt.Errorf("tax rate %d is outside 0..%d basis points", s.TaxRate, Whole)
	}
	for _, a := range []int64{s.Net, s.Discount, s.Tax, s.Amount} {
		if a < 0 || a > MaxAmount {
			return fmt.Errorf("amount %d is outside 0..%d", a, MaxAmount)
		}
	}
	if s.Discount > s.Net {
		return fmt.Errorf("discount %d exceeds the net amount %d", s.Discount, s.Net)
	}
	if s.Net-s.Discount+s.Tax != s.Amount {
		return fmt.Errorf("amount %d is not net %d - discount %d + tax %d", s.Amount, s.Net, s.Discount, s.Tax)
	}
	return nil
}

// Describe is what a consultation is called on its invoice, e.g.
// "Medical second opinion — Cardiology, urgent": the nature of the
// service, which an invoice must state (VAT Directive art. 226(6)).
func Describe(sp vocab.Specialty, u vocab.Urgency) string {
	name := strings.ToLower(strings.ReplaceAll(string(sp), "_", " "))
	if name != "" {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	return "Medical second opinion — " + name + ", " + strings.ToLower(string(u))
}

// InvoiceLines are the lines and totals of the invoice of a sale: the
// consultation at its catalogue price, the discount if any, and the tax
// at its rate.
func InvoiceLines(s Sale) ([]Line, Totals, error) {
	if err := s.Validate(); err != nil {
		return nil, Totals{}, err
	}
	lines := []Line{{Kind: ServiceLine, Description: Describe(s.Specialty, s.Urgency), Amount: s.Net}}
	if s.Discount > 0 {
		lines = append(lines, Line{Kind: DiscountLine, Description: "Discount", Amount: -s.Discount})
	}
	lines = append(lines, Line{Kind: TaxLine, Description: "Tax " + FormatRate(s.TaxRate), Amount: s.Tax, TaxRate: s.TaxRate})
	return lines, Totals{Net: s.Net - s.Discount, Tax: s.Tax, Total: s.Amount}, nil
}

// ErrExceeds is a refund larger than what is left of its invoice.
var ErrExceeds = errors.New("the refund exceeds what is left of the invoice")

// Split divides a refund into its net and tax parts in proportion to what
// is left of the invoice (its totals less the credit notes issued on it):
// tax = refund × left.Tax / left.Total rounded half up to a minor unit,
// net = refund − tax, so the parts add up to the refund exactly. Splitting
// what is left, not the original totals, makes the last refund take the
// remainder: however a payment is refunded, its credit notes sum to its
// invoice to the minor unit.
func Split(refund int64, left Totals) (net, tax int64, err error) {
	switch {
	case refund <= 0 || refund > MaxAmount:
		return 0, 0, fmt.Errorf("refund %d is outside 1..%d", refund, MaxAmount)
	case left.Net < 0 || left.Tax < 0 || left.Total != left.Net+left.Tax:
		return 0, 0, fmt.Errorf("what is left of the invoice is inconsistent: %+v", left)
	case refund > left.Total:
		return 0, 0, fmt.Errorf("%w: %d > %d", ErrExceeds, refund, left.Total)
	}
	tax = RoundHalfUp(refund, left.Tax, left.Total)
	return refund - tax, tax, nil
}

// RoundHalfUp is a × b / c rounded half up (a half goes away from zero),
// for a, b ≥ 0 and c > 0, computed without overflow.
func RoundHalfUp(a, b, c int64) int64 {
	n := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	n.Mul(n, big.NewInt(2))
	n.Add(n, big.NewInt(c))
	n.Quo(n, new(big.Int).Mul(big.NewInt(c), big.NewInt(2)))
	return n.Int64()
}

// CreditLines are the lines and totals of the credit note that refunds
// net and tax of an invoice with lines: the invoice's service credited
// and its tax at the invoice's rate, both below zero.
func CreditLines(invoice []Line, number string, net, tax int64) ([]Line, Totals) {
	service, rate := "Medical second opinion", 0
	for _, l := range invoice {
		switch l.Kind {
		case ServiceLine:
			service = l.Description
		case TaxLine:
			rate = l.TaxRate
		}
	}
	return []Line{
			{Kind: ServiceLine, Description: "Credit on invoice " + number + ": " + service, Amount: -net},
			{Kind: TaxLine, Description: "Tax " + FormatRate(rate), Amount: -tax, TaxRate: rate},
		},
		Totals{Net: -net, Tax: -tax, Total: -(net + tax)}
}

// FormatRate writes a rate in basis points as a percentage: 2000 is
// "20%", 550 "5.5%".
func FormatRate(bp int) string {
	s := fmt.Sprintf("%d.%02d", bp/100, bp%100)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

// exponents are the ISO 4217 currencies whose minor unit is not a
// hundredth; every other has two decimals.
var exponents = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// Exponent is the number of decimals of currency's minor unit.
func Exponent(currency string) int {
	if e, ok := exponents[currency]; ok {
		return e
	}
	return 2
}

// FormatMoney writes an amount of minor units for people, e.g.
// "1,234.56 EUR", "-90.00 EUR", "1,500 JPY".
func FormatMoney(amount int64, currency string) string {
	sign := ""
	u := uint64(amount)
	if amount < 0 {
		sign, u = "-", uint64(-amount)
	}
	digits := fmt.Sprintf("%d", u)
	e := Exponent(currency)
	for len(digits) <= e {
		digits = "0" + digits
	}
	whole, frac := digits[:len(digits)-e], digits[len(digits)-e:]
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if e > 0 {
		b.WriteString("." + frac)
	}
	return sign + b.String() + " " + currency
}
