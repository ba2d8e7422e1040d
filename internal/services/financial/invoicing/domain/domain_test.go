package domain

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestNumber(t *testing.T) {
	for _, c := range []struct {
		s    Series
		seq  int64
		want string
	}{
		{Series{Invoice, "EU", 2026}, 1, "INV-EU-2026-000001"},
		{Series{CreditNote, "EU", 2026}, 42, "CN-EU-2026-000042"},
		{Series{Invoice, "USA", 2031}, 999999, "INV-USA-2031-999999"},
		{Series{Invoice, "EU", 2031}, 1000000, "INV-EU-2031-1000000"},
	} {
		got, err := c.s.Number(c.seq)
		if err != nil || got != c.want {
			t.Errorf("%+v #%d: %q %v, want %q", c.s, c.seq, got, err, c.want)
		}
	}
	for _, c := range []struct {
		s   Series
		seq int64
	}{
		{Series{"RECEIPT", "EU", 2026}, 1}, {Series{Invoice, "eu", 2026}, 1}, {Series{Invoice, "EU", 26}, 1},
		{Series{Invoice, "EU", 2026}, 0}, {Series{Invoice, "EU", 2026}, -1},
	} {
		if got, err := c.s.Number(c.seq); err == nil {
			t.Errorf("%+v #%d: %q, want an error", c.s, c.seq, got)
		}
	}
}

// The year of a number is the UTC year of the issue: New Year's Eve in
// New York is already the next year in UTC.
func TestSeriesYearIsUTC(t *testing.T) {
	ny := time.FixedZone("New York", -5*3600)
	if s := SeriesAt(Invoice, "EU", time.Date(2026, 12, 31, 20, 0, 0, 0, ny)); s.Year != 2027 {
		t.Errorf("year %d, want 2027", s.Year)
	}
	tokyo := time.FixedZone("Tokyo", 9*3600)
	if s := SeriesAt(CreditNote, "EU", time.Date(2027, 1, 1, 8, 0, 0, 0, tokyo)); s.Year != 2026 || s.Kind != CreditNote {
		t.Errorf("series %+v, want CREDIT_NOTE 2026", s)
	}
}

func sale() Sale {
	return Sale{Specialty: "GENERAL_MEDICINE", Urgency: "URGENT", Net: 25000, Discount: 2500, TaxRate: 2000, Tax: 4500,
		Amount: 27000, Currency: "EUR"}
}

func TestInvoiceLines(t *testing.T) {
	lines, tot, err := InvoiceLines(sale())
	if err != nil {
		t.Fatal(err)
	}
	want := []Line{
		{Kind: ServiceLine, Description: "Medical second opinion — General medicine, urgent", Amount: 25000},
		{Kind: DiscountLine, Description: "Discount", Amount: -2500},
		{Kind: TaxLine, Description: "Tax 20%", Amount: 4500, TaxRate: 2000},
	}
	if !slices.Equal(lines, want) || tot != (Totals{Net: 22500, Tax: 4500, Total: 27000}) {
		t.Errorf("lines %+v totals %+v", lines, tot)
	}
	s := sale()
	s.Discount, s.Tax, s.Amount = 0, 5000, 30000
	if lines, _, _ := InvoiceLines(s); len(lines) != 2 || lines[1].Kind != TaxLine {
		t.Errorf("without a discount: %+v", lines)
	}
}

func TestSaleValidate(t *testing.T) {
	for name, mutate := range map[string]func(*Sale){
		"specialty":         func(s *Sale) { s.Specialty = "ASTROLOGY" },
		"urgency":           func(s *Sale) { s.Urgency = "WHENEVER" },
		"currency":          func(s *Sale) { s.Currency = "eur" },
		"rate":              func(s *Sale) { s.TaxRate = 10001 },
		"negative rate":     func(s *Sale) { s.TaxRate = -1 },
		"negative tax":      func(s *Sale) { s.Tax, s.Amount = -1, 22499 },
		"too large":         func(s *Sale) { s.Net = MaxAmount + 1 },
		"discount over net": func(s *Sale) { s.Discount, s.Amount = 25001, 4499 },
		"sum":               func(s *Sale) { s.Amount++ },
	} {
		s := sale()
		mutate(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("%s: valid", name)
		}
	}
	if err := sale().Validate(); err != nil {
		t.Error(err)
	}
}

