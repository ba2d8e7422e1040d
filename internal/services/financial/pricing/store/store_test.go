package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/secondopinion/platform/api/vocab"
	"github.com/secondopinion/platform/internal/kit/page"
	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/financial/pricing/domain"
)

// The contract both engines keep: the seeded catalogue, prices replaced
// in place, codes unique, lists paged in creation order, a code's limits
// held under concurrent redemptions, and erasures that leave counts.
func TestStore(t *testing.T) {
	testkit.ForEachEngine(t, "pricing", func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := Migrate(ctx, db); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		s := New(db)
		t.Run("catalogue", func(t *testing.T) { testCatalogue(t, s) })
		t.Run("discounts", func(t *testing.T) { testDiscounts(t, s) })
		t.Run("quotes", func(t *testing.T) { testQuotes(t, s) })
		t.Run("concurrent uses", func(t *testing.T) { testConcurrentUses(t, s) })
		t.Run("erasure", func(t *testing.T) { testErasure(t, s) })
	})
}

var now = time.Date(2030, 3, 1, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))

func inTx(t *testing.T, s *Store, fn func(tx *sql.Tx) error) error {
	t.Helper()
	return s.db.InTx(context.Background(), fn)
}

func testCatalogue(t *testing.T, s *Store) {
	ctx := context.Background()
	all, err := s.Catalogue(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * len(vocab.Specialties) * len(vocab.Urgencies); len(all) != want {
		t.Fatalf("%d seeded prices, want %d", len(all), want)
	}
	currency := map[string]string{"EU": "EUR", "UK": "GBP", "US": "USD"}
	tax := map[string]int{"EU": 2000, "UK": 2000, "US": 0}
	for _, region := range []string{"EU", "UK", "US"} {
		for _, sp := range vocab.Specialties {
			std, err := s.Price(ctx, s.db, region, string(sp), string(vocab.Standard))
			if err != nil {
				t.Fatalf("%s %s: %v", region, sp, err)
			}
			urgent, err := s.Price(ctx, s.db, region, string(sp), string(vocab.Urgent))
			if err != nil {
				t.Fatalf("%s %s urgent: %v", region, sp, err)
			}
			if std.Net <= 0 || urgent.Net <= std.Net || std.Currency != currency[region] || urgent.Currency != currency[region] ||
				std.TaxRate != tax[region] || std.UpdatedAt.IsZero() {
				t.Errorf("%s %s: %+v, urgent %+v", region, sp, std, urgent)
			}
		}
	}
	if p, _ := s.Price(ctx, s.db, "EU", "ONCOLOGY", "URGENT"); p.Net != 88_500 {
		t.Errorf("EU oncology urgent %d, want 88500", p.Net)
	}
	eu, err := s.Catalogue(ctx, "EU")
	if err != nil || len(eu) != 2*len(vocab.Specialties) || eu[0].Specialty != "CARDIOLOGY" || eu[0].Urgency != "STANDARD" {
		t.Errorf("EU: %d prices, first %+v, %v", len(eu), eu[0], err)
	}
	if _, err := s.Price(ctx, s.db, "JP", "ONCOLOGY", "URGENT"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unpriced region: %v", err)
	}

	set := Price{Region: "EU", Specialty: "ONCOLOGY", Urgency: "URGENT", Net: 90_000, Currency: "EUR", TaxRate: 1900, UpdatedAt: now}
	if err := inTx(t, s, func(tx *sql.Tx) error { return s.SetPrice(ctx, tx, set) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.Price(ctx, s.db, "EU", "ONCOLOGY", "URGENT")
	set.UpdatedAt = utc(now)
	if err != nil || got != set {
		t.Errorf("replaced: %+v, %v; want %+v", got, err, set)
	}
	jp := Price{Region: "JP", Specialty: "ONCOLOGY", Urgency: "URGENT", Net: 9_000_000, Currency: "JPY", TaxRate: 1000, UpdatedAt: now}
	if err := inTx(t, s, func(tx *sql.Tx) error { return s.SetPrice(ctx, tx, jp) }); err != nil {
		t.Fatal(err)
	}
	if cur, err := s.RegionCurrency(ctx, s.db, "JP", "ONCOLOGY", "URGENT"); err != nil || cur != "" {
		t.Errorf("a region of one price has no other currency: %q, %v", cur, err)
	}
	if cur, err := s.RegionCurrency(ctx, s.db, "JP", "ONCOLOGY", "STANDARD"); err != nil || cur != "JPY" {
		t.Errorf("JP's currency: %q, %v", cur, err)
	}
}

func discount(code string, maxUses, perPatient int) Discount {
	return Discount{ID: uuid.NewString(), CreatedAt: now, Discount: domain.Discount{Code: code, Kind: domain.Percent,
		Percent: 1000, ValidFrom: now, MaxUses: maxUses, MaxUsesPerPatient: perPatient}}
}

func create(t *testing.T, s *Store, d Discount) Discount {
	t.Helper()
	if err := inTx(t, s, func(tx *sql.Tx) error { return s.CreateDiscount(context.Background(), tx, d) }); err != nil {
		t.Fatal(err)
	}
	return d
}

func testDiscounts(t *testing.T, s *Store) {
	ctx := context.Background()
	fixed := Discount{ID: uuid.NewString(), CreatedAt: now.Add(time.Second), Discount: domain.Discount{Code: "FIVE-OFF",
		Kind: domain.Fixed, Amount: 500, Currency: "GBP", ValidFrom: now, ValidUntil: now.Add(time.Hour), MaxUses: 10, MaxUsesPerPatient: 2}}
	create(t, s, discount("LIST-A", 0, 0))
	create(t, s, fixed)
	if err := inTx(t, s, func(tx *sql.Tx) error { return s.CreateDiscount(ctx, tx, discount("FIVE-OFF", 0, 0)) }); !errors.Is(err, ErrCodeTaken) {
		t.Errorf("a taken code: %v", err)
	}
	got, err := s.DiscountByCode(ctx, s.db, "FIVE-OFF")
	want := fixed
	want.CreatedAt, want.ValidFrom, want.ValidUntil = utc(fixed.CreatedAt), utc(now), utc(now.Add(time.Hour))
	if err != nil || got != want {
		t.Errorf("read back %+v, %v; want %+v", got, err, want)
	}
	if open, err := s.DiscountByCode(ctx, s.db, "LIST-A"); err != nil || !open.ValidUntil.IsZero() {
		t.Errorf("a code without end: %+v, %v", open, err)
	}
	if _, err := s.DiscountByCode(ctx, s.db, "NOPE"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
	var codes []string
	var after page.Cursor
	for range 5 {
		items, next, err := s.Discounts(ctx, after, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range items {
			codes = append(codes, d.Code)
		}
		if next == "" {
			break
		}
		if after, err = page.Decode(next); err != nil {
			t.Fatal(err)
		}
	}
	if len(codes) != 2 || codes[0] != "LIST-A" || codes[1] != "FIVE-OFF" {
		t.Errorf("paged %v", codes)
	}
}

func quote(caseID, patient string, d *Discount) Quote {
	q := Quote{ID: uuid.NewString(), CaseID: caseID, PatientID: patient, Region: "EU", Specialty: "ONCOLOGY", Urgency: "URGENT",
		Currency: "EUR", Amounts: domain.Amounts{Net: 1000, Tax: 200, Total: 1200, TaxRate: 2000}, IssuedAt: now,
		ExpiresAt: now.Add(30 * time.Minute).Truncate(time.Second)}
	if d != nil {
		q.DiscountID, q.DiscountCode = d.ID, d.Code
	}
	return q
}

func add(t *testing.T, s *Store, q Quote) Quote {
	t.Helper()
	if err := inTx(t, s, func(tx *sql.Tx) error { return s.AddQuote(context.Background(), tx, q) }); err != nil {
		t.Fatal(err)
	}
	return q
}

func testQuotes(t *testing.T, s *Store) {
	ctx := context.Background()
	q := add(t, s, quote(uuid.NewString(), uuid.NewString(), nil))
	got, err := s.Quote(ctx, s.db, q.ID)
	want := q
	want.IssuedAt, want.ExpiresAt = utc(q.IssuedAt), utc(q.ExpiresAt)
	if err != nil || got != want {
		t.Errorf("read back %+v, %v; want %+v", got, err, want)
	}
	for i, wantFirst := range []bool{true, false} {
		var first bool
		err := inTx(t, s, func(tx *sql.Tx) (err error) {
			first, err = s.MarkRedeemed(ctx, tx, q.ID, now.Add(time.Duration(i)*time.Minute))
			return err
		})
		if err != nil || first != wantFirst {
			t.Errorf("redemption %d: first %v, %v", i, first, err)
		}
	}
	if got, _ := s.Quote(ctx, s.db, q.ID); !got.RedeemedAt.Equal(utc(now)) {
		t.Errorf("redeemed at %s, want the first redemption's %s", got.RedeemedAt, now)
	}
	if _, err := s.Quote(ctx, s.db, uuid.NewString()); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown quote: %v", err)
	}
}

// use redeems q's discount code in a transaction of its own.
func use(s *Store, d Discount, q Quote) error {
	ctx := context.Background()
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.MarkRedeemed(ctx, tx, q.ID, now); err != nil {
			return err
		}
		return s.UseDiscount(ctx, tx, d, q.ID, q.PatientID, now)
	})
}

func testConcurrentUses(t *testing.T, s *Store) {
	ctx := context.Background()
	// A code with one use: of many quotes redeemed at once, exactly one
	// gets it.
	once := create(t, s, discount("ONCE", 1, 0))
	const n = 8
	quotes := make([]Quote, n)
	for i := range quotes {
		quotes[i] = add(t, s, quote(uuid.NewString(), uuid.NewString(), &once))
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range quotes {
		wg.Go(func() { errs[i] = use(s, once, quotes[i]) })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrExhausted):
			t.Errorf("a losing redemption: %v", err)
		}
	}
	got, _ := s.DiscountByCode(ctx, s.db, "ONCE")
	if won != 1 || got.Uses != 1 {
		t.Errorf("%d redemptions won, %d uses counted; want 1 and 1", won, got.Uses)
	}

	// One use per patient: of one patient's quotes redeemed at once,
	// exactly one gets it; another patient still can.
	perPatient := create(t, s, discount("ONE-EACH", 0, 1))
	patient := uuid.NewString()
	for i := range quotes {
		quotes[i] = add(t, s, quote(uuid.NewString(), patient, &perPatient))
	}
	for i := range quotes {
		wg.Go(func() { errs[i] = use(s, perPatient, quotes[i]) })
	}
	wg.Wait()
	won = 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrPatientLimit):
			t.Errorf("a losing redemption: %v", err)
		}
	}
	if n, _ := s.PatientUses(ctx, s.db, perPatient.ID, patient); won != 1 || n != 1 {
		t.Errorf("%d redemptions won, %d counted for the patient; want 1 and 1", won, n)
	}
	if err := use(s, perPatient, add(t, s, quote(uuid.NewString(), uuid.NewString(), &perPatient))); err != nil {
		t.Errorf("another patient: %v", err)
	}
	if got, _ := s.DiscountByCode(ctx, s.db, "ONE-EACH"); got.Uses != 2 {
		t.Errorf("%d uses counted, want 2 (a refused use is rolled back)", got.Uses)
	}
}

