package payouts

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/authn"
	"github.com/secondopinion/platform/internal/kit/authz"
	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/outbox"
	"github.com/secondopinion/platform/internal/services/financial/payouts/domain"
	"github.com/secondopinion/platform/internal/services/financial/payouts/store"
)

// self admits the professional id themself, and an admin when admins is
// set; any other professional gets the 404 of a missing professional, so
// the answer does not tell whether they exist.
func self(who authn.Principal, id string, admins bool) error {
	if (admins && authz.IsAdmin(who)) || (who.Role == authn.RoleProfessional && who.Subject != "" && who.Subject == id) {
		return nil
	}
	return fault.NotFound("professional")
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// rates is the rate table in force now.
func (s *Service) rates(ctx context.Context) (domain.RateTable, error) {
	return s.store.RatesAt(ctx, s.store.DB(), s.now())
}

// setRates puts a new rate table in force from now: earnings of opinions
// approved before keep the rates they were accrued at.
func (s *Service) setRates(ctx context.Context, who authn.Principal, t domain.RateTable) (domain.RateTable, error) {
	if err := t.Validate(); err != nil {
		return t, err
	}
	t.ID, t.EffectiveFrom = newID(), s.now()
	if err := s.DB.InTx(ctx, func(tx *sql.Tx) error { return s.store.AddRates(ctx, tx, t, who.Subject, s.now()) }); err != nil {
		return t, err
	}
	s.Log.InfoContext(ctx, "payout rates set", "rateTableId", t.ID, "currency", t.Currency, "actor", who.Subject)
	return s.rates(ctx)
}

// earningsRange reads the from/to filter: days, both included.
func earningsRange(from, to string) (store.Range, error) {
	var r store.Range
	if from != "" {
		t, err := time.Parse(domain.DateLayout, from)
		if err != nil {
			return r, fault.Invalid("from", "a date, YYYY-MM-DD")
		}
		r.From = t
	}
	if to != "" {
		t, err := time.Parse(domain.DateLayout, to)
		if err != nil {
			return r, fault.Invalid("to", "a date, YYYY-MM-DD")
		}
		r.To = t.AddDate(0, 0, 1)
	}
	if !r.From.IsZero() && !r.To.IsZero() && !r.From.Before(r.To) {
		return r, fault.Invalid("to", "the range ends before it starts")
	}
	return r, nil
}

// earnings is a page of a professional's earnings, for them or an admin.
func (s *Service) earnings(ctx context.Context, who authn.Principal, id, from, to, cursor string, limit int) ([]store.Earning, string, error) {
	if err := self(who, id, true); err != nil {
		return nil, "", err
	}
	r, err := earningsRange(from, to)
	if err != nil {
		return nil, "", err
	}
	return s.store.Earnings(ctx, id, r, cursor, limit)
}

// statement is a professional's month: its earnings and totals, and the
// batches that hold them.
func (s *Service) statement(ctx context.Context, who authn.Principal, id, month string) (domain.Month, []store.Earning, error) {
	if err := self(who, id, true); err != nil {
		return domain.Month{}, nil, err
	}
	m, err := domain.ParseMonth(month)
	if err != nil {
		return m, nil, err
	}
	es, err := s.store.MonthEarnings(ctx, id, store.Range{From: m.Start, To: m.End()})
	return m, es, err
}

// BatchRequest is what an admin gathers into a batch.
type BatchRequest struct {
	PeriodStart string `json:"periodStart" format:"date" example:"2031-05-01" doc:"first day, UTC"`
	PeriodEnd   string `json:"periodEnd" format:"date" example:"2031-05-31" doc:"last day, UTC, included; the day must be over"`
	Currency    string `json:"currency,omitempty" pattern:"^[A-Z]{3}$" doc:"the earnings' currency; that of the rates in force by default"`
}

// createBatch gathers every unpaid earning of the period into a new batch
// and queues payout.batch_created with it, in one transaction.
func (s *Service) createBatch(ctx context.Context, who authn.Principal, req BatchRequest) (store.Batch, error) {
	p, err := domain.ParsePeriod(req.PeriodStart, req.PeriodEnd, s.now())
	if err != nil {
		return store.Batch{}, err
	}
	if req.Currency == "" {
		rt, err := s.rates(ctx)
		if err != nil {
			return store.Batch{}, err
		}
		req.Currency = rt.Currency
	}
	b := store.Batch{ID: newID(), PeriodStart: req.PeriodStart, PeriodEnd: req.PeriodEnd, Currency: req.Currency,
		CreatedBy: who.Subject, CreatedAt: s.now()}
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		if b, err = s.store.CreateBatch(ctx, tx, b, store.Range{From: p.Start(), To: p.End()}, newID); err != nil {
			return err
		}
		e, err := batchCreatedEvent(b)
		if err != nil {
			return err
		}
		return outbox.Add(ctx, tx, e)
	})
	if err != nil {
		return store.Batch{}, err
	}
	s.Relay.Notify()
	s.Log.InfoContext(ctx, "payout batch created", "batchId", b.ID, "professionals", b.Professionals, "earnings", b.Earnings,
		"total", b.Total, "currency", b.Currency, "actor", who.Subject)
	return b, nil
}

