package store_test

import (
	"context"
	"database/sql"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/reporting/domain"
	"github.com/secondopinion/platform/internal/services/platform/reporting/store"
)

var t0 = time.Date(2031, 5, 1, 8, 0, 0, 0, time.UTC)

func forEachEngine(t *testing.T, fn func(t *testing.T, s *store.Store, db *sqldb.DB)) {
	testkit.ForEachEngine(t, "reporting", func(t *testing.T, db *sqldb.DB) {
		if err := store.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		fn(t, store.New(db), db)
	})
}

// write applies each write in its own transaction, as each event is.
func write(t *testing.T, db *sqldb.DB, writes ...func(context.Context, *sql.Tx) error) {
	t.Helper()
	for _, w := range writes {
		if err := db.InTx(context.Background(), func(tx *sql.Tx) error { return w(context.Background(), tx) }); err != nil {
			t.Fatal(err)
		}
	}
}

// history is the facts of one case's life, one write per event, and of a
// payment and refund without a case.
func history(s *store.Store, caseID, number string) []func(context.Context, *sql.Tx) error {
	first, second := uuid.NewString(), uuid.NewString()
	opinion, pro := uuid.NewString(), uuid.NewString()
	e1, e2, e3 := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
	e4 := uuid.Must(uuid.NewV7()).String()
	upsertCase := func(c store.Case) func(context.Context, *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error { return s.UpsertCase(ctx, tx, c) }
	}
	assignment := func(a store.Assignment) func(context.Context, *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error { return s.UpsertAssignment(ctx, tx, a) }
	}
	op := func(o store.Opinion) func(context.Context, *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error { return s.UpsertOpinion(ctx, tx, o) }
	}
	refund, payment, request := uuid.NewString(), uuid.NewString(), uuid.NewString()
	return []func(context.Context, *sql.Tx) error{
		upsertCase(store.Case{ID: caseID, Number: number, Status: "SUBMITTED", StatusAt: t0, StatusEvent: e1}),
		upsertCase(store.Case{ID: caseID, Number: number, Specialty: "CARDIOLOGY", Urgency: "URGENT", Submitted: t0}),
		// Two steps of one change share their time: the later event wins.
		upsertCase(store.Case{ID: caseID, Status: "AI_PROCESSING", StatusAt: t0.Add(time.Minute), StatusEvent: e2}),
		upsertCase(store.Case{ID: caseID, Status: "AWAITING_ASSIGNMENT", StatusAt: t0.Add(time.Minute), StatusEvent: e3}),
		func(ctx context.Context, tx *sql.Tx) error {
			return s.AddPayment(ctx, tx, store.Money{ID: payment, CaseID: caseID, Specialty: "CARDIOLOGY", Amount: 12000, Currency: "EUR", At: t0})
		},
		func(ctx context.Context, tx *sql.Tx) error {
			return s.AddAIRequest(ctx, tx, store.AIRequest{ID: request, CaseID: caseID, InputTokens: 900, OutputTokens: 100, At: t0.Add(time.Minute)})
		},
		// Its price, after it here, before it in reverse.
		func(ctx context.Context, tx *sql.Tx) error {
			return s.PriceAIRequest(ctx, tx, store.AIRequest{ID: request, CaseID: caseID, CostMicros: 1234, At: t0.Add(time.Minute)})
		},
		func(ctx context.Context, tx *sql.Tx) error {
			return s.AddEscalation(ctx, tx, e4, caseID, t0.Add(2*time.Hour))
		},
		assignment(store.Assignment{ID: first, CaseID: caseID, Claimed: t0.Add(3 * time.Hour)}),
		assignment(store.Assignment{ID: first, CaseID: caseID, Expired: t0.Add(27 * time.Hour)}),
		assignment(store.Assignment{ID: second, CaseID: caseID, Claimed: t0.Add(28 * time.Hour)}),
		op(store.Opinion{ID: opinion, CaseID: caseID, ProfessionalID: pro, Submitted: t0.Add(30 * time.Hour)}),
		// Resubmitted after changes: the first submission counts.
		op(store.Opinion{ID: opinion, CaseID: caseID, ProfessionalID: pro, Submitted: t0.Add(31 * time.Hour)}),
		op(store.Opinion{ID: opinion, CaseID: caseID, ProfessionalID: pro, Approved: t0.Add(32 * time.Hour)}),
		upsertCase(store.Case{ID: caseID, Status: "COMPLETED", StatusAt: t0.Add(32 * time.Hour),
			StatusEvent: uuid.Must(uuid.NewV7()).String(), Completed: t0.Add(32 * time.Hour)}),
		func(ctx context.Context, tx *sql.Tx) error {
			return s.AddRefund(ctx, tx, store.Money{ID: refund, PaymentID: payment, CaseID: caseID, Amount: 2000, Currency: "EUR", At: t0.Add(40 * time.Hour)})
		},
	}
}