func TestRoundHalfUp(t *testing.T) {
	for _, c := range []struct{ a, b, c, want int64 }{
		{1, 1, 2, 1},  // 0.5 → 1
		{1, 1, 3, 0},  // 0.33 → 0
		{2, 1, 3, 1},  // 0.67 → 1
		{5, 3, 10, 2}, // 1.5 → 2
		{7, 1, 2, 4},  // 3.5 → 4
		{0, 9, 7, 0},
		{MaxAmount, MaxAmount, MaxAmount, MaxAmount}, // no overflow of a × b
	} {
		if got := RoundHalfUp(c.a, c.b, c.c); got != c.want {
			t.Errorf("%d×%d/%d = %d, want %d", c.a, c.b, c.c, got, c.want)
		}
	}
}

func TestSplit(t *testing.T) {
	full := Totals{Net: 22500, Tax: 4500, Total: 27000}
	for _, c := range []struct {
		refund, net, tax int64
		left             Totals
	}{
		{27000, 22500, 4500, full},          // a full refund takes the invoice back exactly
		{13500, 11250, 2250, full},          // half
		{1, 1, 0, full},                     // 1 × 4500 / 27000 = 0.17 → 0
		{3, 2, 1, full},                     // 0.5 → 1: half up
		{100, 83, 17, full},                 // 16.67 → 17
		{5, 5, 0, Totals{Net: 5, Total: 5}}, // no tax
		{11, 9, 2, Totals{Net: 9, Tax: 2, Total: 11}},
	} {
		net, tax, err := Split(c.refund, c.left)
		if err != nil || net != c.net || tax != c.tax || net+tax != c.refund {
			t.Errorf("split %d of %+v: %d + %d %v, want %d + %d", c.refund, c.left, net, tax, err, c.net, c.tax)
		}
	}
	if _, _, err := Split(27001, full); !errors.Is(err, ErrExceeds) {
		t.Errorf("more than the invoice: %v", err)
	}
	for _, refund := range []int64{0, -5} {
		if _, _, err := Split(refund, full); err == nil {
			t.Errorf("refund %d split", refund)
		}
	}
	if _, _, err := Split(10, Totals{Net: 10, Tax: 5, Total: 10}); err == nil {
		t.Error("inconsistent totals split")
	}
}

// However a payment is refunded in parts, splitting what is left makes the
// credit notes add up to the invoice to the minor unit.
func TestSplitsSumToTheInvoice(t *testing.T) {
	inv := Totals{Net: 10001, Tax: 1999, Total: 12000}
	for _, parts := range [][]int64{{1, 1, 1, 11997}, {3333, 3333, 5334}, {7, 11993}, {12000}, {5999, 1, 6000}} {
		left := inv
		var net, tax int64
		for _, r := range parts {
			n, x, err := Split(r, left)
			if err != nil {
				t.Fatalf("%v: %v", parts, err)
			}
			net, tax = net+n, tax+x
			left = Totals{Net: left.Net - n, Tax: left.Tax - x, Total: left.Total - r}
			if left.Net < 0 || left.Tax < 0 {
				t.Fatalf("%v: left %+v", parts, left)
			}
		}
		if net != inv.Net || tax != inv.Tax {
			t.Errorf("%v: credited %d + %d, want %d + %d", parts, net, tax, inv.Net, inv.Tax)
		}
	}
}

func TestCreditLines(t *testing.T) {
	inv, _, _ := InvoiceLines(sale())
	lines, tot := CreditLines(inv, "INV-EU-2026-000007", 11250, 2250)
	want := []Line{
		{Kind: ServiceLine, Description: "Credit on invoice INV-EU-2026-000007: Medical second opinion — General medicine, urgent", Amount: -11250},
		{Kind: TaxLine, Description: "Tax 20%", Amount: -2250, TaxRate: 2000},
	}
	if !slices.Equal(lines, want) || tot != (Totals{Net: -11250, Tax: -2250, Total: -13500}) {
		t.Errorf("lines %+v totals %+v", lines, tot)
	}
}

func TestFormat(t *testing.T) {
	for bp, want := range map[int]string{2000: "20%", 550: "5.5%", 1234: "12.34%", 0: "0%", 10000: "100%", 5: "0.05%"} {
		if got := FormatRate(bp); got != want {
			t.Errorf("rate %d: %q, want %q", bp, got, want)
		}
	}
	for _, c := range []struct {
		amount   int64
		currency string
		want     string
	}{
		{123456, "EUR", "1,234.56 EUR"}, {-9000, "EUR", "-90.00 EUR"}, {5, "EUR", "0.05 EUR"}, {0, "USD", "0.00 USD"},
		{1500, "JPY", "1,500 JPY"}, {1234567, "KWD", "1,234.567 KWD"}, {100000000, "GBP", "1,000,000.00 GBP"},
	} {
		if got := FormatMoney(c.amount, c.currency); got != c.want {
			t.Errorf("%d %s: %q, want %q", c.amount, c.currency, got, c.want)
		}
	}
}
