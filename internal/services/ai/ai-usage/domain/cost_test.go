package domain

import (
	"slices"
	"testing"
)

func TestParseUSD(t *testing.T) {
	for in, want := range map[string]Micros{"0": 0, "0.15": 150_000, "3": 3_000_000, "2.5": 2_500_000,
		"0.000001": 1, "500.123456": 500_123_456} {
		if got, err := ParseUSD(in); err != nil || got != want {
			t.Errorf("ParseUSD(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".5", "-1", "+1", "1.0000001", "abc", "1e3", "1.2.3", "99999999999999"} {
		if got, err := ParseUSD(in); err == nil {
			t.Errorf("ParseUSD(%q) = %d, want an error", in, got)
		}
	}
	if got := FormatUSD(1_234_567); got != "1.234567" {
		t.Errorf("FormatUSD = %s", got)
	}
}

func TestCost(t *testing.T) {
	prices, err := ParsePrices("openai/gpt-4o-mini=0.15:0.60, anthropic/*=3:15 ,openai/gpt-4o=2.5:10")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		provider, model string
		in, out         int64
		cost            Micros
		priced          bool
	}{
		{"openai", "gpt-4o-mini", 1_000_000, 1_000_000, 750_000, true},
		{"openai", "gpt-4o-mini", 1, 0, 1, true}, // 0.15 micros, rounded up
		{"openai", "gpt-4o", 2_000, 500, 10_000, true},
		{"anthropic", "claude-sonnet-4", 1_000, 1_000, 18_000, true}, // the provider's wildcard
		{"openai", "o3", 10, 10, 0, false},
		{Local, "rules", 1_000_000, 1_000_000, 0, true},
	} {
		cost, priced := prices.Cost(c.provider, c.model, c.in, c.out)
		if cost != c.cost || priced != c.priced {
			t.Errorf("%s/%s %d:%d costs %d (priced %v), want %d (%v)", c.provider, c.model, c.in, c.out, cost, priced, c.cost, c.priced)
		}
	}
	for _, bad := range []string{"gpt=1:2", "openai/gpt=1", "openai/=1:2", "/x=1:2", "openai/x=1:-2", "openai/x=1:2,openai/x=3:4"} {
		if _, err := ParsePrices(bad); err == nil {
			t.Errorf("ParsePrices(%q) accepted", bad)
		}
	}
}

func TestBudgets(t *testing.T) {
	b, err := ParseBudgets("openai=300, total=500,anthropic=0")
	if err != nil {
		t.Fatal(err)
	}
	if b[Total] != 500_000_000 || b["openai"] != 300_000_000 || b["anthropic"] != 0 {
		t.Errorf("budgets %v", b)
	}
	if got := b.Scopes("openai"); !slices.Equal(got, []string{Total, "openai"}) {
		t.Errorf("scopes of openai: %v", got)
	}
	if got := b.Scopes("vllm"); !slices.Equal(got, []string{Total}) {
		t.Errorf("scopes of vllm: %v", got)
	}
	if got := b.Sorted(); !slices.Equal(got, []string{Total, "anthropic", "openai"}) {
		t.Errorf("sorted: %v", got)
	}
	if !Spent(100, 100) || Spent(100, 99) || !Spent(0, 1) {
		t.Error("Spent is wrong at the limit")
	}
	for _, bad := range []string{"total", "=5", "total=x", "total=1,total=2"} {
		if _, err := ParseBudgets(bad); err == nil {
			t.Errorf("ParseBudgets(%q) accepted", bad)
		}
	}
}