func testErasure(t *testing.T, s *Store) {
	ctx := context.Background()
	d := create(t, s, discount("ERASE-ME", 0, 5))
	patient, other := uuid.NewString(), uuid.NewString()
	caseA, caseB := uuid.NewString(), uuid.NewString()
	qa := add(t, s, quote(caseA, patient, &d))
	add(t, s, quote(caseB, patient, nil))
	qo := add(t, s, quote(uuid.NewString(), other, &d))
	for _, q := range []Quote{qa, qo} {
		if err := use(s, d, q); err != nil {
			t.Fatal(err)
		}
	}
	err := inTx(t, s, func(tx *sql.Tx) error {
		n, err := s.EraseCase(ctx, tx, caseA)
		if n != 1 {
			t.Errorf("%d quotes of the case erased", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Quote(ctx, s.db, qa.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("an erased case's quote: %v", err)
	}
	err = inTx(t, s, func(tx *sql.Tx) error {
		n, err := s.ErasePatient(ctx, tx, patient)
		if n != 1 {
			t.Errorf("%d quotes of the patient erased", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := testkit.CountContaining(t, s.db, "quotes", patient); n != 0 {
		t.Errorf("%d quotes name the erased patient", n)
	}
	if n := testkit.CountContaining(t, s.db, "discount_redemptions", patient); n != 0 {
		t.Errorf("%d uses name the erased patient", n)
	}
	got, _ := s.DiscountByCode(ctx, s.db, "ERASE-ME")
	if n, _ := s.PatientUses(ctx, s.db, d.ID, other); got.Uses != 2 || n != 1 {
		t.Errorf("after the erasure: %d uses in all, %d by the other patient; want 2 and 1", got.Uses, n)
	}
	if _, err := s.Quote(ctx, s.db, qo.ID); err != nil {
		t.Errorf("another patient's quote: %v", err)
	}
}
