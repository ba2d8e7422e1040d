package reporting_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/secondopinion/platform/internal/kit/sqldb"
	"github.com/secondopinion/platform/internal/kit/testkit"
	"github.com/secondopinion/platform/internal/services/platform/reporting"
)

var queries = []string{twoDays, twoDays + "&specialty=ONCOLOGY", twoDays + "&specialty=CARDIOLOGY",
	"?from=2031-01-01&to=2031-06-01", ""}

// answers are the overviews of every query, as served.
func (h *harness) answers() []string {
	h.t.Helper()
	var out []string
	for _, q := range queries {
		r := h.get("admin", "/api/v1/reports/overview"+q)
		out = append(out, string(r.body))
	}
	return out
}

// The erasure of a patient and their cases leaves every figure as it was,
// and neither their id, their cases' ids nor the cases' numbers anywhere
// in the store, the journal included.
func TestErasureKeepsTheFigures(t *testing.T) {
	testkit.ForEachEngine(t, reporting.Name, func(t *testing.T, db *sqldb.DB) {
		h := start(t, db)
		w := newWorld(t)
		h.consume(w.beforeErasure...)
		before := h.overview(twoDays)
		if found := testkit.Search(t, db, w.patient2, w.caseB, w.numberB); found["journal"] == 0 || found["cases"] == 0 {
			t.Fatalf("the history is not where the test looks: %v", found)
		}
		h.consume(w.erasures...)
		if after := h.overview(twoDays); !same(t, after, before) {
			t.Errorf("the erasure changed the figures")
		}
		h.consume(w.late...)
		if found := testkit.Search(t, db, w.patient2, w.caseB, w.caseC, w.numberB, "EU-2031-CCCCCC"); len(found) != 0 {
			t.Errorf("the erased are still in %v", found)
		}
		if found := testkit.Search(t, db, w.patient1, w.caseA, "EU-2031-AAAAAA"); found["journal"] == 0 || found["cases"] == 0 {
			t.Errorf("the other patient's case went too: %v", found)
		}
	})
}

func same(t *testing.T, a, b reporting.ReportOverview) bool {
	t.Helper()
	x, y := jsonOf(t, a), jsonOf(t, b)
	if x != y {
		t.Logf("%s\nwas\n%s", x, y)
	}
	return x == y
}

// Replaying the journal into an empty store gives the live answers, and
// so does rebuilding the live store in place.
func TestRebuildGivesTheLiveAnswers(t *testing.T) {
	testkit.ForEachEngine(t, reporting.Name, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		live := start(t, db)
		w := newWorld(t)
		live.consume(w.all()...)
		want := live.answers()

		empty := testkit.OpenDB(t, db.Engine, reporting.Name)
		fresh := start(t, empty)
		if got := fresh.answers(); got[0] == want[0] {
			t.Fatal("an empty store answers as the live one")
		}
		copyJournal(t, db, empty)
		var done, total int64
		if err := reporting.Rebuild(ctx, empty, func(d, n int64) { done, total = d, n }); err != nil {
			t.Fatal(err)
		}
		if n := int64(len(w.all())); done != n || total != n {
			t.Errorf("progress %d/%d, want %d events", done, total, n)
		}
		for i, got := range fresh.answers() {
			if got != want[i] {
				t.Errorf("rebuilt%s:\n%s\nlive:\n%s", queries[i], got, want[i])
			}
		}

		if err := live.svc.Rebuild(ctx, nil); err != nil {
			t.Fatal(err)
		}
		for i, got := range live.answers() {
			if got != want[i] {
				t.Errorf("rebuilt in place%s:\n%s\nlive:\n%s", queries[i], got, want[i])
			}
		}
		if found := testkit.Search(t, db, w.patient2, w.caseB, w.caseC, w.numberB); len(found) != 0 {
			t.Errorf("the rebuild brought the erased back: %v", found)
		}
	})
}

// copyJournal copies the journal of one store into another, in order.
func copyJournal(t *testing.T, from, to *sqldb.DB) {
	t.Helper()
	ctx := context.Background()
	rows, err := from.QueryContext(ctx, `SELECT event_id, event_type, aggregate_id, envelope, recorded_at FROM journal ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	err = to.InTx(ctx, func(tx *sql.Tx) error {
		for rows.Next() {
			var id, typ, aggregate, envelope string
			var at time.Time
			if err := rows.Scan(&id, &typ, &aggregate, &envelope, &at); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO journal (event_id, event_type, aggregate_id, envelope, recorded_at)
				VALUES ($1, $2, $3, $4, $5)`, id, typ, aggregate, envelope, at); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}
