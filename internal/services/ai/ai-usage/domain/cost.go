// Package domain holds ai-usage's rules, without I/O: what a request to a
// provider costs from a price table, and when a monthly budget is spent.
// Money is in micros (millionths of a US dollar), integers throughout: a
// token of a cheap model costs a fraction of a cent, and floats would
// drift as millions of them add up.
package domain

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Micros is an amount in millionths of a US dollar.
type Micros = int64

// Price is what a model charges, per million tokens of input and output.
type Price struct {
	Input, Output Micros
}

// Prices are the price table, by "provider/model"; a provider's entry
// "provider/*" prices every model of it without its own entry.
type Prices map[string]Price

// Local is the built-in provider, which runs in process and costs nothing.
const Local = "local"

// Cost is what a request of in and out tokens to model of provider costs,
// rounded up to the micro; priced is false when the table has no price for
// it (the cost is then 0 and the request is counted as unpriced).
func (p Prices) Cost(provider, model string, in, out int64) (cost Micros, priced bool) {
	if provider == Local {
		return 0, true
	}
	price, ok := p[provider+"/"+model]
	if !ok {
		price, ok = p[provider+"/*"]
	}
	if !ok {
		return 0, false
	}
	total := in*price.Input + out*price.Output
	return (total + 999_999) / 1_000_000, true
}

// ParsePrices reads a table written "provider/model=input:output,…", the
// prices in US dollars per million tokens, e.g.
// "openai/gpt-4o-mini=0.15:0.60,anthropic/*=3:15".
func ParsePrices(s string) (Prices, error) {
	out := Prices{}
	for _, entry := range fields(s) {
		key, val, ok := strings.Cut(entry, "=")
		provider, model, slash := strings.Cut(key, "/")
		in, outPrice, colon := strings.Cut(val, ":")
		if !ok || !slash || !colon || provider == "" || model == "" {
			return nil, fmt.Errorf("price %q: want provider/model=input:output", entry)
		}
		var p Price
		var err error
		if p.Input, err = ParseUSD(in); err != nil {
			return nil, fmt.Errorf("price %q: input: %w", entry, err)
		}
		if p.Output, err = ParseUSD(outPrice); err != nil {
			return nil, fmt.Errorf("price %q: output: %w", entry, err)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("price %q: %s is priced twice", entry, key)
		}
		out[key] = p
	}
	return out, nil
}

// ParseUSD reads a non-negative amount of US dollars with at most six
// decimals ("0.15", "500", "2.5") as micros, exactly.
func ParseUSD(s string) (Micros, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 6 || strings.ContainsAny(whole+frac, "+-") {
		return 0, fmt.Errorf("%q is not an amount of dollars with at most six decimals", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 1<<40 {
		return 0, fmt.Errorf("%q is not an amount of dollars with at most six decimals", s)
	}
	f := int64(0)
	if frac != "" {
		if f, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64); err != nil {
			return 0, fmt.Errorf("%q is not an amount of dollars with at most six decimals", s)
		}
	}
	return w*1_000_000 + f, nil
}

// FormatUSD writes micros as dollars with six decimals.
func FormatUSD(m Micros) string {
	sign := ""
	if m < 0 {
		sign, m = "-", -m
	}
	return fmt.Sprintf("%s%d.%06d", sign, m/1_000_000, m%1_000_000)
}

// Total is the scope of the budget of all providers together.
const Total = "total"

// Budgets are the monthly limits, by scope: Total, or a provider.
type Budgets map[string]Micros

// ParseBudgets reads "total=500,openai=300": US dollars a month.
func ParseBudgets(s string) (Budgets, error) {
	out := Budgets{}
	for _, entry := range fields(s) {
		scope, val, ok := strings.Cut(entry, "=")
		if !ok || scope == "" {
			return nil, fmt.Errorf("budget %q: want scope=dollars, the scope total or a provider", entry)
		}
		m, err := ParseUSD(val)
		if err != nil {
			return nil, fmt.Errorf("budget %q: %w", entry, err)
		}
		if _, dup := out[scope]; dup {
			return nil, fmt.Errorf("budget %q: %s has two budgets", entry, scope)
		}
		out[scope] = m
	}
	return out, nil
}

// Scopes are the budgets a request of provider counts against, in a
// stable order: Total, then the provider's own.
func (b Budgets) Scopes(provider string) []string {
	var out []string
	for _, s := range []string{Total, provider} {
		if _, ok := b[s]; ok {
			out = append(out, s)
		}
	}
	return out
}

// Sorted lists the scopes, Total first.
func (b Budgets) Sorted() []string {
	out := make([]string, 0, len(b))
	for s := range b {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i] == Total) != (out[j] == Total) {
			return out[i] == Total
		}
		return out[i] < out[j]
	})
	return out
}

// Spent tells whether spending reached the limit of a budget: a budget
// of 0 is spent from the first cent, which is how an operator stops paid
// providers for the month.
func Spent(limit, spending Micros) bool { return spending >= limit }

func fields(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