func facts(t *testing.T, s *store.Store) domain.Facts {
	t.Helper()
	f, err := s.Facts(context.Background(), t0.Add(-time.Hour), t0.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFactsFromWrites(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store, db *sqldb.DB) {
		caseID := uuid.NewString()
		write(t, db, history(s, caseID, "EU-2031-ABC123")...)
		f := facts(t, s)
		if len(f.Cases) != 1 {
			t.Fatalf("cases %+v", f.Cases)
		}
		c := f.Cases[0]
		if c.Specialty != "CARDIOLOGY" || c.Status != "COMPLETED" || !c.At.Equal(t0) || !c.Claimed.Equal(t0.Add(3*time.Hour)) ||
			!c.Opinion.Equal(t0.Add(30*time.Hour)) || !c.Completed.Equal(t0.Add(32*time.Hour)) {
			t.Errorf("case %+v", c)
		}
		if len(f.Claims) != 2 || len(f.Breaches) != 1 || !f.Breaches[0].At.Equal(t0.Add(27*time.Hour)) ||
			f.Breaches[0].Specialty != "CARDIOLOGY" || len(f.Escalations) != 1 {
			t.Errorf("claims %+v, breaches %+v, escalations %+v", f.Claims, f.Breaches, f.Escalations)
		}
		if len(f.AI) != 1 || f.AI[0].CaseID != caseID || f.AI[0].InputTokens != 900 || f.AI[0].OutputTokens != 100 ||
			f.AI[0].CostMicros != 1234 || f.AI[0].Failed || f.AI[0].Specialty != "CARDIOLOGY" {
			t.Errorf("AI %+v", f.AI)
		}
		if len(f.Submitted) != 1 || !f.Submitted[0].At.Equal(t0.Add(30*time.Hour)) || len(f.Approved) != 1 {
			t.Errorf("opinions %+v %+v", f.Submitted, f.Approved)
		}
		if len(f.Payments) != 1 || f.Payments[0].Amount != 12000 || len(f.Refunds) != 1 || f.Refunds[0].Specialty != "CARDIOLOGY" {
			t.Errorf("money %+v %+v", f.Payments, f.Refunds)
		}
		// The window is half-open, on every fact.
		f, err := s.Facts(context.Background(), t0.Add(time.Millisecond), t0.Add(27*time.Hour))
		if err != nil || len(f.Cases) != 0 || len(f.Claims) != 1 || len(f.Breaches) != 0 || len(f.Payments) != 0 || len(f.AI) != 1 {
			t.Errorf("narrow window %+v, %v", f, err)
		}
	})
}

// Each event applied twice, and the events in reverse order, give the
// same facts: redelivery and a rebuild beside the live consumer are safe.
func TestWritesAreIdempotentAndOrderFree(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store, db *sqldb.DB) {
		caseID := uuid.NewString()
		h := history(s, caseID, "EU-2031-ABC123")
		write(t, db, h...)
		want := facts(t, s)
		write(t, db, h...)
		if got := facts(t, s); !reflect.DeepEqual(got, want) {
			t.Errorf("applied twice:\n%+v\nwant\n%+v", got, want)
		}
		if err := s.Reset(context.Background()); err != nil {
			t.Fatal(err)
		}
		if f := facts(t, s); len(f.Cases)+len(f.Claims)+len(f.AI)+len(f.Payments)+len(f.Refunds)+len(f.Submitted) != 0 {
			t.Fatalf("reset left %+v", f)
		}
		for i := len(h) - 1; i >= 0; i-- {
			write(t, db, h[i])
		}
		if got := facts(t, s); !reflect.DeepEqual(got, want) {
			t.Errorf("in reverse order:\n%+v\nwant\n%+v", got, want)
		}
	})
}

