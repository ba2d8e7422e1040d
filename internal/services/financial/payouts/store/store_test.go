package store_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/payouts/domain"
	"github.com/secondopinion/platform/internal/services/financial/payouts/store"
)

// The rate table in force at an instant is the latest to take effect at or
// before it; an earning is unique per opinion and kind.
func TestRatesAndEarnings(t *testing.T) {
	testkit.ForEachEngine(t, "payouts", func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := store.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		s := store.New(db)
		from := time.Date(2031, 5, 10, 8, 30, 0, 123456000, time.UTC)
		next := domain.RateTable{ID: uuid.NewString(), Currency: "EUR", EffectiveFrom: from, Rates: []domain.Rate{
			{Level: vocab.Junior, Opinion: 1, ReviewerFee: 0}, {Level: vocab.Senior, Opinion: 2, ReviewerFee: 0},
			{Level: vocab.Expert, Opinion: 3, ReviewerFee: 0}, {Level: vocab.Distinguished, Opinion: 4, ReviewerFee: 0}}}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return s.AddRates(ctx, tx, next, "admin", from) }); err != nil {
			t.Fatal(err)
		}
		for at, want := range map[time.Time]int64{from.Add(-time.Microsecond): 12000, from: 2, from.Add(time.Hour): 2,
			time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC): 12000} {
			rt, err := s.RatesAt(ctx, s.DB(), at)
			if err != nil {
				t.Fatal(err)
			}
			if r, _ := rt.For(vocab.Senior); r.Opinion != want || len(rt.Rates) != 4 || rt.Rates[0].Level != vocab.Junior {
				t.Errorf("at %s: %+v, want SENIOR %d", at, rt, want)
			}
		}
		if _, err := s.RatesAt(ctx, s.DB(), time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
			t.Error("a rate table before any")
		}

		opinion := uuid.NewString()
		e := store.Earning{ProfessionalID: uuid.NewString(), OpinionID: opinion, CaseID: uuid.NewString(), Kind: domain.OpinionEarning,
			Level: vocab.Senior, Amount: 2, Currency: "EUR", RateTableID: next.ID, AccruedAt: from}
		var added []bool
		for range 2 {
			e.ID = uuid.NewString()
			if err := db.InTx(ctx, func(tx *sql.Tx) error {
				ok, err := s.AddEarning(ctx, tx, e)
				added = append(added, ok)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		if !added[0] || added[1] {
			t.Errorf("added %v, want the first only", added)
		}
		es, err := s.MonthEarnings(ctx, e.ProfessionalID, store.Range{From: from, To: from.Add(time.Nanosecond * 1000)})
		if err != nil || len(es) != 1 || !es[0].AccruedAt.Equal(from) || es[0].BatchID != "" {
			t.Errorf("earnings at the edge of the range: %+v %v", es, err)
		}
	})
}
