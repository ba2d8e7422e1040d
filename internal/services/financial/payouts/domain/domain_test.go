package domain

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/fault"
)

func TestFormatAmount(t *testing.T) {
	for _, c := range []struct {
		minor    int64
		currency string
		want     string
	}{{12345, "EUR", "123.45"}, {5, "EUR", "0.05"}, {0, "EUR", "0.00"}, {100, "EUR", "1.00"}, {-250, "EUR", "-2.50"},
		{700, "JPY", "700"}, {1234, "KWD", "1.234"}, {7, "BHD", "0.007"}, {99_999_999_999, "EUR", "999999999.99"}} {
		if got := FormatAmount(c.minor, c.currency); got != c.want {
			t.Errorf("FormatAmount(%d, %s) = %s, want %s", c.minor, c.currency, got, c.want)
		}
	}
}

func TestSum(t *testing.T) {
	if s, err := Sum(1, 2, 3); err != nil || s != 6 {
		t.Errorf("Sum = %d, %v", s, err)
	}
	for _, bad := range [][]int64{{-1}, {MaxAmount, 1}, {MaxAmount + 1}} {
		if _, err := Sum(bad...); err == nil {
			t.Errorf("Sum(%v) did not refuse", bad)
		}
	}
}

func TestIBAN(t *testing.T) {
	for _, ok := range []string{"DE89370400440532013000", "GB82WEST12345698765432", "FR1420041010050500013M02606",
		"NL91ABNA0417164300", "BE68539007547034", "AT611904300234573201", "CH9300762011623852957", "ES9121000418450200051332",
		"IT60X0542811101000000123456", "NO9386011117947"} {
		if err := ValidIBAN(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"DE88370400440532013000", "DE89370400440532013001", "DE89370400440532031000", // check digits, a swap
		"DE8937040044053201300", "ZZ89370400440532013000", "de89370400440532013000", "DE89 3704", ""} {
		if err := ValidIBAN(bad); !fault.Is(err, fault.KindInvalid) {
			t.Errorf("%q: %v, want invalid", bad, err)
		}
	}
	if n := NormalizeIBAN(" de89 3704 0044\t0532 0130 00 "); n != "DE89370400440532013000" {
		t.Errorf("normalised %q", n)
	}
	if m := MaskIBAN("DE89370400440532013000"); m != "DE89**************3000" {
		t.Errorf("masked %q", m)
	}
	for _, bic := range []string{"COBADEFF", "COBADEFFXXX", "PSSTFRPPXXX"} {
		if err := ValidBIC(bic); err != nil {
			t.Errorf("%s: %v", bic, err)
		}
	}
	for _, bic := range []string{"COBA", "COBADEFFXX", "cobadeff", "COBA1EFF"} {
		if err := ValidBIC(bic); err == nil {
			t.Errorf("%s accepted", bic)
		}
	}
}

func table() RateTable {
	return RateTable{ID: "t", Currency: "EUR", Rates: []Rate{{vocab.Junior, 6000, 1500}, {vocab.Senior, 12000, 2000},
		{vocab.Expert, 20000, 0}, {vocab.Distinguished, 30000, 3000}}}
}

func TestAccrue(t *testing.T) {
	got, err := Accrue(table(), Approval{OpinionID: "o", AuthorID: "a", AuthorLevel: vocab.Junior, ReviewerID: "r"})
	if err != nil || len(got) != 2 || got[0] != (Accrual{"a", OpinionEarning, vocab.Junior, 6000, "EUR"}) ||
		got[1] != (Accrual{"r", ReviewEarning, vocab.Junior, 1500, "EUR"}) {
		t.Errorf("JUNIOR reviewed: %+v, %v", got, err)
	}
	got, err = Accrue(table(), Approval{AuthorID: "a", AuthorLevel: vocab.Senior})
	if err != nil || len(got) != 1 || got[0].Amount != 12000 {
		t.Errorf("SENIOR at once: %+v, %v", got, err)
	}
	got, err = Accrue(table(), Approval{AuthorID: "a", AuthorLevel: vocab.Expert, ReviewerID: "r"})
	if err != nil || len(got) != 1 {
		t.Errorf("a fee of nothing is no earning: %+v, %v", got, err)
	}
	for _, a := range []Approval{{AuthorID: "a"}, {AuthorID: "a", AuthorLevel: "BOSS"}, {AuthorID: "a", AuthorLevel: vocab.Junior, ReviewerID: "a"}} {
		if _, err := Accrue(table(), a); !errors.Is(err, ErrUnpriceable) {
			t.Errorf("%+v: %v", a, err)
		}
	}
}

func TestRateTableValidate(t *testing.T) {
	if err := table().Validate(); err != nil {
		t.Fatal(err)
	}
	mutate := map[string]func(*RateTable){
		"currency":      func(r *RateTable) { r.Currency = "euro" },
		"missing level": func(r *RateTable) { r.Rates = r.Rates[1:] },
		"twice":         func(r *RateTable) { r.Rates[1].Level = vocab.Junior },
		"unknown level": func(r *RateTable) { r.Rates[0].Level = "INTERN" },
		"free opinion":  func(r *RateTable) { r.Rates[0].Opinion = 0 },
		"negative fee":  func(r *RateTable) { r.Rates[0].ReviewerFee = -1 },
		"huge":          func(r *RateTable) { r.Rates[0].Opinion = MaxAmount + 1 },
	}
	for what, m := range mutate {
		rt := table()
		rt.Rates = append([]Rate(nil), rt.Rates...)
		m(&rt)
		if err := rt.Validate(); !fault.Is(err, fault.KindInvalid) {
			t.Errorf("%s: %v", what, err)
		}
	}
}

func TestPeriod(t *testing.T) {
	now := time.Date(2031, 6, 1, 0, 0, 0, 0, time.UTC)
	p, err := ParsePeriod("2031-05-01", "2031-05-31", now)
	if err != nil || !p.Start().Equal(time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC)) || !p.End().Equal(now) {
		t.Errorf("May: %+v %v", p, err)
	}
	// A period may end today: the batch takes what has accrued so far.
	if _, err := ParsePeriod("2031-05-01", "2031-06-01", now.Add(9*time.Hour)); err != nil {
		t.Errorf("up to today: %v", err)
	}
	for _, c := range [][2]string{{"2031-05-01", "2031-06-02"}, {"2031-05-02", "2031-05-01"}, {"05/01/2031", "2031-05-31"}, {"2031-05-01", ""}} {
		if _, err := ParsePeriod(c[0], c[1], now); !fault.Is(err, fault.KindInvalid) {
			t.Errorf("%v: %v", c, err)
		}
	}
	m, err := ParseMonth("2031-12")
	if err != nil || m.String() != "2031-12" || !m.End().Equal(time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("December: %+v %v", m, err)
	}
}

