package payments

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/services/financial/payments/domain"
	"github.com/secondopinion/platform/internal/services/financial/payments/provider"
	"github.com/secondopinion/platform/internal/services/financial/payments/store"
)

// Side is one side's account of a payment.
type Side struct {
	Status         string `json:"status" doc:"ours: the payment's status; the provider's: its charge's outcome (pending, requires_action, succeeded, failed, canceled, missing)"`
	Amount         int64  `json:"amount"`
	RefundedAmount int64  `json:"refundedAmount"`
	Currency       string `json:"currency,omitempty"`
}

// Difference is a payment on which we and the provider disagree.
type Difference struct {
	PaymentID string `json:"paymentId,omitempty" format:"uuid" doc:"absent for an intent of ours the provider has and we do not"`
	IntentID  string `json:"intentId,omitempty"`
	Provider  string `json:"provider"`
	Kind      string `json:"kind" enum:"STATUS,AMOUNT,REFUNDED,MISSING_AT_PROVIDER,MISSING_HERE"`
	Ours      *Side  `json:"ours,omitempty"`
	Theirs    *Side  `json:"theirs,omitempty" doc:"the provider's account"`
}

// Reconciliation is a run's report.
type Reconciliation struct {
	ID          string       `json:"id" format:"uuid"`
	RanAt       time.Time    `json:"ranAt"`
	Checked     int          `json:"checked" doc:"payments compared"`
	Recovered   int          `json:"recovered" doc:"stale payments and pending refunds driven on before comparing"`
	Differences []Difference `json:"differences" nullable:"false"`
}

// expected is the charge outcome the provider should report of a payment
// in status.
func expected(st domain.Status) domain.Charge {
	switch st {
	case domain.Processing:
		return domain.ChargePending
	case domain.RequiresAction:
		return domain.ChargeRequiresAction
	case domain.Failed:
		return domain.ChargeFailed
	case domain.Canceled:
		return domain.ChargeCanceled
	}
	return domain.ChargeSucceeded
}

// Reconcile drives on what was left half done (Recover), then compares
// the payments of the last PAYMENTS_RECONCILE_WINDOW with the providers'
// intents, and records the differences for admins. It corrects nothing
// beyond recovery and a charge the provider reports succeeded (which
// completes its payment, as the webhook does): a difference is for a
// person to look at.
func (s *Service) Reconcile(ctx context.Context) (Reconciliation, error) {
	recovered, rerr := s.Recover(ctx)
	if rerr != nil {
		s.Log.WarnContext(ctx, "recovery before reconciliation", "err", rerr)
	}
	now := s.now()
	since := now.Add(-s.cfg.ReconcileWindow)
	ours, err := s.store.Since(ctx, since)
	if err != nil {
		return Reconciliation{}, err
	}
	rep := Reconciliation{ID: uuid.Must(uuid.NewV7()).String(), RanAt: now, Checked: len(ours), Recovered: recovered,
		Differences: []Difference{}}
	names := make([]string, 0, len(s.providers))
	for name := range s.providers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		prov := s.providers[name]
		// The provider's clock and ours differ a little: look further back.
		intents, err := prov.List(ctx, since.Add(-time.Hour))
		if err != nil {
			return Reconciliation{}, err
		}
		byID := map[string]provider.Intent{}
		byPayment := map[string]provider.Intent{}
		for _, in := range intents {
			byID[in.ID] = in
			if id := in.Metadata[provider.MetadataPayment]; id != "" {
				byPayment[id] = in
			}
		}
		matched := map[string]bool{}
		for _, p := range ours {
			if p.Provider != name {
				continue
			}
			in, ok := byID[p.IntentID]
			if !ok {
				in, ok = byPayment[p.ID]
			}
			if !ok && p.IntentID != "" {
				if got, err := prov.Get(ctx, p.IntentID); err == nil {
					in, ok = got, true
				}
			}
			if ok {
				matched[in.ID] = true
			}
			if ok && in.Status == domain.ChargeSucceeded {
				// A charge that succeeded behind our back (a 3-D Secure
				// step completed without its confirmation reaching us,
				// or after we cancelled it) is money taken: the payment
				// completes, as the webhook would have completed it.
				if _, moves := domain.Advance(p.Status, in.Status); moves {
					if got, err := s.apply(ctx, p.ID, in); err != nil {
						s.Log.WarnContext(ctx, "reconciliation could not complete a payment", "payment", p.ID, "err", err)
					} else {
						p = got
					}
				}
			}
			rep.Differences = append(rep.Differences, compare(p, in, ok)...)
		}
		for _, in := range intents {
			id := in.Metadata[provider.MetadataPayment]
			if matched[in.ID] || id == "" || in.Created.Before(since) {
				continue // matched, or none of ours, or beyond the window
			}
			rep.Differences = append(rep.Differences, Difference{IntentID: in.ID, Provider: name, Kind: "MISSING_HERE",
				Theirs: theirs(in)})
		}
	}
	diffs, err := json.Marshal(rep.Differences)
	if err != nil {
		return Reconciliation{}, err
	}
	if err := s.store.SaveReport(ctx, store.Report{ID: rep.ID, RanAt: rep.RanAt, Checked: rep.Checked, Recovered: recovered,
		Differences: string(diffs)}); err != nil {
		return Reconciliation{}, err
	}
	if len(rep.Differences) > 0 {
		s.Log.WarnContext(ctx, "payments differ from the provider's", "report", rep.ID, "differences", len(rep.Differences))
	}
	return rep, nil
}

func theirs(in provider.Intent) *Side {
	return &Side{Status: string(in.Status), Amount: in.Amount, RefundedAmount: in.AmountRefunded, Currency: in.Currency}
}

// compare lists how payment p and the provider's intent in (found or
// not) differ.
func compare(p store.Payment, in provider.Intent, found bool) []Difference {
	ours := &Side{Status: string(p.Status), Amount: p.Amount, RefundedAmount: p.Refunded, Currency: p.Currency}
	d := Difference{PaymentID: p.ID, IntentID: p.IntentID, Provider: p.Provider, Ours: ours}
	if !found {
		// A payment that failed before any intent existed (an unknown
		// payment method) has nothing to compare.
		if p.Status == domain.Failed && p.IntentID == "" {
			return nil
		}
		d.Kind, d.Theirs = "MISSING_AT_PROVIDER", &Side{Status: "missing"}
		return []Difference{d}
	}
	d.IntentID, d.Theirs = in.ID, theirs(in)
	var out []Difference
	add := func(kind string) { c := d; c.Kind = kind; out = append(out, c) }
	if expected(p.Status) != in.Status {
		add("STATUS")
	}
	if in.Amount != p.Amount || in.Currency != p.Currency {
		add("AMOUNT")
	}
	if in.AmountRefunded != p.Refunded {
		add("REFUNDED")
	}
	return out
}

// latestReconciliation is the last report.
func (s *Service) latestReconciliation(ctx context.Context) (Reconciliation, error) {
	r, err := s.store.LatestReport(ctx)
	if err != nil {
		return Reconciliation{}, err
	}
	out := Reconciliation{ID: r.ID, RanAt: r.RanAt, Checked: r.Checked, Recovered: r.Recovered}
	if err := json.Unmarshal([]byte(r.Differences), &out.Differences); err != nil {
		return Reconciliation{}, err
	}
	return out, nil
}
