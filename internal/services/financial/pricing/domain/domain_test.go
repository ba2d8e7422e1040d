package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPrice(t *testing.T) {
	pct := func(bp int) *Discount { return &Discount{Kind: Percent, Percent: bp} }
	fixed := func(amount int64, cur string) *Discount { return &Discount{Kind: Fixed, Amount: amount, Currency: cur} }
	for _, c := range []struct {
		name     string
		net      int64
		rate     int
		discount *Discount
		want     Amounts
	}{
		{"no discount, 20 % tax", 45_000, 2000, nil, Amounts{Net: 45_000, Tax: 9_000, Total: 54_000, TaxRate: 2000}},
		{"no tax", 49_500, 0, nil, Amounts{Net: 49_500, Total: 49_500}},
		{"tax rounds half up", 1, 5000, nil, Amounts{Net: 1, Tax: 1, Total: 2, TaxRate: 5000}},         // 0.5 → 1
		{"tax rounds below half down", 1, 4999, nil, Amounts{Net: 1, Tax: 0, Total: 1, TaxRate: 4999}}, // 0.4999 → 0
		{"tax 19 % of 333", 333, 1900, nil, Amounts{Net: 333, Tax: 63, Total: 396, TaxRate: 1900}},     // 63.27 → 63
		{"tax 19 % of 50", 50, 1900, nil, Amounts{Net: 50, Tax: 10, Total: 60, TaxRate: 1900}},         // 9.5 → 10
		{"percent discount, tax on the rest", 45_000, 2000, pct(1000),
			Amounts{Net: 45_000, Discount: 4_500, Tax: 8_100, Total: 48_600, TaxRate: 2000}},
		{"percent discount rounds half up", 5, 0, pct(5000), Amounts{Net: 5, Discount: 3, Total: 2}}, // 2.5 → 3
		{"percent discount of 33.33 %", 100, 2000, pct(3333),
			Amounts{Net: 100, Discount: 33, Tax: 13, Total: 80, TaxRate: 2000}}, // 33.33 → 33; 13.4 → 13
		{"hundred percent", 45_000, 2000, pct(10_000), Amounts{Net: 45_000, Discount: 45_000, TaxRate: 2000}},
		{"fixed discount", 45_000, 2000, fixed(5_000, "EUR"),
			Amounts{Net: 45_000, Discount: 5_000, Tax: 8_000, Total: 48_000, TaxRate: 2000}},
		{"fixed discount above the price stops at zero", 45_000, 2000, fixed(60_000, "EUR"),
			Amounts{Net: 45_000, Discount: 45_000, TaxRate: 2000}},
		{"free", 0, 2000, pct(1000), Amounts{TaxRate: 2000}},
		{"the largest amount at the largest rate", MaxAmount, Whole, nil,
			Amounts{Net: MaxAmount, Tax: MaxAmount, Total: 2 * MaxAmount, TaxRate: Whole}},
	} {
		got, err := Price(c.net, "EUR", c.rate, c.discount)
		if err != nil || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.name, got, err, c.want)
		}
		if err == nil && got.Total != got.Net-got.Discount+got.Tax {
			t.Errorf("%s: total %d is not net − discount + tax", c.name, got.Total)
		}
	}
}

func TestPriceRefuses(t *testing.T) {
	if _, err := Price(45_000, "EUR", 2000, &Discount{Kind: Fixed, Amount: 100, Currency: "GBP"}); !errors.Is(err, ErrCurrency) {
		t.Errorf("a GBP discount on a EUR price: %v", err)
	}
	for _, c := range []struct {
		net  int64
		rate int
	}{{-1, 0}, {MaxAmount + 1, 0}, {100, -1}, {100, Whole + 1}} {
		if _, err := Price(c.net, "EUR", c.rate, nil); err == nil {
			t.Errorf("net %d at %d bp: no error", c.net, c.rate)
		}
	}
}

