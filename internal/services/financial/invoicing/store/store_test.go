package store_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/fault"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/invoicing/domain"
	"github.com/secondopinion/platform/internal/services/financial/invoicing/store"
)

func open(t *testing.T, db *sqldb.DB) *store.Store {
	t.Helper()
	if err := store.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return store.New(db)
}

func next(t *testing.T, db *sqldb.DB, s *store.Store, series domain.Series) int64 {
	t.Helper()
	var n int64
	err := db.InTx(context.Background(), func(tx *sql.Tx) (err error) {
		n, err = s.Next(context.Background(), tx, series)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Concurrent transactions take consecutive numbers, each once; a
// transaction that rolls back gives its number back; each kind, region
// and year counts on its own.
func TestNumbering(t *testing.T) {
	testkit.ForEachEngine(t, "invoicing", func(t *testing.T, db *sqldb.DB) {
		s := open(t, db)
		ctx := context.Background()
		eu := domain.Series{Kind: domain.Invoice, Region: "EU", Year: 2031}
		const n = 100
		got := make([]int64, n)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				errs <- db.InTx(ctx, func(tx *sql.Tx) (err error) {
					got[i], err = s.Next(ctx, tx, eu)
					return err
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(got)
		for i, v := range got {
			if v != int64(i+1) {
				t.Fatalf("numbers %v: want 1..%d, each once", got, n)
			}
		}

		boom := errors.New("boom")
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if v, err := s.Next(ctx, tx, eu); err != nil || v != n+1 {
				t.Errorf("next %d %v", v, err)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if v := next(t, db, s, eu); v != n+1 {
			t.Errorf("after a rollback: %d, want %d again", v, n+1)
		}
		for _, other := range []domain.Series{
			{Kind: domain.CreditNote, Region: "EU", Year: 2031},
			{Kind: domain.Invoice, Region: "USA", Year: 2031},
			{Kind: domain.Invoice, Region: "EU", Year: 2032},
		} {
			if v := next(t, db, s, other); v != 1 {
				t.Errorf("%+v starts at %d", other, v)
			}
		}
	})
}

var at = time.Date(2031, 5, 20, 9, 0, 0, 0, time.UTC)

func doc(kind domain.Kind, seq int64, issued time.Time, customer, caseID string) store.Document {
	series := domain.Series{Kind: kind, Region: "EU", Year: issued.Year()}
	number, _ := series.Number(seq)
	d := store.Document{ID: uuid.NewString(), Number: number, Series: series, Seq: seq, CaseID: caseID,
		PaymentID: uuid.NewString(), CustomerID: customer, IssuedAt: issued, Currency: "EUR",
		Seller: store.Seller{Name: "Second Opinion", Address: "1 Rue", TaxID: "FR0"},
		Buyer:  store.Buyer{Name: "Ada Lovelace"},
		Lines:  []domain.Line{{Kind: domain.ServiceLine, Description: "Medical second opinion — Cardiology, standard", Amount: 10000}, {Kind: domain.TaxLine, Description: "Tax 20%", Amount: 2000, TaxRate: 2000}},
		Totals: domain.Totals{Net: 10000, Tax: 2000, Total: 12000}}
	if kind == domain.CreditNote {
		d.RefundID, d.CreditedInvoiceID, d.CreditedNumber = uuid.NewString(), uuid.NewString(), "INV-EU-2031-000001"
		d.Totals = domain.Totals{Net: -5000, Tax: -1000, Total: -6000}
	}
	return d
}

func insert(t *testing.T, db *sqldb.DB, s *store.Store, ds ...store.Document) error {
	t.Helper()
	return db.InTx(context.Background(), func(tx *sql.Tx) error {
		for _, d := range ds {
			if err := s.Insert(context.Background(), tx, d); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestDocuments(t *testing.T) {
	testkit.ForEachEngine(t, "invoicing", func(t *testing.T, db *sqldb.DB) {
		s := open(t, db)
		ctx := context.Background()
		ada, bob, caseA := uuid.NewString(), uuid.NewString(), uuid.NewString()
		inv := doc(domain.Invoice, 1, at, ada, caseA)
		if err := insert(t, db, s, inv); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, inv.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Number != inv.Number || !got.IssuedAt.Equal(at) || got.Buyer != inv.Buyer || got.Seller != inv.Seller ||
			!slices.Equal(got.Lines, inv.Lines) || got.Totals != inv.Totals || got.Series != inv.Series {
			t.Errorf("read back %+v, wrote %+v", got, inv)
		}
		if _, err := s.Get(ctx, uuid.NewString()); !fault.Is(err, fault.KindNotFound) {
			t.Errorf("missing: %v", err)
		}
		if _, err := s.Get(ctx, "nope"); !fault.Is(err, fault.KindNotFound) {
			t.Errorf("not an id: %v", err)
		}
		if d, found, err := s.Invoice(ctx, db, inv.PaymentID); err != nil || !found || d.ID != inv.ID {
			t.Errorf("by payment: %v %v", found, err)
		}

		// A second invoice of the payment, or a number given twice, is refused.
		again := doc(domain.Invoice, 2, at, ada, caseA)
		again.PaymentID = inv.PaymentID
		if err := insert(t, db, s, again); !sqldb.IsUniqueViolation(err) {
			t.Errorf("a second invoice of a payment: %v", err)
		}
		twice := doc(domain.Invoice, 1, at, ada, caseA)
		if err := insert(t, db, s, twice); !sqldb.IsUniqueViolation(err) {
			t.Errorf("a number twice: %v", err)
		}

		cn := doc(domain.CreditNote, 1, at.Add(time.Hour), ada, caseA)
		cn.CreditedInvoiceID, cn.PaymentID = inv.ID, inv.PaymentID
		if err := insert(t, db, s, cn); err != nil {
			t.Fatal(err)
		}
		if credited, err := s.Credited(ctx, db, cn.RefundID); err != nil || !credited {
			t.Errorf("credited: %v %v", credited, err)
		}
		if sum, err := s.Credits(ctx, db, inv.ID); err != nil || sum != cn.Totals {
			t.Errorf("credits %+v %v", sum, err)
		}
		dup := doc(domain.CreditNote, 2, at, ada, caseA)
		dup.RefundID = cn.RefundID
		if err := insert(t, db, s, dup); !sqldb.IsUniqueViolation(err) {
			t.Errorf("a second credit note of a refund: %v", err)
		}

		// Pages, newest first; filters.
		var bobs []store.Document
		for i := range 5 {
			bobs = append(bobs, doc(domain.Invoice, int64(10+i), at.Add(time.Duration(i)*time.Minute), bob, ""))
		}
		if err := insert(t, db, s, bobs...); err != nil {
			t.Fatal(err)
		}
		var seen []string
		cursor := page.Cursor{}
		for pages := 0; ; pages++ {
			ds, next, err := s.List(ctx, store.Filter{CustomerID: bob}, cursor, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				seen = append(seen, d.Number)
			}
			if next == "" {
				break
			}
			if cursor, err = page.Decode(next); err != nil || pages > 5 {
				t.Fatal(err)
			}
		}
		if want := []string{"INV-EU-2031-000014", "INV-EU-2031-000013", "INV-EU-2031-000012", "INV-EU-2031-000011",
			"INV-EU-2031-000010"}; !slices.Equal(seen, want) {
			t.Errorf("bob's pages %v, want %v", seen, want)
		}
		for _, c := range []struct {
			f    store.Filter
			want int
		}{
			{store.Filter{}, 7}, {store.Filter{CustomerID: ada}, 2}, {store.Filter{CaseID: caseA}, 2},
			{store.Filter{Kind: domain.CreditNote}, 1}, {store.Filter{Kind: domain.Invoice, CustomerID: ada}, 1},
		} {
			if ds, _, err := s.List(ctx, c.f, page.Cursor{}, 100); err != nil || len(ds) != c.want {
				t.Errorf("%+v: %d %v, want %d", c.f, len(ds), err, c.want)
			}
		}

		// An erasure unlinks, and keeps the documents as issued.
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			if n, err := s.ForgetCustomer(ctx, tx, ada); err != nil || n != 2 {
				t.Errorf("forget customer: %d %v", n, err)
			}
			if n, err := s.ForgetCase(ctx, tx, caseA); err != nil || n != 2 {
				t.Errorf("forget case: %d %v", n, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		kept, err := s.Get(ctx, inv.ID)
		if err != nil || kept.CustomerID != "" || kept.CaseID != "" || kept.Number != inv.Number || kept.Buyer != inv.Buyer ||
			!slices.Equal(kept.Lines, inv.Lines) || kept.Totals != inv.Totals {
			t.Errorf("after the erasure: %+v %v", kept, err)
		}
		if n := testkit.CountContaining(t, db, "invoices", ada); n != 0 {
			t.Errorf("%d rows still name the erased patient", n)
		}
	})
}

func TestPendingRefunds(t *testing.T) {
	testkit.ForEachEngine(t, "invoicing", func(t *testing.T, db *sqldb.DB) {
		s := open(t, db)
		ctx := context.Background()
		payment := uuid.NewString()
		first := store.Pending{RefundID: uuid.NewString(), PaymentID: payment, Amount: 100, Currency: "EUR", ReceivedAt: at}
		second := store.Pending{RefundID: uuid.NewString(), PaymentID: payment, Amount: 200, Currency: "EUR", ReceivedAt: at.Add(time.Second)}
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			for _, p := range []store.Pending{second, first, first} {
				if err := s.Wait(ctx, tx, p); err != nil {
					return err
				}
			}
			return s.Wait(ctx, tx, store.Pending{RefundID: uuid.NewString(), PaymentID: uuid.NewString(), Amount: 1, Currency: "EUR", ReceivedAt: at})
		})
		if err != nil {
			t.Fatal(err)
		}
		ps, err := s.Waiting(ctx, db, payment)
		if err != nil || len(ps) != 2 || ps[0].RefundID != first.RefundID || ps[1].Amount != 200 || !ps[0].ReceivedAt.Equal(at) {
			t.Fatalf("waiting %+v %v", ps, err)
		}
		if w, err := s.IsWaiting(ctx, db, first.RefundID); err != nil || !w {
			t.Errorf("is waiting: %v %v", w, err)
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return s.Done(ctx, tx, first.RefundID) }); err != nil {
			t.Fatal(err)
		}
		if ps, _ := s.Waiting(ctx, db, payment); len(ps) != 1 || ps[0].RefundID != second.RefundID {
			t.Errorf("after done: %+v", ps)
		}
	})
}