// markPaid marks a batch paid and queues payout.paid for each of its
// professionals in the same transaction; marking it again changes nothing
// and publishes nothing.
func (s *Service) markPaid(ctx context.Context, who authn.Principal, id string) (store.Batch, error) {
	var b store.Batch
	first := false
	err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.store.Batch(ctx, tx, id); err != nil {
			return err
		}
		var err error
		if first, err = s.store.MarkPaid(ctx, tx, id, who.Subject, s.now()); err != nil {
			return err
		}
		if b, err = s.store.Batch(ctx, tx, id); err != nil || !first {
			return err
		}
		evs, err := paidEvents(b)
		if err != nil {
			return err
		}
		return outbox.Add(ctx, tx, evs...)
	})
	if err != nil {
		return store.Batch{}, err
	}
	if first {
		s.Relay.Notify()
		s.Log.InfoContext(ctx, "payout batch paid", "batchId", id, "actor", who.Subject)
	}
	return b, nil
}

// batchCSV is a batch as a spreadsheet: one line per professional.
// Amounts are decimal numbers in the batch's currency; ids and numbers
// only, so no cell can start a formula.
func batchCSV(b store.Batch) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"batchId", "periodStart", "periodEnd", "professionalId", "earnings", "amount", "currency", "status"})
	for _, it := range b.Items {
		_ = w.Write([]string{b.ID, b.PeriodStart, b.PeriodEnd, it.ProfessionalID, strconv.Itoa(it.Earnings),
			domain.FormatAmount(it.Amount, b.Currency), b.Currency, b.Status})
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// sepa is a batch as a SEPA credit transfer file. Every professional of
// the batch needs a payout account: a file that left some out would be
// paid, the batch marked paid, and they would never get their money, so
// the export is refused, naming how many lack one, until they add it.
func (s *Service) sepa(ctx context.Context, who authn.Principal, id string) (store.Batch, []byte, error) {
	b, err := s.store.Batch(ctx, s.store.DB(), id)
	if err != nil {
		return b, nil, err
	}
	if b.Currency != "EUR" {
		return b, nil, fault.Conflict("Not in euros", "a SEPA credit transfer is in euros; this batch is in "+b.Currency)
	}
	var missing []string
	transfers := make([]domain.Transfer, 0, len(b.Items))
	for _, it := range b.Items {
		stored, err := s.store.Account(ctx, it.ProfessionalID)
		if fault.Is(err, fault.KindNotFound) {
			missing = append(missing, it.ProfessionalID)
			continue
		}
		if err != nil {
			return b, nil, err
		}
		a, err := s.open(ctx, stored)
		if err != nil {
			return b, nil, err
		}
		transfers = append(transfers, domain.Transfer{EndToEndID: strings.ReplaceAll(it.ID, "-", ""),
			Creditor: domain.Party{Name: a.Holder, IBAN: a.IBAN, BIC: a.BIC}, Amount: it.Amount,
			Remittance: fmt.Sprintf("Second Opinion payout %s to %s", b.PeriodStart, b.PeriodEnd)})
	}
	if len(missing) > 0 {
		f := fault.Conflict("Payout accounts missing", fmt.Sprintf("%d of the batch's %d professionals have no payout account: "+
			"each must add one (PUT /api/v1/professionals/{id}/payout-account) before the SEPA file can be made; missing: %s",
			len(missing), len(b.Items), strings.Join(missing, ", ")))
		return b, nil, f
	}
	doc, err := domain.CreditTransfer{MessageID: strings.ReplaceAll(b.ID, "-", ""), CreatedAt: s.now(), Execution: s.now(),
		Debtor: s.cfg.debtor, Transfers: transfers}.SEPA()
	if err != nil {
		return b, nil, err
	}
	s.Log.InfoContext(ctx, "SEPA file made", "batchId", b.ID, "transfers", len(transfers), "actor", who.Subject)
	return b, doc, nil
}