func TestDiscountValidate(t *testing.T) {
	from := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ok := Discount{Code: "SPRING-10", Kind: Percent, Percent: 1000, ValidFrom: from, ValidUntil: from.AddDate(0, 1, 0)}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid terms: %v", err)
	}
	if err := (Discount{Code: "WELCOME5", Kind: Fixed, Amount: 500, Currency: "GBP", ValidFrom: from, MaxUses: 10, MaxUsesPerPatient: 1}).Validate(); err != nil {
		t.Errorf("valid fixed terms: %v", err)
	}
	for field, change := range map[string]func(*Discount){
		"code":              func(d *Discount) { d.Code = "AB" },
		"kind":              func(d *Discount) { d.Kind = "BOGO" },
		"percent":           func(d *Discount) { d.Percent = Whole + 1 },
		"amount":            func(d *Discount) { d.Amount = 5 },
		"validUntil":        func(d *Discount) { d.ValidUntil = d.ValidFrom },
		"maxUses":           func(d *Discount) { d.MaxUses = -1 },
		"maxUsesPerPatient": func(d *Discount) { d.MaxUses, d.MaxUsesPerPatient = 1, 2 },
	} {
		d := ok
		change(&d)
		err := d.Validate()
		if err == nil || fieldOf(err) != field {
			t.Errorf("%s: %v (field %q)", field, err, fieldOf(err))
		}
	}
	fixed := Discount{Code: "FIX", Kind: Fixed, Amount: 500, ValidFrom: from}
	if fieldOf(fixed.Validate()) != "currency" {
		t.Errorf("a fixed discount without currency: %v", fixed.Validate())
	}
	if NormalizeCode("  spring-10 ") != "SPRING-10" {
		t.Error("codes are case-insensitive")
	}
}

func TestUsable(t *testing.T) {
	from := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	d := Discount{Code: "X10", Kind: Percent, Percent: 1000, ValidFrom: from, ValidUntil: from.AddDate(0, 0, 7), MaxUses: 3, MaxUsesPerPatient: 1}
	for _, c := range []struct {
		at                time.Time
		uses, patientUses int
		want              error
	}{
		{from, 0, 0, nil},
		{from.Add(-time.Second), 0, 0, ErrNotYetValid},
		{from.AddDate(0, 0, 7).Add(-time.Nanosecond), 2, 0, nil},
		{from.AddDate(0, 0, 7), 0, 0, ErrExpired},
		{from, 3, 0, ErrExhausted},
		{from, 1, 1, ErrPatientLimit},
	} {
		if err := d.Usable(c.at, c.uses, c.patientUses); err != c.want {
			t.Errorf("at %s, %d uses, %d by the patient: %v, want %v", c.at, c.uses, c.patientUses, err, c.want)
		}
	}
	open := Discount{Code: "ALWAYS", Kind: Percent, Percent: 1, ValidFrom: from}
	if err := open.Usable(from.AddDate(50, 0, 0), 1_000_000, 1_000); err != nil {
		t.Errorf("no limits: %v", err)
	}
}

func TestToken(t *testing.T) {
	key := []byte(strings.Repeat("k", MinKeySize))
	c := Claims{QuoteID: "q1", CaseID: "c1", PatientID: "p1", Total: 54_000, Currency: "EUR",
		ExpiresAt: time.Date(2030, 1, 1, 12, 30, 0, 0, time.UTC)}
	tok := Sign(key, c)
	got, err := Verify(key, tok)
	if err != nil || got != c {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if Sign(key, c) != tok {
		t.Error("signing is not deterministic")
	}
	body, sig, _ := strings.Cut(tok, ".")
	other := Sign(key, Claims{QuoteID: "q2", CaseID: "c1", PatientID: "p1", Total: 1, Currency: "EUR", ExpiresAt: c.ExpiresAt})
	otherBody, _, _ := strings.Cut(other, ".")
	flip := []byte(sig)
	flip[3] ^= 1
	for name, bad := range map[string]string{
		"another key":        Sign([]byte(strings.Repeat("x", MinKeySize)), c),
		"swapped payload":    otherBody + "." + sig,
		"altered signature":  body + "." + string(flip),
		"no signature":       body,
		"empty signature":    body + ".",
		"extra part":         tok + ".x",
		"empty":              "",
		"not base64":         "!!." + sig,
		"payload not a JSON": "bm90IGpzb24." + signedBody(key, "bm90IGpzb24"),
	} {
		if _, err := Verify(key, bad); !errors.Is(err, ErrToken) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// signedBody is a valid signature of any body, to reach the checks after it.
func signedBody(key []byte, body string) string {
	return b64(mac(key, body))
}

func TestRegionOf(t *testing.T) {
	for number, want := range map[string]string{"EU-2026-7KQ2ZD": "EU", "US-2026-000001": "US", "": "UK", "eu-2026-1": "UK", "EUROPE-1": "UK"} {
		if got := RegionOf(number, "UK"); got != want {
			t.Errorf("%q: %s, want %s", number, got, want)
		}
	}
}
