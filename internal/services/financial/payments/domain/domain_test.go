package domain_test

import (
	"errors"
	"testing"

	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
)

func TestAdvanceOnlyMovesForward(t *testing.T) {
	for _, c := range []struct {
		from  domain.Status
		ch    domain.Charge
		to    domain.Status
		moved bool
	}{
		{domain.Processing, domain.ChargeSucceeded, domain.Succeeded, true},
		{domain.Processing, domain.ChargeFailed, domain.Failed, true},
		{domain.Processing, domain.ChargeRequiresAction, domain.RequiresAction, true},
		{domain.Processing, domain.ChargePending, domain.Processing, false},
		{domain.RequiresAction, domain.ChargeSucceeded, domain.Succeeded, true},
		{domain.RequiresAction, domain.ChargePending, domain.RequiresAction, false},
		{domain.RequiresAction, domain.ChargeFailed, domain.Failed, true},
		{domain.Succeeded, domain.ChargePending, domain.Succeeded, false},
		{domain.Succeeded, domain.ChargeRequiresAction, domain.Succeeded, false},
		{domain.Succeeded, domain.ChargeFailed, domain.Succeeded, false},
		{domain.Succeeded, domain.ChargeSucceeded, domain.Succeeded, false},
		{domain.Failed, domain.ChargeSucceeded, domain.Failed, false},
		{domain.Refunded, domain.ChargeSucceeded, domain.Refunded, false},
		{domain.PartiallyRefunded, domain.ChargeFailed, domain.PartiallyRefunded, false},
		{domain.RequiresAction, domain.ChargeCanceled, domain.Canceled, true},
		{domain.Processing, domain.ChargeCanceled, domain.Canceled, true},
		{domain.Canceled, domain.ChargeCanceled, domain.Canceled, false},
		{domain.Canceled, domain.ChargeFailed, domain.Canceled, false},
		{domain.Canceled, domain.ChargeRequiresAction, domain.Canceled, false},
		{domain.Canceled, domain.ChargePending, domain.Canceled, false},
		{domain.Canceled, domain.ChargeSucceeded, domain.Succeeded, true},
		{domain.Succeeded, domain.ChargeCanceled, domain.Succeeded, false},
		{domain.Failed, domain.ChargeCanceled, domain.Failed, false},
		{domain.Refunded, domain.ChargeCanceled, domain.Refunded, false},
		{domain.Processing, domain.Charge("weird"), domain.Processing, false},
		{domain.Status("BOGUS"), domain.ChargeSucceeded, domain.Status("BOGUS"), false},
	} {
		to, moved := domain.Advance(c.from, c.ch)
		if to != c.to || moved != c.moved {
			t.Errorf("%s + %s = %s %v, want %s %v", c.from, c.ch, to, moved, c.to, c.moved)
		}
	}
}

func TestRefundAmount(t *testing.T) {
	ptr := func(n int64) *int64 { return &n }
	for _, c := range []struct {
		status   domain.Status
		refunded int64
		asked    *int64
		want     int64
		err      error
	}{
		{domain.Succeeded, 0, nil, 10800, nil},
		{domain.Succeeded, 0, ptr(800), 800, nil},
		{domain.PartiallyRefunded, 800, nil, 10000, nil},
		{domain.PartiallyRefunded, 800, ptr(10000), 10000, nil},
		{domain.PartiallyRefunded, 800, ptr(10001), 0, domain.ErrBadRefund},
		{domain.Succeeded, 0, ptr(0), 0, domain.ErrBadRefund},
		{domain.Succeeded, 0, ptr(-5), 0, domain.ErrBadRefund},
		{domain.Refunded, 10800, nil, 0, domain.ErrNothingToRefund},
		{domain.Failed, 0, nil, 0, domain.ErrNothingToRefund},
		{domain.Processing, 0, ptr(1), 0, domain.ErrNothingToRefund},
		{domain.RequiresAction, 0, nil, 0, domain.ErrNothingToRefund},
	} {
		got, err := domain.RefundAmount(c.status, 10800, c.refunded, c.asked)
		if got != c.want || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("%s refunded %d asked %v: %d %v, want %d %v", c.status, c.refunded, c.asked, got, err, c.want, c.err)
		}
	}
	for refunded, want := range map[int64]domain.Status{0: domain.Succeeded, 1: domain.PartiallyRefunded,
		10799: domain.PartiallyRefunded, 10800: domain.Refunded} {
		if got := domain.AfterRefunds(10800, refunded); got != want {
			t.Errorf("after %d: %s, want %s", refunded, got, want)
		}
	}
}

func TestAutoRefund(t *testing.T) {
	for _, c := range []struct {
		closed   domain.CaseClosed
		assigned bool
		reason   string
		ok       bool
	}{
		{domain.CaseCancelled, false, domain.ReasonCaseCancelled, true},
		{domain.CaseCancelled, true, domain.ReasonCaseCancelled, false},
		{domain.CaseOrphaned, false, domain.ReasonCaseOrphaned, true},
		{domain.CaseOrphaned, true, domain.ReasonCaseOrphaned, true},
		{"", false, "", false},
	} {
		reason, ok := domain.AutoRefund(c.closed, c.assigned)
		if reason != c.reason || ok != c.ok {
			t.Errorf("%q assigned %v: %q %v", c.closed, c.assigned, reason, ok)
		}
	}
}

func TestFailureCode(t *testing.T) {
	for _, c := range [][3]string{
		{"card_declined", "generic_decline", "card_declined"},
		{"card_declined", "insufficient_funds", "insufficient_funds"},
		{"", "", "payment_failed"},
		{"expired_card", "", "expired_card"},
		{"", "generic_decline", "card_declined"},
	} {
		if got := domain.FailureCode(c[0], c[1]); got != c[2] {
			t.Errorf("%q %q: %q, want %q", c[0], c[1], got, c[2])
		}
	}
	if domain.IntentKey("a") == domain.RefundKey("a") || domain.IntentKey("a") == domain.ConfirmKey("a") {
		t.Error("keys of different calls collide")
	}
	for _, s := range domain.Statuses {
		if s.Open() != (s != domain.Failed && s != domain.Canceled) {
			t.Errorf("%s open %v", s, s.Open())
		}
	}
}