func TestSEPARefusesWhatABankWould(t *testing.T) {
	debtor := Party{Name: "Us", IBAN: "DE89370400440532013000", BIC: "COBADEFFXXX"}
	ok := Transfer{EndToEndID: "E1", Creditor: Party{Name: "Them", IBAN: "NL91ABNA0417164300"}, Amount: 100}
	doc, err := CreditTransfer{MessageID: "M1", Debtor: debtor, Transfers: []Transfer{ok}}.SEPA()
	if err != nil || !strings.Contains(string(doc), "<CtrlSum>1.00</CtrlSum>") || strings.Contains(string(doc), "CdtrAgt") {
		t.Fatalf("%v\n%s", err, doc)
	}
	noBIC, err := CreditTransfer{MessageID: "M1", Debtor: Party{Name: "Us", IBAN: debtor.IBAN}, Transfers: []Transfer{ok}}.SEPA()
	if err != nil || !strings.Contains(string(noBIC), "<Id>NOTPROVIDED</Id>") {
		t.Errorf("debtor without a BIC: %v\n%s", err, noBIC)
	}
	bad := map[string]CreditTransfer{
		"no transfer":   {MessageID: "M1", Debtor: debtor},
		"nothing":       {MessageID: "M1", Debtor: debtor, Transfers: []Transfer{{EndToEndID: "E1", Creditor: ok.Creditor, Amount: 0}}},
		"too much":      {MessageID: "M1", Debtor: debtor, Transfers: []Transfer{{EndToEndID: "E1", Creditor: ok.Creditor, Amount: maxSEPAAmount + 1}}},
		"same id twice": {MessageID: "M1", Debtor: debtor, Transfers: []Transfer{ok, ok}},
		"long id":       {MessageID: strings.Repeat("M", 36), Debtor: debtor, Transfers: []Transfer{ok}},
		"slashes":       {MessageID: "a//b", Debtor: debtor, Transfers: []Transfer{ok}},
		"bad IBAN":      {MessageID: "M1", Debtor: debtor, Transfers: []Transfer{{EndToEndID: "E1", Creditor: Party{Name: "X", IBAN: "NL91ABNA0417164301"}, Amount: 1}}},
		"no name":       {MessageID: "M1", Debtor: Party{IBAN: debtor.IBAN}, Transfers: []Transfer{ok}},
	}
	for what, ct := range bad {
		if _, err := ct.SEPA(); err == nil {
			t.Errorf("%s: accepted", what)
		}
	}
	if c := clip("  Ågström  ", 3); c != "Ågs" {
		t.Errorf("clip %q", c)
	}
}