// A request's tokens and its price make one fact, whichever comes first;
// until both came, the one missing reads as 0.
func TestAIRequestAndItsPriceInEitherOrder(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store, db *sqldb.DB) {
		caseID := uuid.NewString()
		requestFirst, priceFirst := uuid.NewString(), uuid.NewString()
		request := func(id string) func(context.Context, *sql.Tx) error {
			return func(ctx context.Context, tx *sql.Tx) error {
				return s.AddAIRequest(ctx, tx, store.AIRequest{ID: id, CaseID: caseID, Failed: true, InputTokens: 70,
					OutputTokens: 30, At: t0})
			}
		}
		price := func(id string) func(context.Context, *sql.Tx) error {
			return func(ctx context.Context, tx *sql.Tx) error {
				return s.PriceAIRequest(ctx, tx, store.AIRequest{ID: id, CaseID: caseID, Failed: true, CostMicros: 555, At: t0})
			}
		}
		write(t, db, request(requestFirst), price(priceFirst))
		f := facts(t, s)
		if len(f.AI) != 2 || f.AI[0].InputTokens+f.AI[1].InputTokens != 70 || f.AI[0].CostMicros+f.AI[1].CostMicros != 555 {
			t.Errorf("halves %+v", f.AI)
		}
		write(t, db, price(requestFirst), request(priceFirst), request(priceFirst), price(requestFirst))
		f = facts(t, s)
		if len(f.AI) != 2 || f.AI[0] != f.AI[1] {
			t.Fatalf("the two orders differ: %+v", f.AI)
		}
		if r := f.AI[0]; r.CaseID != caseID || !r.Failed || r.InputTokens != 70 || r.OutputTokens != 30 || r.CostMicros != 555 ||
			!r.At.Equal(t0) {
			t.Errorf("request %+v", r)
		}
	})
}

func TestEraseKeepsTheFiguresUnderAPseudonym(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store, db *sqldb.DB) {
		ctx := context.Background()
		caseID, other := uuid.NewString(), uuid.NewString()
		write(t, db, history(s, caseID, "EU-2031-ABC123")...)
		write(t, db, history(s, other, "EU-2031-XYZ789")...)
		before := facts(t, s)
		pseudonym := domain.Pseudonym(caseID)
		var number string
		write(t, db, func(ctx context.Context, tx *sql.Tx) error {
			var err error
			number, err = s.Erase(ctx, tx, caseID, pseudonym)
			return err
		})
		if number != "EU-2031-ABC123" {
			t.Errorf("erased number %q", number)
		}
		after := facts(t, s)
		for i := range after.AI {
			after.AI[i].CaseID, before.AI[i].CaseID = "", ""
		}
		if !reflect.DeepEqual(after, before) {
			t.Errorf("erasure changed the facts:\n%+v\nwas\n%+v", after, before)
		}
		if found := testkit.Search(t, db, caseID, "ABC123"); len(found) != 0 {
			t.Errorf("the erased case is still in %v", found)
		}
		if found := testkit.Search(t, db, other); len(found) == 0 {
			t.Error("the other case went too")
		}
		write(t, db, func(ctx context.Context, tx *sql.Tx) error {
			for id, want := range map[string]string{caseID: pseudonym, other: other, pseudonym: pseudonym, "": ""} {
				if key, err := s.CaseKey(ctx, tx, id); err != nil || key != want {
					t.Errorf("key of %q = %q, %v; want %q", id, key, err, want)
				}
			}
			return nil
		})
		if err := s.Reset(ctx); err != nil {
			t.Fatal(err)
		}
		write(t, db, func(ctx context.Context, tx *sql.Tx) error {
			if key, err := s.CaseKey(ctx, tx, caseID); err != nil || key != caseID {
				t.Errorf("after a reset, key %q, %v: the replayed erasure restores it", key, err)
			}
			return nil
		})
	})
}
